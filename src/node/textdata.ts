// node/textdata: what --text and --val-text name, as tokens: a text file (tokenized as `eval` does), an
// llm.c shard, or a directory of shards written by `pack` (read window by window for training).
import { readFileSync, statSync, existsSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from '../tokenizers/load.js';
import { parseShard, SHARD_MAGIC } from '../data/shard.js';
import { listShards, openShards } from './pack.js';
import type { TrainData } from '../train/trainer.js';
import { fail } from '../util/errors.js';

/**
 * Training data for --text: shards are read window by window from their files (never loaded whole);
 * a text file is tokenized into memory (readTokens).
 */
export async function readTrainData(path: string, tok: () => Promise<Tokenizer>): Promise<TrainData> {
  if (!existsSync(path)) fail(`'${path}' does not exist`, 'pass a text file, a shard file or a directory of shards');
  if (statSync(path).isDirectory()) {
    const shards = await listShards(path, 'train');
    if (!shards.length) noShards(path, 'train');
    return openShards(shards);
  }
  if (isShardFile(path)) return openShards([path]);
  return readTokens(path, tok, 'train');
}

/**
 * A shard directory without the split asked for. A directory that `pack` wrote (data_pack.json) but
 * with no validation split held none out: the flag that makes one is named, not the command just run.
 */
function noShards(path: string, split: 'train' | 'val'): never {
  const what = `no ${split === 'val' ? 'validation' : 'training'} shards (data_${split}_NNNNNN.bin) in ${path}`;
  if (!existsSync(join(path, 'data_pack.json'))) fail(what, 'write shards there with `inheritune-rt pack`, or pass a text file');
  if (split === 'val') {
    fail(`${what}: its pack held no validation split out (see its data_pack.json)`,
      'pack again with --val-fraction X above 0 (e.g. 10%), or give the validation text separately where the command takes one (train and run: --val-text FILE)');
  }
  return fail(`${what}: its pack put every token into validation (see its data_pack.json)`, 'pack again with a lower --val-fraction');
}

function isShardFile(path: string): boolean {
  const head = new Uint8Array(4);
  const fd = openSync(path, 'r');
  try { readSync(fd, head, 0, 4, 0); } finally { closeSync(fd); }
  return new DataView(head.buffer).getInt32(0, true) === SHARD_MAGIC;
}

/**
 * Token ids for --text/--val-text: a text file (tokenized as `eval` does: BOS, then the whole
 * file), an llm.c shard (.bin with magic 20240520), or a directory of shards written by `pack`
 * (the `split` shards, in order).
 */
export async function readTokens(path: string, tok: () => Promise<Tokenizer>, split: 'train' | 'val'): Promise<number[]> {
  if (!existsSync(path)) fail(`'${path}' does not exist`, 'pass a text file, a shard file or a directory of shards');
  const fromShards = (paths: string[]) => {
    const out: number[] = [];
    for (const p of paths) for (const t of parseShard(new Uint8Array(readFileSync(p)), p).tokens) out.push(t);
    return out;
  };
  if (statSync(path).isDirectory()) {
    const shards = await listShards(path, split);
    if (!shards.length) noShards(path, split);
    return fromShards(shards);
  }
  if (isShardFile(path)) return fromShards([path]);
  const t = await tok();
  return t.encode(readFileSync(path, 'utf8'), { bos: t.bos !== null }); // the BOS, if the tokenizer has one
}
