// checkpoint: a run directory's checkpoint on disk, never absent. RUN/checkpoint is a symbolic link to
// RUN/checkpoints/step-NNNNNNNN/, a complete Hugging Face directory (+ optimizer.safetensors,
// trainer.json written last). A save writes the new step directory in full (each file fsynced), makes a
// new link beside the old one and renames it over RUN/checkpoint (a rename replaces a link atomically),
// then removes the older step directories: at every moment RUN/checkpoint names a complete checkpoint.
// A run owns only what it wrote: RUN/checkpoints.json lists the step directories the package created in
// RUN (a step is listed before its directory is made), and a save or a recovery removes only listed
// directories; anything else in RUN/checkpoints/ (a user's notes, an older layout) is left alone, and
// RUN/checkpoints/ itself must be a real directory inside RUN, never a link to elsewhere. A save keeps the
// newest `keep` steps (train --keep-checkpoints N, recorded in the manifest; 1 by default) and removes the
// run's older ones. Each step directory's digests.json (src/node/digests.ts, written after trainer.json)
// holds the sha256 of its files; checkStep() verifies them (and that the files a resume reads are there),
// and olderSteps() names the kept steps a damaged checkpoint can be resumed from (resumeFrom()).
// recoverCheckpoint() tidies what a kill leaves (half-written listed steps, a stray link) and, if
// RUN/checkpoint is missing or dangling (an older layout, or a hand-made mess), points it at the newest
// complete step directory. INHERITUNE_CRASH_AT=write:N|swap:N (a test hook, documented in docs/architecture.md)
// kills the process with SIGKILL in the N-th save, after its first file or just before the link swap.
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, readlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { writeSafetensors, type TensorWrite } from '../formats/stwrite.js';
import { writeFileAtomic } from './atomic.js';
import { readRegularText } from './bytes.js';
import { StepDigests, checkDigests } from './digests.js';
import { Progress } from '../util/progress.js';
import { fail } from '../util/errors.js';

const LAST = 'trainer.json'; // written last: its presence marks a complete step directory

let saves = 0;
function crashPoint(point: 'write' | 'swap'): void {
  const spec = process.env.INHERITUNE_CRASH_AT;
  if (!spec) return;
  const [at, n] = spec.split(':');
  if (point === 'write') saves++;
  if (at === point && saves === Number(n ?? 1)) process.kill(process.pid, 'SIGKILL');
}

/** the file that lists the step directories the package wrote in a run directory */
export const MANIFEST = 'checkpoints.json';
const STEP = /^step-\d{8}$/;

interface Manifest { format: string; steps: string[]; keep?: number }

/** RUN/checkpoints.json: the step directories listed ([] when there is none: nothing was written by this package's saves) and the steps a save keeps */
function readManifest(run: string): { steps: string[]; keep: number } {
  const path = join(run, MANIFEST);
  if (!existsSync(path)) return { steps: [], keep: 1 };
  let m: Partial<Manifest>;
  try { m = JSON.parse(readRegularText(path, 'checkpoint manifest')) as Partial<Manifest>; } catch { m = {}; }
  if (!Array.isArray(m.steps) || !m.steps.every((d) => typeof d === 'string' && STEP.test(d)) || (m.keep !== undefined && !(Number.isInteger(m.keep) && m.keep >= 1))) {
    fail(`${path} is damaged: it does not list step directories`, `restore it, or remove it (nothing in ${join(run, 'checkpoints')} is then removed by the run) and --resume again`);
  }
  return { steps: [...new Set(m.steps)], keep: m.keep ?? 1 };
}

/** the step directories listed in RUN/checkpoints.json */
export const ownedSteps = (run: string): string[] => readManifest(run).steps;

function writeManifest(run: string, steps: string[], keep = readManifest(run).keep): void {
  writeFileAtomic(join(run, MANIFEST), JSON.stringify({ format: 'inheritune-rt checkpoints: the step directories this run wrote; only these are ever removed', steps: [...steps].sort(), keep }, null, 1) + '\n');
}

/** RUN/checkpoints as a real directory inside RUN (created if missing); a link out of the run is refused, never followed */
function stepsDir(run: string): string {
  const steps = join(run, 'checkpoints');
  if (!existsSync(steps) && !isLink(steps)) { mkdirSync(steps, { recursive: true }); return steps; }
  if (isLink(steps)) fail(`${steps} is a link (to ${readlinkSync(steps)}): a run writes and removes checkpoints only inside its own --out`, `remove the link (what it points at is kept), or pass another --out`);
  if (!lstatSync(steps).isDirectory()) fail(`${steps} is not a directory`, 'move it away, or pass another --out');
  return steps;
}

const isLink = (p: string): boolean => { try { return lstatSync(p).isSymbolicLink(); } catch { return false; } };
const isRealDir = (p: string): boolean => { try { return lstatSync(p).isDirectory(); } catch { return false; } };

/** remove a listed step directory (only a real directory: a link a user put in its place is left, and so is what it names) */
function removeStep(steps: string, d: string): void {
  if (isRealDir(join(steps, d))) rmSync(join(steps, d), { recursive: true, force: true });
}

/** a safetensors file (or shards) written tensor by tensor into the step directory (src/formats/stwrite.ts) */
export interface TensorFile { writes: TensorWrite[]; maxShardSize?: number; fileName?: string; metadata?: Record<string, string> }

/**
 * write `files` (and the model's weights, tensor by tensor: model.safetensors, or shards + index above
 * maxShardSize, src/formats/stwrite.ts) as the checkpoint of step `step` of run directory `run` (see the
 * header); `keep`: the newest steps kept (default: what the run's manifest says, else 1)
 */
export async function saveCheckpoint(run: string, step: number, files: Record<string, Uint8Array[]>, tensors: TensorFile | TensorFile[] = [],
                                     progress: ((s: string) => void) | null = null, keep?: number): Promise<void> {
  if (keep !== undefined && !(Number.isInteger(keep) && keep >= 1)) fail(`keep ${keep}: expected an integer >= 1 (the newest checkpoints kept)`);
  const streams = Array.isArray(tensors) ? tensors : [tensors], total = streams.reduce((a, s) => a + s.writes.length, 0);
  const bar = new Progress('save', total, progress);
  let base = 0;
  const steps = stepsDir(run), { steps: owned, keep: kept } = readManifest(run);
  keep ??= kept;
  const name = `step-${String(step).padStart(8, '0')}`, dir = join(steps, name);
  if (!owned.includes(name)) {
    if (existsSync(dir) || isLink(dir)) fail(`${dir} exists and was not written by this run (${join(run, MANIFEST)} does not list it)`, `move it out of ${steps}, or pass another --out`);
    writeManifest(run, [...owned, name], keep); // listed first: a kill from here on leaves only what the run may remove
  }
  removeStep(steps, name);                  // a half-written directory of the same step (a kill, then a run that did not resume)
  mkdirSync(dir, { recursive: true });
  const digests = new StepDigests();       // each file's sha256, from the bytes as they are written
  const order = [...Object.keys(files).filter((f) => f !== LAST)];
  order.forEach((f, i) => {
    digests.writeFile(join(dir, f), files[f]);
    if (i === 0) crashPoint('write');
  });
  for (const w of streams) {
    await writeSafetensors(w.writes, (f) => digests.sink(join(dir, f)), { ...w, onTensor: (d) => bar.update(base + d, 'tensors') });
    base += w.writes.length;
  }
  if (files[LAST]) digests.writeFile(join(dir, LAST), files[LAST]);
  digests.save(dir);
  const link = join(run, `.checkpoint.link-${process.pid}`);
  rmSync(link, { force: true });
  symlinkSync(join('checkpoints', name), link);
  crashPoint('swap');
  const ck = join(run, 'checkpoint');
  if (existsSync(ck) && !isLink(ck)) renameSync(ck, join(steps, 'legacy')); // an older layout, once (kept, not removed)
  renameSync(link, ck);
  prune(run, steps, ownedSteps(run), name, keep);
}

const complete = (steps: string, d: string) => isRealDir(join(steps, d)) && existsSync(join(steps, d, LAST));

/**
 * remove the step directories of `owned` but `current` and the newest keep - 1 complete ones older than it,
 * then list only those (a kill midway leaves the rest listed)
 */
function prune(run: string, steps: string, owned: string[], current: string, keep: number): void {
  const kept = [current, ...owned.filter((d) => d < current && complete(steps, d)).sort().reverse().slice(0, keep - 1)];
  for (const d of owned) if (!kept.includes(d)) removeStep(steps, d);
  writeManifest(run, kept, keep);
}

/** the step directories RUN/checkpoints.json lists that are gone or incomplete (a run whose checkpoints were lost, not one that never saved) */
export function lostSteps(run: string): string[] {
  try { return readManifest(run).steps.filter((d) => !existsSync(join(run, 'checkpoints', d, LAST))); } catch { return []; }
}

/** RUN/checkpoints holds a complete step directory (the link to it may be lost): a run to resume */
export function hasCompleteStep(run: string): boolean {
  const steps = join(run, 'checkpoints');
  return isRealDir(steps) && readdirSync(steps).some((d) => STEP.test(d) && existsSync(join(steps, d, LAST)));
}

/**
 * after a kill: drop stray links and half-written listed steps; make RUN/checkpoint name the newest
 * complete step. A run from before RUN/checkpoints.json (none there) adopts the step its link names,
 * and nothing else in RUN/checkpoints/ is removed.
 */
export function recoverCheckpoint(run: string): void {
  if (!existsSync(run)) return;
  for (const f of readdirSync(run)) if (/^\.checkpoint\.link-\d+$/.test(f) && isLink(join(run, f))) rmSync(join(run, f), { force: true });
  const ck = join(run, 'checkpoint');
  if (existsSync(ck) && !isLink(ck)) return;                                         // an older, plain directory: leave it
  if (!existsSync(join(run, 'checkpoints')) && !isLink(join(run, 'checkpoints'))) return; // nothing was ever saved
  const steps = stepsDir(run);
  const complete = (d: string) => isRealDir(join(steps, d)) && existsSync(join(steps, d, LAST));
  const { keep: policy } = readManifest(run);
  const current = isLink(ck) ? readlinkSync(ck).split(/[/\\]/).pop()! : undefined;
  let owned = ownedSteps(run);
  if (!existsSync(join(run, MANIFEST)) && current && STEP.test(current) && complete(current)) owned = [current];
  let keep = current && owned.includes(current) && complete(current) ? current : undefined;
  // a lost or dangling link: the newest complete step this run wrote (or, with no list, the newest complete step-N)
  keep ??= (owned.length ? owned : readdirSync(steps).filter((d) => STEP.test(d))).filter(complete).sort().at(-1);
  if (!keep) return;
  if (keep !== current) {
    rmSync(ck, { force: true });
    symlinkSync(join('checkpoints', keep), ck);
  }
  // half-written steps and steps newer than the one resumed go; older kept ones stay (the next save applies the keep policy)
  const stay = [keep, ...owned.filter((d) => d < keep! && complete(d))];
  for (const d of owned) if (!stay.includes(d)) removeStep(steps, d);
  writeManifest(run, stay, policy);
}

/** the files a resume reads from a step directory: one missing is named */
const NEEDED = ['config.json', 'optimizer.safetensors', LAST];

/**
 * what is wrong with step directory `dir` (null: nothing): a file a resume needs is missing, or a file
 * does not match its digest (checkpoints from before digests.json are checked for their files only)
 */
export function checkStep(dir: string): string | null {
  const damaged = checkDigests(dir);
  if (damaged) return damaged;
  for (const f of NEEDED) if (!existsSync(join(dir, f))) return `${join(dir, f)} is missing`;
  if (!existsSync(join(dir, 'model.safetensors')) && !existsSync(join(dir, 'model.safetensors.index.json'))) return `${join(dir, 'model.safetensors')} is missing`;
  return null;
}

/** the run's complete step directories older than `than` (a step name), newest first, as paths (the ones its manifest lists, or with none, any) */
export function olderSteps(run: string, than: string): string[] {
  const steps = join(run, 'checkpoints');
  if (!isRealDir(steps)) return [];
  const owned = existsSync(join(run, MANIFEST)) ? ownedSteps(run) : readdirSync(steps).filter((d) => STEP.test(d));
  return owned.filter((d) => d < than && complete(steps, d)).sort().reverse().map((d) => join(steps, d));
}

/** the step directory RUN/checkpoint names (undefined: none) */
export function currentStep(run: string): string | undefined {
  const ck = join(run, 'checkpoint');
  return isLink(ck) ? readlinkSync(ck).split(/[/\\]/).pop()! : undefined;
}

/**
 * resume the run from an older kept step directory `dir` (train --resume-from): RUN/checkpoint is
 * re-pointed at it (atomically), and the recovery that follows removes the run's newer steps
 */
export function resumeFrom(run: string, dir: string): void {
  // DIR as a path (from here, or from the run directory), or the step directory's bare name
  const name = basename(resolve(dir)), steps = join(run, 'checkpoints'), at = resolve(steps, name);
  const listed = existsSync(join(run, MANIFEST)) ? ownedSteps(run).includes(name) : STEP.test(name);
  if (!STEP.test(name) || ![resolve(dir), resolve(run, dir), resolve(steps, dir)].includes(at) || !listed) {
    fail(`--resume-from ${dir} is not a step directory of the run in ${run}`, `pass one of ${join(steps, 'step-NNNNNNNN')} that ${join(run, MANIFEST)} lists`);
  }
  if (!complete(stepsDir(run), name)) fail(`--resume-from ${dir}: that step directory is not complete (it has no ${LAST})`, 'pass an older step directory, or --force to start over');
  const ck = join(run, 'checkpoint');
  if (existsSync(ck) && !isLink(ck)) {
    fail(`--resume-from ${dir}: ${ck} is a directory, not the link to a step this version writes (a run from an older version)`,
      `move ${ck} out of the run (it is that run's last checkpoint), then pass --resume-from again`);
  }
  const link = join(run, `.checkpoint.link-${process.pid}`);
  rmSync(link, { force: true });
  symlinkSync(join('checkpoints', name), link);
  renameSync(link, ck);
}
