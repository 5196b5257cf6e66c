// checkpoint: a run directory's checkpoint on disk, never absent. RUN/checkpoint is a symbolic link to
// RUN/checkpoints/step-NNNNNNNN/, a complete Hugging Face directory (+ optimizer.safetensors,
// trainer.json written last). A save writes the new step directory in full (each file fsynced), makes a
// new link beside the old one and renames it over RUN/checkpoint (a rename replaces a link atomically),
// then removes the older step directories: at every moment RUN/checkpoint names a complete checkpoint.
// recoverCheckpoint() tidies what a kill leaves (half-written step directories, a stray link) and, if
// RUN/checkpoint is missing or dangling (an older layout, or a hand-made mess), points it at the newest
// complete step directory. INHERITUNE_CRASH_AT=write:N|swap:N (a test hook, documented in docs/architecture.md)
// kills the process with SIGKILL in the N-th save, after its first file or just before the link swap.
import { existsSync, lstatSync, mkdirSync, openSync, writeSync, fsyncSync, closeSync, readdirSync, renameSync, rmSync, symlinkSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorWrite } from '../formats/stwrite.js';
import { fileSink } from './files.js';
import { Progress } from '../util/progress.js';

const LAST = 'trainer.json'; // written last: its presence marks a complete step directory

let saves = 0;
function crashPoint(point: 'write' | 'swap'): void {
  const spec = process.env.INHERITUNE_CRASH_AT;
  if (!spec) return;
  const [at, n] = spec.split(':');
  if (point === 'write') saves++;
  if (at === point && saves === Number(n ?? 1)) process.kill(process.pid, 'SIGKILL');
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
  const name = `step-${String(step).padStart(8, '0')}`, dir = join(run, 'checkpoints', name);
  rmSync(dir, { recursive: true, force: true });
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
  if (existsSync(ck) && !lstatSync(ck).isSymbolicLink()) renameSync(ck, join(run, 'checkpoints', 'legacy')); // an older layout, once
  renameSync(link, ck);
  for (const d of readdirSync(join(run, 'checkpoints'))) if (d !== name) rmSync(join(run, 'checkpoints', d), { recursive: true, force: true });
}

function writeFile(path: string, parts: Uint8Array[]): void {
  const fd = openSync(path, 'w');
  try { for (const p of parts) writeSync(fd, p); fsyncSync(fd); } finally { closeSync(fd); }
}

/** after a kill: drop stray links and half-written steps; make RUN/checkpoint name the newest complete step */
export function recoverCheckpoint(run: string): void {
  if (!existsSync(run)) return;
  for (const f of readdirSync(run)) if (f.startsWith('.checkpoint.')) rmSync(join(run, f), { recursive: true, force: true });
  const steps = join(run, 'checkpoints'), ck = join(run, 'checkpoint');
  const complete = existsSync(steps) ? readdirSync(steps).filter((d) => existsSync(join(steps, d, LAST))).sort() : [];
  const current = existsSync(ck) && lstatSync(ck).isSymbolicLink() ? readlinkSync(ck).split(/[/\\]/).pop() : undefined;
  if (existsSync(ck) && !lstatSync(ck).isSymbolicLink()) return;                     // an older, plain directory: leave it
  if (!current || !existsSync(join(steps, current, LAST))) {
    const newest = complete.at(-1);
    if (!newest) return;                                                              // nothing was ever saved
    rmSync(ck, { force: true });
    symlinkSync(join('checkpoints', newest), ck);
  }
  const keep = realpathSync(ck).split(/[/\\]/).pop();
  if (existsSync(steps)) for (const d of readdirSync(steps)) if (d !== keep) rmSync(join(steps, d), { recursive: true, force: true });
}
