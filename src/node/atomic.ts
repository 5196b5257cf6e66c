// node/atomic: writes that are whole or absent: a directory built in a temporary sibling and renamed over
// its place (models, exported directories), a small file through a temporary name (run.json), and the
// fsynced sink the safetensors writer streams into.
import { existsSync, mkdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, dirname, basename } from 'node:path';
import { writeSafetensors, type TensorWrite, type FileSink } from '../formats/stwrite.js';
import { Progress } from '../util/progress.js';
import { inside } from './bytes.js';

/**
 * Write files (each as parts) into dir atomically: everything goes to a temporary sibling
 * directory first, which then replaces dir, so a crash never leaves a half-written model.
 */
export function writeDirAtomic(dir: string, files: Record<string, Uint8Array[]>, hook?: (point: 'write' | 'swap') => void): void {
  const tmp = freshTmp(dir);
  let first = true;
  for (const [name, parts] of Object.entries(files)) {
    const fd = openSync(join(tmp, name), 'w');
    try { for (const p of parts) writeSync(fd, p); fsyncSync(fd); } finally { closeSync(fd); }
    if (first) { hook?.('write'); first = false; }
  }
  swapIn(tmp, dir, hook);
}

/**
 * writeDirAtomic for a model directory whose weights are written tensor by tensor (src/formats/stwrite.ts:
 * model.safetensors, or shards + model.safetensors.index.json above maxShardSize bytes). Returns the
 * weight files' names.
 */
export async function writeModelDirAtomic(dir: string, files: Record<string, Uint8Array[]>, writes: TensorWrite[], maxShardSize?: number,
                                         progress?: ((s: string) => void) | null): Promise<string[]> {
  const tmp = freshTmp(dir);
  try {
    for (const [name, parts] of Object.entries(files)) {
      const fd = openSync(join(tmp, name), 'w');
      try { for (const p of parts) writeSync(fd, p); fsyncSync(fd); } finally { closeSync(fd); }
    }
    const bar = new Progress('write', writes.length, progress ?? null);
    const names = await writeSafetensors(writes, (f) => fileSink(inside(tmp, f)), { maxShardSize, onTensor: (d) => bar.update(d, 'tensors') });
    swapIn(tmp, dir);
    return names;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** appended writes to a new file, fsynced on close */
export async function fileSink(path: string): Promise<FileSink> {
  const fh = await open(path, 'w');
  return {
    write: async (b) => {
      for (let at = 0; at < b.byteLength;) at += (await fh.write(b, at, b.byteLength - at)).bytesWritten;
    },
    close: async () => { try { await fh.sync(); } finally { await fh.close(); } },
  };
}

/** an empty temporary sibling of dir */
function freshTmp(dir: string): string {
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  return tmp;
}

/** tmp replaces dir (what was there is removed) */
function swapIn(tmp: string, dir: string, hook?: (point: 'write' | 'swap') => void): void {
  const old = join(dirname(dir), `.${basename(dir)}.old-${process.pid}`);
  if (existsSync(dir)) renameSync(dir, old);
  hook?.('swap');
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** write a small file whole or not at all (a temporary sibling, then a rename): run.json, report.json */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
