// cli/distill_cache: `inheritune-rt distill-cache`, offline knowledge distillation's first half: the teacher
// runs once, forward only, over the aligned windows of --text that sequential sampling reads, and its top-K
// logits of every position go to a cache on disk (src/node/distill_cache.ts) that `train --teacher-cache`
// reads instead of running a teacher. A killed run continues when run again (its --out holds the partial cache).
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Gpu } from '../../gpu/gpu.js';
import { readModelConfig } from '../models.js';
import { readTokenizer, tokenizerFiles } from '../tokfiles.js';
import { isTokenizerFile, type Tokenizer } from '../../tokenizers/load.js';
import { readTrainData } from '../textdata.js';
import { memoryShards, type ShardSource } from '../../data/loader.js';
import type { TrainData } from '../../train/trainer.js';
import { loadTeacher, tokenPieces } from '../teacher.js';
import { configDigest, defaultShardWindows, piecesDigest, removeCacheFiles, sourceWindows, tokensDigest, writeCache, type CacheIdentity } from '../distill_cache.js';
import { checkOut, refuseOverlap } from './outdir.js';
import { int, str, stderrBar, modelPath, type Flags } from './args.js';
import { fail } from '../../util/errors.js';

/** a --text's tokens as a ShardSource (a text file's are one shard) */
export const asSource = (d: TrainData): ShardSource => ('sizes' in d ? d : memoryShards([Uint32Array.from(d)]));

/** the tokenizer --tokenizer names, else the one beside the model; null when the model has no tokenizer files beside it */
export async function tokenizerOrNull(flags: Flags, model: string, V: number): Promise<Tokenizer | null> {
  if (flags.tokenizer === undefined && !Object.keys(tokenizerFiles(model)).some(isTokenizerFile)) return null;
  return readTokenizer(flags.tokenizer as string | undefined, model, V);
}

/** the digest of a tokenizer's pieces (null without one) */
export const tokenizerDigest = (t: Tokenizer | null, V: number): string | null => (t ? piecesDigest(tokenPieces(t, V)) : null);

export async function distillCacheCmd(flags: Flags, gpu: Gpu): Promise<void> {
  const out = str(flags, 'out'), textPath = str(flags, 'text');
  const T = int(flags, 'seq', { required: true, min: 1 })!, K = int(flags, 'topk', { required: true, min: 1 })!;
  const B = int(flags, 'batch', { min: 1 }) ?? 8;
  const teacherPath = await modelPath(flags, 'teacher');
  if (!existsSync(textPath)) fail(`text file '${textPath}' does not exist`, 'pass a text file, a shard file or a directory of shards');
  refuseOverlap(out, '--out', [['--teacher', teacherPath], ['--text', textPath]]);
  checkOut(out, { flag: '--out', own: 'distill-cache', resumeByDefault: true }, false, !!flags.force);
  const config = await readModelConfig(teacherPath), V = config.vocabSize;
  if (K >= V) fail(`--topk ${K} must be below the teacher's vocabulary of ${V} ids`, 'keep the K most probable ids, K well below the vocabulary (e.g. 8 to 64)');
  const shardWindows = int(flags, 'shard-windows', { min: 1 }) ?? defaultShardWindows(T, K);
  const tok = await tokenizerOrNull(flags, teacherPath, V);
  const src = asSource(await readTrainData(textPath, async () => tok ?? fail(`no tokenizer files beside the teacher ${teacherPath} to tokenize ${textPath}`, 'pass --tokenizer PATH')));
  const windows = sourceWindows(src, T);
  if (!windows) fail(`--text ${textPath} gives no window of ${T}+1 tokens (its longest shard holds ${Math.max(...src.sizes)})`, 'use a longer text or a shorter --seq');
  const tokens = src.sizes.reduce((a, n) => a + n, 0);
  const id: CacheIdentity = {
    teacher: { path: resolve(teacherPath), config_digest: configDigest(config) },
    tokenizer: { kind: tok?.kind ?? null, vocab_size: V, digest: tokenizerDigest(tok, V) },
    text: { path: resolve(textPath), bytes: textBytes(textPath), tokens, digest: await tokensDigest(src) },
    T, K, windows, shard_windows: shardWindows,
  };
  if (flags.force) removeCacheFiles(out);
  mkdirSync(out, { recursive: true });
  const t0 = Date.now();
  const teacher = await loadTeacher(gpu, teacherPath, flags.json ? null : stderrBar());
  let r;
  try {
    r = await writeCache(gpu, teacher, src, id, out, B, flags.json ? null : stderrBar());
  } finally {
    teacher.destroy();
    if ('close' in src && typeof src.close === 'function') await (src.close as () => Promise<void>)();
  }
  const bytes = r.manifest.shards.reduce((a, s) => a + statSync(join(out, s.file)).size, 0);
  const summary = { out, windows, T, K, tokens, shards: r.manifest.shards.length, shards_written: r.written, bytes, seconds: (Date.now() - t0) / 1000 };
  if (flags.json) { console.log(JSON.stringify(summary)); return; }
  const how = r.written === summary.shards ? '' : r.written ? ` (${summary.shards - r.written} were already there)` : ' (all were already there)';
  console.log(`cached the top ${K} teacher logits of ${windows} windows of ${T} tokens: ${summary.shards} shard${summary.shards === 1 ? '' : 's'}${how}, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${out}`);
}

/** a text file's bytes, or a shard directory's train shards' */
function textBytes(p: string): number {
  if (!statSync(p).isDirectory()) return statSync(p).size;
  return readdirSync(p).filter((f) => /^data_train_\d+\.bin$/.test(f)).reduce((a, f) => a + statSync(join(p, f)).size, 0);
}
