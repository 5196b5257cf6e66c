// checkpoint: a run directory's checkpoint on disk, never absent. RUN/checkpoint is a symbolic link to
// RUN/checkpoints/step-NNNNNNNN/, a complete Hugging Face directory (+ optimizer.safetensors,
// trainer.json written last). A save writes the new step directory in full (each file fsynced), makes a
// new link beside the old one and renames it over RUN/checkpoint (a rename replaces a link atomically),
// then removes the older step directories: at every moment RUN/checkpoint names a complete checkpoint.
// A run owns only what it wrote: RUN/checkpoints.json lists the step directories the package created in
// RUN (a step is listed before its directory is made), and a save or a recovery removes only listed
// directories; anything else in RUN/checkpoints/ (a user's notes, an older layout) is left alone, and
// RUN/checkpoints/ itself must be a real directory inside RUN, never a link to elsewhere.
// recoverCheckpoint() tidies what a kill leaves (half-written listed steps, a stray link) and, if
// RUN/checkpoint is missing or dangling (an older layout, or a hand-made mess), points it at the newest
// complete step directory. INHERITUNE_CRASH_AT=write:N|swap:N (a test hook, documented in docs/architecture.md)
// kills the process with SIGKILL in the N-th save, after its first file or just before the link swap.
import { existsSync, lstatSync, mkdirSync, openSync, writeSync, fsyncSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorWrite } from '../formats/stwrite.js';
import { fileSink, writeFileAtomic } from './atomic.js';
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

interface Manifest { format: string; steps: string[] }

/** the step directories listed in RUN/checkpoints.json ([] when there is none: nothing was written by this package's saves) */
export function ownedSteps(run: string): string[] {
  const path = join(run, MANIFEST);
  if (!existsSync(path)) return [];
  let m: Partial<Manifest>;
  try { m = JSON.parse(readFileSync(path, 'utf8')) as Partial<Manifest>; } catch { m = {}; }
  if (!Array.isArray(m.steps) || !m.steps.every((d) => typeof d === 'string' && STEP.test(d))) {
    fail(`${path} is damaged: it does not list step directories`, `restore it, or remove it (nothing in ${join(run, 'checkpoints')} is then removed by the run) and --resume again`);
  }
  return [...new Set(m.steps)];
}

function writeManifest(run: string, steps: string[]): void {
  writeFileAtomic(join(run, MANIFEST), JSON.stringify({ format: 'inheritune-rt checkpoints: the step directories this run wrote; only these are ever removed', steps: [...steps].sort() }, null, 1) + '\n');
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

/**
 * write `files` (and the model's weights, tensor by tensor: model.safetensors, or shards + index above
 * maxShardSize, src/formats/stwrite.ts) as the checkpoint of step `step` of run directory `run` (see the header)
 */
/** a safetensors file (or shards) written tensor by tensor into the step directory (src/formats/stwrite.ts) */
export interface TensorFile { writes: TensorWrite[]; maxShardSize?: number; fileName?: string; metadata?: Record<string, string> }

export async function saveCheckpoint(run: string, step: number, files: Record<string, Uint8Array[]>, tensors: TensorFile | TensorFile[] = [],
                                     progress: ((s: string) => void) | null = null): Promise<void> {
  const streams = Array.isArray(tensors) ? tensors : [tensors], total = streams.reduce((a, s) => a + s.writes.length, 0);
  const bar = new Progress('save', total, progress);
  let base = 0;
  const steps = stepsDir(run), owned = ownedSteps(run);
  const name = `step-${String(step).padStart(8, '0')}`, dir = join(steps, name);
  if (!owned.includes(name)) {
    if (existsSync(dir) || isLink(dir)) fail(`${dir} exists and was not written by this run (${join(run, MANIFEST)} does not list it)`, `move it out of ${steps}, or pass another --out`);
    writeManifest(run, [...owned, name]);   // listed first: a kill from here on leaves only what the run may remove
  }
  removeStep(steps, name);                  // a half-written directory of the same step (a kill, then a run that did not resume)
  mkdirSync(dir, { recursive: true });
  const order = [...Object.keys(files).filter((f) => f !== LAST)];
  order.forEach((f, i) => {
    writeFile(join(dir, f), files[f]);
    if (i === 0) crashPoint('write');
  });
  for (const w of streams) {
    await writeSafetensors(w.writes, (f) => fileSink(join(dir, f)), { ...w, onTensor: (d) => bar.update(base + d, 'tensors') });
    base += w.writes.length;
  }
  if (files[LAST]) writeFile(join(dir, LAST), files[LAST]);
  const link = join(run, `.checkpoint.link-${process.pid}`);
  rmSync(link, { force: true });
  symlinkSync(join('checkpoints', name), link);
  crashPoint('swap');
  const ck = join(run, 'checkpoint');
  if (existsSync(ck) && !isLink(ck)) renameSync(ck, join(steps, 'legacy')); // an older layout, once (kept, not removed)
  renameSync(link, ck);
  prune(run, steps, ownedSteps(run), name);
}

/** remove every step directory of `owned` but `keep`, then list only `keep` (a kill midway leaves the rest listed) */
function prune(run: string, steps: string, owned: string[], keep: string): void {
  for (const d of owned) if (d !== keep) removeStep(steps, d);
  writeManifest(run, [keep]);
}

/** RUN/checkpoints holds a complete step directory (the link to it may be lost): a run to resume */
export function hasCompleteStep(run: string): boolean {
  const steps = join(run, 'checkpoints');
  return isRealDir(steps) && readdirSync(steps).some((d) => STEP.test(d) && existsSync(join(steps, d, LAST)));
}

function writeFile(path: string, parts: Uint8Array[]): void {
  const fd = openSync(path, 'w');
  try { for (const p of parts) writeSync(fd, p); fsyncSync(fd); } finally { closeSync(fd); }
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
  prune(run, steps, owned, keep);
}
