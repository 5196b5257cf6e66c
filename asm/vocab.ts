// vocab: the piece table shared by bpe.ts, spm.ts and llama2c.ts: piece bytes by id, and an open-addressing hash
// table from bytes to id (FNV-1a, linear probing; the lowest id wins on duplicate pieces).
//
// JS fills, in order (memory may grow in each step: re-create typed views after every call):
//   1. vocab_init(nVocab, blobLen)  allocates the blocks below (drops everything else: one tokenizer per instance);
//   2. writes offs, lens, blob, scores, flags through the *_ptr exports;
//   3. vocab_build()                builds the hash table, returns the number of duplicate pieces (-1 on OOM).
//
// Layout (persistent, from mem.ts):
//   offs   i32[nVocab]  piece start, as a byte offset into blob
//   lens   i32[nVocab]  piece length in bytes
//   blob   u8[blobLen]  piece bytes (UTF-8)
//   scores f32[nVocab]  SentencePiece / llama2.c score (unused by ranked BPE)
//   flags  u8[nVocab]   FLAG_* bits below
//   table  i32[cap]     entry = id + 1, 0 = empty; cap = pow2 >= 2 * nVocab

import { bumpAlloc, bumpResetAll } from './mem';

export const FLAG_MERGEABLE: u8 = 1; // SentencePiece: a NORMAL, USER_DEFINED or UNUSED piece (bpe_model.cc pieces_)
export const FLAG_UNKNOWN: u8 = 2;   // SentencePiece: the UNKNOWN piece (<unk>)

export let nVocab: i32 = 0;
let offs: usize = 0;
let lens: usize = 0;
let blob: usize = 0;
let scores: usize = 0;
let flags: usize = 0;
let table: usize = 0;
let mask: u32 = 0;
export let maxPieceLen: i32 = 0;

export function vocab_init(n: i32, blobLen: i32): i32 {
  bumpResetAll();
  nVocab = n;
  offs = bumpAlloc(<usize>n << 2);
  lens = bumpAlloc(<usize>n << 2);
  blob = bumpAlloc(<usize>blobLen);
  scores = bumpAlloc(<usize>n << 2);
  flags = bumpAlloc(<usize>n);
  table = 0;
  if (offs == 0 || lens == 0 || blob == 0 || scores == 0 || flags == 0) return 0;
  memory.fill(flags, 0, <usize>n);
  return 1;
}

export function vocab_offs_ptr(): usize { return offs; }
export function vocab_lens_ptr(): usize { return lens; }
export function vocab_blob_ptr(): usize { return blob; }
export function vocab_scores_ptr(): usize { return scores; }
export function vocab_flags_ptr(): usize { return flags; }

@inline export function pieceLen(id: i32): i32 { return load<i32>(lens + (<usize>id << 2)); }
@inline export function piecePtr(id: i32): usize { return blob + <usize>load<i32>(offs + (<usize>id << 2)); }
@inline export function pieceScore(id: i32): f32 { return load<f32>(scores + (<usize>id << 2)); }
@inline export function pieceFlags(id: i32): u8 { return load<u8>(flags + <usize>id); }

@inline export function fnv(h: u32, p: usize, n: i32): u32 {
  for (let i = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 16777619;
  return h;
}

export function sameBytes(a: usize, b: usize, n: i32): bool {
  let i = 0;
  for (; i + 8 <= n; i += 8) if (load<u64>(a + <usize>i) != load<u64>(b + <usize>i)) return false;
  for (; i < n; i++) if (load<u8>(a + <usize>i) != load<u8>(b + <usize>i)) return false;
  return true;
}

/** Id of the piece whose bytes are p[0..n), or -1. */
export function vocabLookup(p: usize, n: i32): i32 {
  if (n > maxPieceLen) return -1;
  let i = fnv(2166136261, p, n) & mask;
  while (true) {
    const e = load<i32>(table + (<usize>i << 2));
    if (e == 0) return -1;
    const id = e - 1;
    if (pieceLen(id) == n && sameBytes(piecePtr(id), p, n)) return id;
    i = (i + 1) & mask;
  }
}

export function vocab_build(): i32 {
  let cap: u32 = 16;
  while (cap < <u32>nVocab * 2) cap <<= 1;
  mask = cap - 1;
  table = bumpAlloc(<usize>cap << 2);
  if (table == 0) return -1;
  memory.fill(table, 0, <usize>cap << 2);
  maxPieceLen = 0;
  let dup = 0;
  for (let id = 0; id < nVocab; id++) {
    const p = piecePtr(id), n = pieceLen(id);
    if (n > maxPieceLen) maxPieceLen = n;
    let i = fnv(2166136261, p, n) & mask;
    while (true) {
      const e = load<i32>(table + (<usize>i << 2));
      if (e == 0) { store<i32>(table + (<usize>i << 2), id + 1); break; }
      const o = e - 1;
      if (pieceLen(o) == n && sameBytes(piecePtr(o), p, n)) { dup++; break; }
      i = (i + 1) & mask;
    }
  }
  return dup;
}
