// shard: the llm.c token shard format (dev/data/data_common.py write_datafile, read by llmc/dataloader.h):
//   header int32[256]: [0] magic 20240520, [1] version (1: uint16 tokens, 2: uint32 tokens), [2] ntok, rest 0
//   then ntok tokens, little-endian. (llm.c's own LLaMA-3 files, magic 20240801 version 7 uint32, are read too.)
// Written by src/data/pack.ts, read by src/data/loader.ts (and src/node/pack.ts from files).
import { fail } from '../util/errors.js';

export const SHARD_MAGIC = 20240520;
export const SHARD_MAGIC_LLAMA3 = 20240801; // llm.c fineweb.py --model_desc llama-3: version 7, uint32
export const SHARD_HEADER_INTS = 256;
export const SHARD_HEADER_BYTES = SHARD_HEADER_INTS * 4;
const SHARD_HINT = 'pass a shard written by `pack` (or by llm.c dev/data scripts): 256 x int32 header, then tokens';

export type ShardTokens = Uint16Array | Uint32Array;

/** Version for a vocabulary: 1 (uint16) when every id fits 16 bits, else 2 (uint32). */
export function shardVersionFor(vocabSize: number): 1 | 2 {
  return vocabSize <= 65536 ? 1 : 2;
}

export function shardHeader(ntok: number, version: 1 | 2): Uint8Array {
  const h = new Int32Array(SHARD_HEADER_INTS);
  h[0] = SHARD_MAGIC; h[1] = version; h[2] = ntok;
  return new Uint8Array(h.buffer); // little-endian on every platform we run on (wasm and WebGPU are too)
}

/** A whole shard file: header + tokens. */
export function encodeShard(tokens: ArrayLike<number>, version: 1 | 2): Uint8Array {
  const bpt = version === 1 ? 2 : 4;
  const out = new Uint8Array(SHARD_HEADER_BYTES + tokens.length * bpt);
  out.set(shardHeader(tokens.length, version));
  const view = version === 1 ? new Uint16Array(out.buffer, SHARD_HEADER_BYTES) : new Uint32Array(out.buffer, SHARD_HEADER_BYTES);
  const max = version === 1 ? 0xffff : 0xffffffff;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!(t >= 0 && t <= max && Number.isInteger(t))) fail(`shard: token ${t} at ${i} does not fit version ${version}`, 'use version 2 (uint32) for vocabularies over 65536');
    view[i] = t;
  }
  return out;
}

export interface ShardInfo { version: number; ntok: number; bytesPerToken: 2 | 4 }

/** Validates the 1024-byte header; `fileBytes` (when known) must be header + ntok tokens exactly. */
export function parseShardHeader(header: Uint8Array, name = 'shard', fileBytes?: number): ShardInfo {
  if (header.byteLength < SHARD_HEADER_BYTES) fail(`${name} is truncated: ${header.byteLength} bytes, less than the ${SHARD_HEADER_BYTES}-byte header`, SHARD_HINT);
  const v = new DataView(header.buffer, header.byteOffset, SHARD_HEADER_BYTES);
  const magic = v.getInt32(0, true), version = v.getInt32(4, true), ntok = v.getInt32(8, true);
  let bytesPerToken: 2 | 4;
  if (magic === SHARD_MAGIC && (version === 1 || version === 2)) bytesPerToken = version === 1 ? 2 : 4;
  else if (magic === SHARD_MAGIC_LLAMA3 && version === 7) bytesPerToken = 4;
  else fail(`${name}: header magic ${magic} / version ${version} is not an llm.c token shard (${SHARD_MAGIC} v1/v2)`, SHARD_HINT);
  if (ntok < 0) fail(`${name}: negative token count ${ntok}`, SHARD_HINT);
  if (fileBytes !== undefined && fileBytes !== SHARD_HEADER_BYTES + ntok * bytesPerToken) {
    fail(`${name}: the header says ${ntok} tokens (${SHARD_HEADER_BYTES + ntok * bytesPerToken} bytes) but the file has ${fileBytes} bytes`, SHARD_HINT);
  }
  return { version, ntok, bytesPerToken };
}

/**
 * The one rule for a file handed over as "text or a token shard" (--text, --val-text), from its first
 * SHARD_HEADER_BYTES bytes: 'shard' when its first int32 is a shard magic (parseShardHeader then checks
 * the rest); 'text' when those bytes hold no NUL (UTF-8 text never does). Anything else is refused, never
 * tokenized as text: bytes 12.. of the header all zero is an llm.c shard with a damaged magic or version
 * (read as text it would train and evaluate on its header bytes: loss ~22 instead of ~4), and any other
 * NUL is a binary file (a model, a UTF-16 text).
 */
export function shardOrText(head: Uint8Array, name: string): 'shard' | 'text' {
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const magic = head.byteLength >= 4 ? dv.getInt32(0, true) : NaN;
  if (magic === SHARD_MAGIC || magic === SHARD_MAGIC_LLAMA3) return 'shard';
  const nul = head.indexOf(0);
  if (nul < 0) return 'text';
  if (head.byteLength >= 12 && head.subarray(12).every((b) => b === 0)) {
    fail(`${name} looks like an llm.c token shard (a 1024-byte int32 header, zero after its third int) but its magic ${magic} / ` +
      `version ${dv.getInt32(4, true)} is not one (${SHARD_MAGIC} v1 or v2, ${SHARD_MAGIC_LLAMA3} v7)`,
    'the shard is damaged or from another tool: write it again with `inheritune-rt pack` (text files are read as UTF-8, which holds no NUL bytes)');
  }
  return fail(`${name} is neither text nor an llm.c token shard: byte ${nul} is NUL (UTF-8 text holds none) and its first int32 ${magic} is not the shard magic ${SHARD_MAGIC}`,
    'pass a UTF-8 text file, a token shard written by `inheritune-rt pack`, or a directory of shards');
}

/** A whole shard in memory: its tokens (a copy, aligned). */
export function parseShard(bytes: Uint8Array, name = 'shard'): ShardInfo & { tokens: ShardTokens } {
  const info = parseShardHeader(bytes, name, bytes.byteLength);
  const body = bytes.slice(SHARD_HEADER_BYTES);
  const tokens = info.bytesPerToken === 2 ? new Uint16Array(body.buffer, 0, info.ntok) : new Uint32Array(body.buffer, 0, info.ntok);
  return { ...info, tokens };
}
