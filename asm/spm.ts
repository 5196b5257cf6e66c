// spm: SentencePiece BPE encoding (sentencepiece bpe_model.cc Model::Encode, then the byte fallback of
// SentencePieceProcessor::Encode) over text that JS has already normalized (dummy prefix, "▁" for spaces).
//
// 1. initial symbols: one per UTF-8 character, as byte spans of the input (sbeg, slen);
// 2. merge.ts RULE_SCORES: merge the adjacent pair whose concatenation is a mergeable piece with the highest
//    score, leftmost first, until none is left;
// 3. each surviving symbol is its piece's id; a symbol that is no piece (or is <unk>) becomes, with
//    byte_fallback, one <0xHH> piece per byte (byteIds; JS stores unk_id for a missing byte piece), else unk_id.
// Word mode (JS sets it when no mergeable piece has a "▁" after its first character): no merge can then
// cross the start of a "▁", so each "▁word" is merged on its own and cached (cache.ts): same ids, much faster.
//
// Set-up (after vocab.ts): spm_init(unkId, byteFallback, wordMode) allocates byteIds i32[256] and the cache
// (0 = OOM); JS fills byteIds; spm_build() makes everything so far persistent.
// Per call: spm_begin(nBytes) returns the input pointer (0 = OOM); spm_encode(nBytes) returns the number of ids
// written at spm_out_ptr().

import { bumpAlloc, bumpMarkPersistent, scratchReset } from './mem';
import { vocabLookup, pieceFlags, FLAG_UNKNOWN } from './vocab';
import { mergeAlloc, mergeRun, setRule, setInput, at, sid, sbeg, slen, RULE_SCORES } from './merge';
import { cacheAlloc, cacheGet, cachePut } from './cache';

let unkId: i32 = 0;
let byteFallback: bool = false;
let wordMode: bool = false;
let byteIds: usize = 0;
let input: usize = 0;
let out: usize = 0;

export function spm_init(unk: i32, fallback: i32, words: i32): i32 {
  unkId = unk;
  byteFallback = fallback != 0;
  wordMode = words != 0;
  byteIds = bumpAlloc(256 << 2);
  if (byteIds == 0 || !cacheAlloc()) return 0;
  return 1;
}

export function spm_byte_ids_ptr(): usize { return byteIds; }
export function spm_build(): void { bumpMarkPersistent(); }
export function spm_out_ptr(): usize { return out; }

export function spm_begin(nBytes: i32): usize {
  scratchReset();
  input = bumpAlloc(<usize>nBytes + 8);
  out = bumpAlloc((<usize>nBytes << 2) + 16);
  if (input == 0 || out == 0 || !mergeAlloc(nBytes)) return 0;
  setRule(RULE_SCORES);
  setInput(input);
  return input;
}

@inline function charLen(b: u32): i32 {
  return b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 1;
}

/** Is input[i..] the start of "▁" (E2 96 81)? */
@inline function isMeta(i: i32, n: i32): bool {
  return i + 3 <= n && load<u8>(input + <usize>i) == 0xe2 && load<u8>(input + <usize>i, 1) == 0x96 &&
    load<u8>(input + <usize>i, 2) == 0x81;
}

/** Encodes input[b..e) to out + o (in ids); returns the number of ids. */
function encodeSpan(b: i32, e: i32, o: i32): i32 {
  const p = input + <usize>b, n = e - b;
  const dst = at(out, o);
  const hit = wordMode ? cacheGet(p, n, dst) : -1;
  if (hit >= 0) return hit;
  // 1. one symbol per character
  let m = 0;
  for (let i = b; i < e;) {
    let len = charLen(<u32>load<u8>(input + <usize>i));
    if (i + len > e) len = e - i;
    store<i32>(at(sbeg, m), i);
    store<i32>(at(slen, m), len);
    store<i32>(at(sid, m), vocabLookup(input + <usize>i, len));
    m++;
    i += len;
  }
  // 2. merges
  const k = mergeRun(m);
  // 3. ids, with byte fallback for unknown symbols
  let q = dst;
  for (let s = 0; s < k; s++) {
    const id = load<i32>(at(sid, s));
    if (id >= 0 && !(pieceFlags(id) & FLAG_UNKNOWN)) {
      store<i32>(q, id); q += 4;
    } else if (byteFallback) {
      const sb = load<i32>(at(sbeg, s)), sl = load<i32>(at(slen, s));
      for (let i = 0; i < sl; i++) {
        store<i32>(q, load<i32>(at(byteIds, <i32>load<u8>(input + <usize>(sb + i))))); q += 4;
      }
    } else {
      store<i32>(q, unkId); q += 4;
    }
  }
  const count = <i32>((q - dst) >> 2);
  if (wordMode) cachePut(p, n, dst, count);
  return count;
}

export function spm_encode(nBytes: i32): i32 {
  if (!wordMode) return encodeSpan(0, nBytes, 0);
  let o = 0, start = 0;
  for (let i = 1; i < nBytes; i++) {
    if (isMeta(i, nBytes)) { o += encodeSpan(start, i, o); start = i; }
  }
  if (nBytes > 0) o += encodeSpan(start, nBytes, o);
  return o;
}
