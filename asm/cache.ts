// cache: a direct-mapped cache of encoded words (pre-tokens), word bytes -> ids, for bpe.ts and spm.ts.
// Natural text repeats a few thousand words over and over, so most words skip the merge loop entirely.
//
// 2^CACHE_BITS slots of 64 bytes (4 MiB), slot = hash >>> (32 - CACHE_BITS), a colliding word replaces the old one:
//   +0  i32 n     word length in bytes (0 = empty slot)
//   +4  i32 k     number of ids
//   +8  u8[24]    word bytes        (longer words are not cached)
//   +32 i32[8]    ids               (words of more than 8 ids are not cached)
// The cache is persistent: a tokenizer's mapping never changes, so it stays valid across encode calls.

import { bumpAlloc } from './mem';
import { sameBytes } from './vocab';

const CACHE_BITS: u32 = 16;
export const CACHE_MAX_BYTES: i32 = 24;
export const CACHE_MAX_IDS: i32 = 8;

let slots: usize = 0;

export function cacheAlloc(): bool {
  slots = bumpAlloc(<usize>64 << CACHE_BITS);
  if (slots == 0) return false;
  memory.fill(slots, 0, <usize>64 << CACHE_BITS);
  return true;
}

/** FNV-1a over 4-byte words (then the tail), with a final avalanche: cheap and good enough for slot choice. */
@inline function slotOf(p: usize, n: i32): usize {
  let h: u32 = 2166136261 ^ <u32>n;
  let i = 0;
  for (; i + 4 <= n; i += 4) h = (h ^ load<u32>(p + <usize>i)) * 16777619;
  for (; i < n; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 16777619;
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  return slots + (<usize>(h >>> (32 - CACHE_BITS)) << 6);
}

/** Copies the cached ids of word p[0..n) to out and returns their count, or -1 on a miss. */
export function cacheGet(p: usize, n: i32, out: usize): i32 {
  if (n > CACHE_MAX_BYTES) return -1;
  const e = slotOf(p, n);
  if (load<i32>(e) != n || !sameBytes(e + 8, p, n)) return -1;
  const k = load<i32>(e, 4);
  memory.copy(out, e + 32, <usize>k << 2);
  return k;
}

export function cachePut(p: usize, n: i32, ids: usize, k: i32): void {
  if (n > CACHE_MAX_BYTES || k > CACHE_MAX_IDS) return;
  const e = slotOf(p, n);
  store<i32>(e, n);
  store<i32>(e, k, 4);
  memory.copy(e + 8, p, <usize>n);
  memory.copy(e + 32, ids, <usize>k << 2);
}
