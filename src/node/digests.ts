// node/digests: sha256 of what a run depends on. A checkpoint's step directory records the digest of each
// of its files in digests.json (written last, beside trainer.json), computed from the bytes as they were
// written; --resume reads every file back and compares, so a damaged or missing file is named before
// anything is loaded. The training data's identity (recorded in trainer.json as `data`) is its resolved
// path, its bytes and a sha256: of every file whole when the data is at most WHOLE bytes (a text file is
// read whole to be tokenized anyway), else of each file's name, size and first and last MiB (a directory
// of shards can hold many GB: hashing it whole on every resume would cost minutes, while a re-pack, another
// directory or a changed file almost always changes a size, a header or an end); `digest_of` says which.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { FileSink } from '../formats/stwrite.js';
import { fileSink, writeFileAtomic } from './atomic.js';
import { listShards } from './pack.js';
import { openRegular, readRegularText } from './bytes.js';

/** the file in a step directory that lists the sha256 of every other file in it */
export const DIGESTS = 'digests.json';
const FORMAT = 'inheritune-rt checkpoint digests: the sha256 of each file of this step directory, as written';
const CHUNK = 1 << 20;
/** data up to this many bytes is hashed whole; above it, sampled (see the header) */
export const WHOLE = 256 * 1024 * 1024;

/** a file's sha256, read in 1 MiB chunks (or only its first and last MiB, with its size, when `sampled`) */
export function fileSha256(path: string, sampled = false): string {
  // a directory, FIFO or device where a file should be is refused by name, before it is read
  const { fd, size } = openRegular(path, 'checkpoint file');
  const h = createHash('sha256'), buf = new Uint8Array(CHUNK);
  try {
    const ranges: [number, number][] = sampled && size > 2 * CHUNK ? [[0, CHUNK], [size - CHUNK, size]] : [[0, size]];
    if (sampled) h.update(`${size}\n`);
    for (const [from, to] of ranges) {
      for (let at = from; at < to;) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, to - at), at);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        at += n;
      }
    }
  } finally { closeSync(fd); }
  return h.digest('hex');
}

/** what a step directory's files hash to, gathered as a save writes them */
export class StepDigests {
  private readonly sums: Record<string, string> = {};

  /** parts written to `path` (fsynced) and hashed */
  writeFile(path: string, parts: Uint8Array[]): void {
    const h = createHash('sha256'), fd = openSync(path, 'w');
    try { for (const p of parts) { writeSync(fd, p); h.update(p); } fsyncSync(fd); } finally { closeSync(fd); }
    this.sums[basename(path)] = h.digest('hex');
  }

  /** fileSink(path), hashing what goes through it */
  async sink(path: string): Promise<FileSink> {
    const s = await fileSink(path), h: Hash = createHash('sha256');
    return {
      write: async (b) => { h.update(b); await s.write(b); },
      close: async () => { await s.close(); this.sums[basename(path)] = h.digest('hex'); },
    };
  }

  /** DIR/digests.json, whole or absent */
  save(dir: string): void {
    const sorted = Object.fromEntries(Object.entries(this.sums).sort(([a], [b]) => (a < b ? -1 : 1)));
    writeFileAtomic(join(dir, DIGESTS), JSON.stringify({ format: FORMAT, sha256: sorted }, null, 1) + '\n');
  }
}

/** a step directory's recorded digests by file name: null when it has no digests.json (a checkpoint from before them); a damaged list is a problem */
export function readDigests(dir: string): { sums: Record<string, string> } | { problem: string } | null {
  const f = join(dir, DIGESTS);
  if (!existsSync(f)) return null;
  try {
    const j = JSON.parse(readRegularText(f, 'checkpoint digests')) as { sha256?: unknown };
    const s = j?.sha256;
    if (s && typeof s === 'object' && !Array.isArray(s) && Object.entries(s).every(([k, v]) => !/[/\\]/.test(k) && typeof v === 'string' && /^[0-9a-f]{64}$/.test(v))) return { sums: s as Record<string, string> };
  } catch { /* reported below */ }
  return { problem: `${f} is damaged: it is not a list of file names and sha256 digests` };
}

/** the first file of step directory `dir` that is missing or does not match its recorded digest (null: all match, or none are recorded) */
export function checkDigests(dir: string): string | null {
  const d = readDigests(dir);
  if (d === null) return null;
  if ('problem' in d) return d.problem;
  for (const [name, sum] of Object.entries(d.sums)) {
    const f = join(dir, name);
    if (!existsSync(f)) return `${f} is missing (${DIGESTS} lists it)`;
    const got = fileSha256(f);
    if (got !== sum) return `${f} does not match its digest in ${DIGESTS} (sha256 ${got.slice(0, 16)}…, recorded ${sum.slice(0, 16)}…)`;
  }
  return null;
}

/** the training data's identity, as trainer.json records it (see the header) */
export interface DataIdentity { path: string; bytes: number; files: number; sha256: string; digest_of: 'whole files' | 'each file\'s name, size, first and last MiB' }

/** the identity of --text: a file, or a directory of shards (its training shards and data_pack.json) */
export async function dataIdentity(path: string): Promise<DataIdentity> {
  const abs = resolve(path);
  const files = statSync(abs).isDirectory()
    ? [...(existsSync(join(abs, 'data_pack.json')) ? [join(abs, 'data_pack.json')] : []), ...await listShards(abs, 'train')]
    : [abs];
  const sizes = files.map((f) => statSync(f).size), bytes = sizes.reduce((a, n) => a + n, 0);
  const sampled = bytes > WHOLE;
  const h = createHash('sha256');
  files.forEach((f, i) => h.update(`${basename(f)}\n${sizes[i]}\n${fileSha256(f, sampled)}\n`));
  return { path: abs, bytes, files: files.length, sha256: h.digest('hex'), digest_of: sampled ? 'each file\'s name, size, first and last MiB' : 'whole files' };
}

/** the same data: the same bytes and digest (a moved copy is the same data) */
export const sameData = (a: DataIdentity, b: DataIdentity): boolean => a.bytes === b.bytes && a.sha256 === b.sha256 && a.digest_of === b.digest_of;
