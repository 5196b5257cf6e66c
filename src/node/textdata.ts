// node/textdata: what --text and --val-text name, as tokens: a text file (tokenized as `eval` does), an
// llm.c shard, or a directory of shards written by `pack` (read window by window for training). Which of
// text and shard a file is, is decided once (src/data/shard.ts shardOrText); a text file is read whole
// and tokenized in memory, so one over TEXT_MAX_BYTES is refused and `pack` (which streams) named instead.
import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from '../tokenizers/load.js';
import { parseShard, shardOrText, SHARD_HEADER_BYTES } from '../data/shard.js';
import { listShards, openShards } from './pack.js';
import type { TrainData } from '../train/trainer.js';
import { fail } from '../util/errors.js';
import { readHead, readRegular } from './bytes.js';

/**
 * The largest text file --text/--val-text tokenize in memory: 256 MiB. Its string (up to 256 Mi UTF-16
 * units) stays under V8's longest string (2^29 - 24 units), its tokens as a JS array (8 bytes each) under
 * about 1 GiB, and its tokenization in minutes; a larger corpus goes through `pack`, which streams it.
 */
export const TEXT_MAX_BYTES = 256 * 2 ** 20;

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
  if (kindOf(path) === 'shard') return openShards([path]);
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

/** text or shard, by the one rule (a FIFO, a device or a directory in a file's place is refused here) */
function kindOf(path: string): 'shard' | 'text' {
  return shardOrText(readHead(path, SHARD_HEADER_BYTES, 'text file').head, path);
}

/**
 * Token ids for --text/--val-text: a text file (tokenized as `eval` does: BOS, then the whole
 * file), an llm.c shard (.bin with magic 20240520), or a directory of shards written by `pack`
 * (the `split` shards, in order). With `vocabSize`, a shard's id at or above it is an error naming the file.
 */
export async function readTokens(path: string, tok: () => Promise<Tokenizer>, split: 'train' | 'val', vocabSize?: number): Promise<number[]> {
  if (!existsSync(path)) fail(`'${path}' does not exist`, 'pass a text file, a shard file or a directory of shards');
  const fromShards = (paths: string[]) => {
    const out: number[] = [];
    for (const p of paths) {
      const { tokens, bytesPerToken } = parseShard(new Uint8Array(readRegular(p, 'token shard')), p);
      // an id the model has no row for, named by file and position here (the model would only say "position i of the batch")
      if (vocabSize !== undefined) {
        const i = tokens.findIndex((t) => t >= vocabSize);
        if (i >= 0) {
          fail(`${p} holds the token ${tokens[i]} at position ${i} (byte ${SHARD_HEADER_BYTES + i * bytesPerToken}), not below the model's vocab_size ${vocabSize}`,
            'pack the text again with the tokenizer of this model');
        }
      }
      for (const t of tokens) out.push(t);
    }
    return out;
  };
  if (statSync(path).isDirectory()) {
    const shards = await listShards(path, split);
    if (!shards.length) noShards(path, split);
    return fromShards(shards);
  }
  if (kindOf(path) === 'shard') return fromShards([path]);
  const text = readRegular(path, 'text file', { maxBytes: TEXT_MAX_BYTES,
    tooBig: `a text is tokenized in memory up to ${TEXT_MAX_BYTES / 2 ** 20} MiB; pack a larger one into token shards with \`inheritune-rt pack --input ${path} --out DIR\` (it streams) and pass --text DIR` });
  const t = await tok();
  return t.encode(text.toString('utf8'), { bos: t.bos !== null }); // the BOS, if the tokenizer has one
}
