// bpe: Hugging Face / GPT-2 BPE with ranked merges over pre-tokens ("words") that JS has already cut.
// Two ways to make a word's initial symbols:
//   MODE_BYTES  byte-level (GPT-2 encoder.py, HF ByteLevel): one symbol per byte, id = byteIds[byte]
//   MODE_CHARS  HF BPE over characters (Llama-style tokenizer.json): one symbol per UTF-8 character with its
//               vocab id; else, with byte fallback, one "<0xHH>" symbol per byte (byteIds); else the unk id,
//               consecutive unknowns fused into one when fuseUnk (HF BPE::merge_word); no unk id: dropped.
// then merge.ts RULE_RANKS, then the word's ids go to the output. Words of <= 24 bytes are cached (cache.ts).
//
// Set-up (after vocab.ts, whose table MODE_CHARS uses):
//   bpe_init(nMerges, mode, unkId, fuseUnk)  allocates the merges table, byteIds i32[256], the cache (0 = OOM)
//   bpe_merge_add(a, b, rank, id)            once per merges line (rank = line index)
//   JS fills byteIds (-1: no such byte token); bpe_build() makes everything so far persistent.
// Per encode call:
//   bpe_begin(nBytes, nWords, maxWordBytes)  scratch: input u8[nBytes], ends i32[nWords], out i32[nBytes]; returns
//                                            the input pointer (0 = OOM). JS writes UTF-8 bytes and word ends.
//   bpe_encode(nBytes, nWords)               returns the number of ids written at bpe_out_ptr().
// Word ends are in UTF-16 code units, straight from JS's regex lastIndex: the wasm walks the UTF-8 bytes to
// find them (1 unit per 1..3-byte character, 2 units per 4-byte one, as TextEncoder writes them).

import { bumpAlloc, bumpMarkPersistent, scratchReset } from './mem';
import { vocabLookup } from './vocab';
import { mergeAlloc, mergesAlloc, mergesAdd, mergeRun, setRule, at, sid, RULE_RANKS } from './merge';
import { cacheAlloc, cacheGet, cachePut } from './cache';

const MODE_BYTES: i32 = 0;
const MODE_CHARS: i32 = 1;

let mode: i32 = MODE_BYTES;
let unkId: i32 = -1;
let fuseUnk: bool = false;
let byteIds: usize = 0;
let input: usize = 0;
let ends: usize = 0;
let out: usize = 0;

export function bpe_init(nMerges: i32, m: i32, unk: i32, fuse: i32): i32 {
  mode = m;
  unkId = unk;
  fuseUnk = fuse != 0;
  byteIds = bumpAlloc(256 << 2);
  if (byteIds == 0 || !mergesAlloc(nMerges) || !cacheAlloc()) return 0;
  return 1;
}

export function bpe_merge_add(a: i32, b: i32, rank: i32, id: i32): void { mergesAdd(a, b, rank, id); }
export function bpe_byte_ids_ptr(): usize { return byteIds; }
export function bpe_build(): void { bumpMarkPersistent(); }
export function bpe_ends_ptr(): usize { return ends; }
export function bpe_out_ptr(): usize { return out; }

export function bpe_begin(nBytes: i32, nWords: i32, maxWordBytes: i32): usize {
  scratchReset();
  input = bumpAlloc(<usize>nBytes + 8);
  ends = bumpAlloc(<usize>nWords << 2);
  out = bumpAlloc((<usize>nBytes << 2) + 16);
  if (input == 0 || ends == 0 || out == 0 || !mergeAlloc(maxWordBytes)) return 0;
  setRule(RULE_RANKS);
  return input;
}

@inline function charLen(b: u32): i32 {
  return b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 1;
}

/** Initial symbols of word p[0..n) into sid; returns their count. */
function symbols(p: usize, n: i32): i32 {
  let m = 0;
  if (mode == MODE_BYTES) {
    for (let i = 0; i < n; i++) store<i32>(at(sid, i), load<i32>(at(byteIds, <i32>load<u8>(p + <usize>i))));
    return n;
  }
  let i = 0;
  let prevUnk = false;
  while (i < n) {
    let len = charLen(<u32>load<u8>(p + <usize>i));
    if (i + len > n) len = n - i;
    const id = vocabLookup(p + <usize>i, len);
    if (id >= 0) {
      store<i32>(at(sid, m++), id);
      prevUnk = false;
    } else {
      let all = true;
      for (let k = 0; k < len; k++) if (load<i32>(at(byteIds, <i32>load<u8>(p + <usize>(i + k)))) < 0) all = false;
      if (all) {
        for (let k = 0; k < len; k++) store<i32>(at(sid, m++), load<i32>(at(byteIds, <i32>load<u8>(p + <usize>(i + k)))));
        prevUnk = false;
      } else if (unkId >= 0) {
        if (!(fuseUnk && prevUnk)) store<i32>(at(sid, m++), unkId);
        prevUnk = true;
      }
    }
    i += len;
  }
  return m;
}

/** Encodes word p[0..n) to out + o (in ids); returns the number of ids. */
function encodeWord(p: usize, n: i32, o: i32): i32 {
  const dst = at(out, o);
  const hit = cacheGet(p, n, dst);
  if (hit >= 0) return hit;
  const k = mergeRun(symbols(p, n));
  memory.copy(dst, sid, <usize>k << 2);
  cachePut(p, n, dst, k);
  return k;
}

export function bpe_encode(nBytes: i32, nWords: i32): i32 {
  let pos = 0, units = 0, o = 0;
  for (let w = 0; w < nWords; w++) {
    const end = load<i32>(at(ends, w));
    const start = pos;
    while (units < end && pos < nBytes) {
      const b = <u32>load<u8>(input + <usize>pos);
      if (b < 0x80) { pos += 1; units += 1; }
      else if (b < 0xe0) { pos += 2; units += 1; }
      else if (b < 0xf0) { pos += 3; units += 1; }
      else { pos += 4; units += 2; }
    }
    if (pos > nBytes) pos = nBytes;
    if (pos > start) o += encodeWord(input + <usize>start, pos - start, o);
  }
  return o;
}
