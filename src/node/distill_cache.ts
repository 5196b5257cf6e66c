// node/distill_cache: offline knowledge distillation's cache of teacher logits (`inheritune-rt distill-cache`,
// read by `train --teacher-cache`). For every position of the aligned windows that sequential sampling reads
// (window i of a shard = its tokens [i*T, i*T+T], numbered across the shards in order: src/data/loader.ts),
// the teacher's K largest logits (f32, largest first, ties to the lower id: kernels/distill.wgsl distill_topk)
// and their ids (u32). Layout of the directory:
//   topk_NNNNNN.bin      shard_windows windows each (the last may hold fewer): a 32-byte header (u32 LE:
//                        magic 'IDTK', version 1, K, T, windows in the shard, its first window, 0, 0), then
//                        per window its T*K values (f32 LE, position-major) and then its T*K ids (u32 LE)
//   distill_cache.json   the manifest, written last: what the cache was made from (teacher, tokenizer, text,
//                        T, K, windows) and every shard with its sha256
// Writing is resumable: distill_cache.partial.json (the manifest without shards) is written first, each shard
// goes to a temporary name and is renamed when whole, and a re-run continues after the last whole shard.
// INHERITUNE_CRASH_AT=cache:N (a test hook) kills the process with SIGKILL after shard N's temporary file
// is written, before its rename.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync, openSync, writeSync, fsyncSync, closeSync, renameSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Gpu } from '../gpu/gpu.js';
import type { Model } from '../model/model.js';
import type { ShardSource } from '../data/loader.js';
import { alignedWindows } from '../data/loader.js';
import { logitsStride, type ModelConfig } from '../model/config.js';
import { slice } from '../gpu/view.js';
import * as K from '../gpu/kernels/index.js';
import type { TopkBatch } from '../train/distill.js';
import { Progress } from '../util/progress.js';
import { writeFileAtomic } from './atomic.js';
import { readRegular, readRegularText } from './bytes.js';
import { fail } from '../util/errors.js';

export const CACHE_MANIFEST = 'distill_cache.json';
export const CACHE_PARTIAL = 'distill_cache.partial.json';
const MAGIC = 0x4b544449; // 'IDTK'
const VERSION = 1;
const HEADER = 32;
const SHARD_BYTES = 64 * 1024 * 1024; // the default shard size: windows of T*K*8 bytes that fit 64 MiB
const shardName = (i: number) => `topk_${String(i).padStart(6, '0')}.bin`;

/** what a cache was made from: a cache is for the run whose T, text and tokenizer are these */
export interface CacheIdentity {
  teacher: { path: string; config_digest: string };
  tokenizer: { kind: string | null; vocab_size: number; digest: string | null };
  text: { path: string; bytes: number; tokens: number; digest: string };
  T: number;
  K: number;
  windows: number;
  shard_windows: number;
}

export interface CacheManifest extends CacheIdentity {
  format: 'inheritune-distill-cache';
  version: 1;
  shards: { file: string; windows: number; sha256: string }[];
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** a model's configuration, as a digest */
export const configDigest = (c: ModelConfig): string => sha256(JSON.stringify(c));

/** the text of every id (src/node/teacher.ts tokenPieces), as a digest: the same for one tokenizer in any file format */
export const piecesDigest = (pieces: string[]): string => sha256(JSON.stringify(pieces));

/** the token ids of a ShardSource, shard by shard (their sizes first), as a digest */
export async function tokensDigest(src: ShardSource): Promise<string> {
  const h = createHash('sha256').update(JSON.stringify(src.sizes));
  const chunk = 1 << 20;
  for (let s = 0; s < src.sizes.length; s++) {
    for (let at = 0; at < src.sizes[s]; at += chunk) {
      const t = await src.read(s, at, Math.min(chunk, src.sizes[s] - at));
      const u = t instanceof Uint32Array ? t : Uint32Array.from(t);
      h.update(new Uint8Array(u.buffer, u.byteOffset, u.byteLength));
    }
  }
  return h.digest('hex');
}

/** the aligned windows of T+1 tokens of the source's shards, in order */
export const sourceWindows = (src: ShardSource, T: number): number => src.sizes.reduce((a, n) => a + alignedWindows(n, T), 0);

/** the default windows per shard: as many as fit 64 MiB (at least one) */
export const defaultShardWindows = (T: number, K: number): number => Math.max(1, Math.floor(SHARD_BYTES / (T * K * 8)));

const IDENTITY_KEYS = ['teacher', 'tokenizer', 'text', 'T', 'K', 'windows', 'shard_windows'] as const;

/** the first field where two identities differ, with both values (null when they agree) */
function firstDifference(a: CacheIdentity, b: CacheIdentity): string | null {
  for (const k of IDENTITY_KEYS) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `${k} is ${JSON.stringify(a[k])} there and ${JSON.stringify(b[k])} now`;
  return null;
}

/** the manifest of a finished cache in dir, checked for shape; a damaged one is named */
export function readManifest(dir: string): { manifest: CacheManifest; digest: string } {
  const f = join(dir, CACHE_MANIFEST);
  if (!existsSync(f)) {
    const partial = existsSync(join(dir, CACHE_PARTIAL)) ? `: ${dir} holds an unfinished cache` : '';
    fail(`--teacher-cache ${dir} has no ${CACHE_MANIFEST}${partial}`, partial ? 'run the same `inheritune-rt distill-cache` again to finish it' : 'pass a directory written by `inheritune-rt distill-cache`');
  }
  const text = readRegularText(f, 'distill-cache manifest');
  let m: CacheManifest;
  try { m = JSON.parse(text); } catch (e) { return fail(`${f} is damaged: ${(e as Error).message}`, 'make the cache again with `inheritune-rt distill-cache`'); }
  const int = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;
  const ok = m && m.format === 'inheritune-distill-cache' && m.version === VERSION && int(m.T) && int(m.K) && int(m.windows) && int(m.shard_windows) &&
    typeof m.text?.digest === 'string' && int(m.tokenizer?.vocab_size) && Array.isArray(m.shards) &&
    m.shards.length === Math.ceil(m.windows / m.shard_windows) && m.shards.every((s, i) => s?.file === shardName(i) && typeof s.sha256 === 'string' &&
      s.windows === Math.min(m.shard_windows, m.windows - i * m.shard_windows));
  if (!ok) fail(`${f} is damaged: it is not a distill-cache manifest of version ${VERSION} with T, K, windows, text, tokenizer and a whole list of shards`, 'make the cache again with `inheritune-rt distill-cache`');
  return { manifest: m, digest: sha256(text) };
}

/** what a training run needs of a cache: its tokenizer (vocabulary, then pieces), T and text; the first that differs is named with both values */
export function checkCacheFor(dir: string, m: CacheManifest, want: { T: number; textPath: string; textDigest: string; tokens: number; vocabSize: number; pieces: string | null }): void {
  const fix = `make a cache for this run: inheritune-rt distill-cache --teacher PATH --text ${want.textPath} --seq ${want.T} --topk ${m.K} --out DIR`;
  if (m.tokenizer.vocab_size !== want.vocabSize) fail(`--teacher-cache ${dir} was made with a tokenizer of ${m.tokenizer.vocab_size} ids, and the model trained has ${want.vocabSize}`, fix);
  if (m.T !== want.T) fail(`--teacher-cache ${dir} was made with --seq ${m.T}, and this run has --seq ${want.T}`, fix);
  if (m.tokenizer.digest && want.pieces && m.tokenizer.digest !== want.pieces) {
    fail(`--teacher-cache ${dir} was made with another tokenizer of the same size: its pieces' digest is ${m.tokenizer.digest.slice(0, 16)}…, this run's tokenizer's ${want.pieces.slice(0, 16)}…`, fix);
  }
  if (m.text.digest !== want.textDigest) {
    fail(`--teacher-cache ${dir} was made for other text (its distill_cache.json names ${m.text.path} (${m.text.tokens} tokens, digest ${m.text.digest.slice(0, 16)}…), and this run's --text ${want.textPath} is ${want.tokens} tokens, digest ${want.textDigest.slice(0, 16)}…`, fix);
  }
}

/**
 * A finished cache, for the Distiller (TeacherSource's cache): every shard is checked to be there, whole,
 * before training starts; read(windows) gives the B*T positions of those windows in row order
 */
export async function openCache(dir: string): Promise<{ manifest: CacheManifest; digest: string; K: number; read(windows: number[]): Promise<TopkBatch>; close(): Promise<void> }> {
  const { manifest: m, digest } = readManifest(dir);
  const rec = m.T * m.K * 8;
  for (const s of m.shards) {
    const f = join(dir, s.file);
    if (!existsSync(f)) fail(`--teacher-cache ${dir} is missing the shard ${s.file} its manifest lists`, 'run the same `inheritune-rt distill-cache` again to write it, or make the cache again');
    if (statSync(f).size !== HEADER + s.windows * rec) fail(`--teacher-cache ${dir}: the shard ${s.file} holds ${statSync(f).size} bytes, not the ${HEADER + s.windows * rec} of ${s.windows} windows`, 'make the cache again with `inheritune-rt distill-cache`');
  }
  const handles = new Map<number, FileHandle>();
  const TK = m.T * m.K;
  return {
    manifest: m, digest, K: m.K,
    async read(windows) {
      const values = new Float32Array(windows.length * TK), ids = new Uint32Array(windows.length * TK);
      const buf = new Uint8Array(rec);
      for (let b = 0; b < windows.length; b++) {
        const w = windows[b];
        if (!(Number.isInteger(w) && w >= 0 && w < m.windows)) fail(`the batch asks for window ${w}; --teacher-cache ${dir} holds windows 0 to ${m.windows - 1}`, 'train on the text the cache was made for');
        const s = Math.floor(w / m.shard_windows);
        let fh = handles.get(s);
        if (!fh) { fh = await open(join(dir, m.shards[s].file), 'r'); handles.set(s, fh); }
        const { bytesRead } = await fh.read(buf, 0, rec, HEADER + (w - s * m.shard_windows) * rec);
        if (bytesRead !== rec) fail(`--teacher-cache ${dir}: the shard ${m.shards[s].file} ended early at window ${w}`, 'make the cache again with `inheritune-rt distill-cache`');
        const copy = buf.slice().buffer;
        values.set(new Float32Array(copy, 0, TK), b * TK);
        ids.set(new Uint32Array(copy, TK * 4, TK), b * TK);
      }
      return { values, ids };
    },
    async close() { for (const h of handles.values()) await h.close(); handles.clear(); },
  };
}

let shardsWritten = 0;
function crashPoint(): void {
  const spec = process.env.INHERITUNE_CRASH_AT;
  if (!spec) return;
  const [at, n] = spec.split(':');
  if (at === 'cache' && ++shardsWritten === Number(n ?? 1)) process.kill(process.pid, 'SIGKILL');
}

/** the whole shards already in dir (of a run with this identity), checked, each with its sha256 */
function wholeShards(dir: string, id: CacheIdentity): CacheManifest['shards'] {
  const out: CacheManifest['shards'] = [], rec = id.T * id.K * 8;
  for (let i = 0; i * id.shard_windows < id.windows; i++) {
    const f = join(dir, shardName(i)), n = Math.min(id.shard_windows, id.windows - i * id.shard_windows);
    if (!existsSync(f) || statSync(f).size !== HEADER + n * rec) break;
    const bytes = new Uint8Array(readRegular(f, 'distill-cache shard'));
    const h = new Uint32Array(bytes.buffer, bytes.byteOffset, 6);
    if (h[0] !== MAGIC || h[1] !== VERSION || h[2] !== id.K || h[3] !== id.T || h[4] !== n || h[5] !== i * id.shard_windows) break;
    out.push({ file: shardName(i), windows: n, sha256: sha256(bytes) });
  }
  return out;
}

/** the cache files in dir (shards, temporaries, manifests): what --force or a fresh start removes */
export function removeCacheFiles(dir: string): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) if (/^\.?topk_\d{6}\.bin(\.tmp)?$/.test(f) || f === CACHE_MANIFEST || f === CACHE_PARTIAL) rmSync(join(dir, f), { force: true });
}

/**
 * Runs the teacher over the source's aligned windows, B at a time, and writes the cache into dir; a
 * partial cache of the same identity there is continued after its last whole shard, one of another
 * identity is refused (the field that differs named). Returns the manifest and the shards this call wrote.
 */
export async function writeCache(gpu: Gpu, teacher: Model, src: ShardSource, id: CacheIdentity, dir: string, B: number,
                                 progress: ((s: string) => void) | null): Promise<{ manifest: CacheManifest; written: number }> {
  for (const [f, what] of [[CACHE_MANIFEST, 'a finished cache'], [CACHE_PARTIAL, 'an unfinished cache']] as const) {
    if (!existsSync(join(dir, f))) continue;
    const there = JSON.parse(readRegularText(join(dir, f), 'distill-cache manifest')) as CacheIdentity;
    const diff = firstDifference(there, id);
    if (diff) fail(`--out ${dir} holds ${what} of other inputs: ${diff}`, 'pass another --out, or --force to start over in it');
    if (f === CACHE_MANIFEST) return { manifest: readManifest(dir).manifest, written: 0 };
  }
  if (!existsSync(join(dir, CACHE_PARTIAL))) { removeCacheFiles(dir); writeFileAtomic(join(dir, CACHE_PARTIAL), JSON.stringify(id, null, 1) + '\n'); }
  const shards = wholeShards(dir, id), { T, K: k, windows: W, shard_windows: SW } = id, V = teacher.config.vocabSize, ld = logitsStride(teacher.config);
  if (!(k >= 1 && k < V)) fail(`--topk ${k} must be an integer in [1, ${V}) (the teacher's vocabulary has ${V} ids)`);
  const starts = [0]; // the first global window of each source shard
  for (const n of src.sizes) starts.push(starts[starts.length - 1] + alignedWindows(n, T));
  const where = (w: number) => { let s = 0; while (starts[s + 1] <= w) s++; return [s, (w - starts[s]) * T] as const; };
  const vk = gpu.tensor(B * T * k, 'cache_topk_values'), ik = gpu.tensor(B * T * k, 'cache_topk_ids');
  const bar = new Progress('distill-cache', W, progress);
  const done0 = shards.length;
  try {
    for (let si = shards.length; si * SW < W; si++) {
      const w0 = si * SW, n = Math.min(SW, W - w0), rec = T * k * 8;
      const bytes = new Uint8Array(HEADER + n * rec);
      new Uint32Array(bytes.buffer, 0, 8).set([MAGIC, VERSION, k, T, n, w0, 0, 0]);
      for (let j = 0; j < n; j += B) {
        const b = Math.min(B, n - j), x = new Int32Array(b * T);
        for (let r = 0; r < b; r++) { const [s, at] = where(w0 + j + r); x.set(await src.read(s, at, T), r * T); }
        const a = teacher.forward(x, b, T);
        K.distillTopk(gpu, vk, ik, a.logits, k, b * T, V, ld);
        const v = await gpu.read(slice(vk, 0, b * T * k)), ir = await gpu.read(slice(ik, 0, b * T * k));
        const vb = new Uint8Array(v.buffer, v.byteOffset, v.byteLength), ids = new Uint8Array(ir.buffer, ir.byteOffset, ir.byteLength); // the ids' u32 bits
        for (let r = 0; r < b; r++) {
          const at = HEADER + (j + r) * rec;
          bytes.set(vb.subarray(r * T * k * 4, (r + 1) * T * k * 4), at);
          bytes.set(ids.subarray(r * T * k * 4, (r + 1) * T * k * 4), at + T * k * 4);
        }
        bar.update(w0 + j + b, 'windows');
      }
      const tmp = join(dir, `.${shardName(si)}.tmp`), fd = openSync(tmp, 'w');
      try { writeSync(fd, bytes); fsyncSync(fd); } finally { closeSync(fd); }
      crashPoint();
      renameSync(tmp, join(dir, shardName(si)));
      shards.push({ file: shardName(si), windows: n, sha256: sha256(bytes) });
    }
  } finally {
    gpu.release(vk.buffer);
    gpu.release(ik.buffer);
  }
  const manifest: CacheManifest = { format: 'inheritune-distill-cache', version: VERSION, ...id, shards };
  writeFileAtomic(join(dir, CACHE_MANIFEST), JSON.stringify(manifest, null, 1) + '\n');
  rmSync(join(dir, CACHE_PARTIAL), { force: true });
  return { manifest, written: shards.length - done0 };
}

/** the header of a shard file (for tests and tools): magic, version, K, T, windows, first window */
export function shardHeader(path: string): number[] {
  const b = new Uint8Array(HEADER), fd = openSync(path, 'r');
  try { readSync(fd, b, 0, HEADER, 0); } finally { closeSync(fd); }
  return Array.from(new Uint32Array(b.buffer, 0, 6));
}
