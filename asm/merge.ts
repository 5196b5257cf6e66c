// merge: the BPE merge loop shared by bpe.ts (ranked merges: GPT-2 vocab.bpe / HF merges) and spm.ts
// (scored pieces: SentencePiece bpe_model.cc), over a run of m symbols s = 0..m-1 (s = initial position).
//
// Two pair rules (set by the caller through `rule`):
//   RULE_RANKS   (a, b) merges iff the merges table lists it; the lowest rank goes first; the result is the
//                table's id (HF tokenizers Word::merge_all, GPT-2 encoder.py bpe()).
//   RULE_SCORES  (a, b) merges iff the bytes of a ++ b are a mergeable piece; the highest score goes first
//                (sentencepiece bpe_model.cc: any concatenation that is a piece, no threshold).
// Both break ties by the leftmost pair, as the reference priority queues do. A pair's priority is one u32,
// bigger = first: ~rank, or the score's bits mapped to an unsigned integer of the same order (+0 == -0).
//
// Scratch arrays (allocated by mergeAlloc(m) for the longest run of a call, reused for every run):
//   sid  i32[m]  token id of the symbol (-1: not a piece, SentencePiece only)
//   sbeg i32[m]  byte offset of the symbol in the input (RULE_SCORES)
//   slen i32[m]  byte length of the symbol (RULE_SCORES)
//   nxt, prv i32[m]  live neighbours (-1 at the ends);  cand i32[m]  id symbol ++ nxt[symbol] merges into
//   hpos i32[m]  position in heap, -1 when the symbol has no candidate
//   heap u64[m]  indexed binary max-heap of keys (priority << 32 | ~s), so the top is the best, leftmost pair
// Short runs (m <= SMALL) use mergeSmall: a linear scan over a compacted array, faster below ~32 symbols.
// Long runs use mergeHeap: O(log m) per merge, so a 100 kB word never goes quadratic.

import { bumpAlloc } from './mem';
import { vocabLookup, pieceFlags, pieceScore, FLAG_MERGEABLE } from './vocab';

export const RULE_RANKS: i32 = 0;
export const RULE_SCORES: i32 = 1;
export const SMALL: i32 = 32;

export let rule: i32 = RULE_RANKS;
export let input: usize = 0; // the bytes sbeg/slen point into (RULE_SCORES)
export let sid: usize = 0;
export let sbeg: usize = 0;
export let slen: usize = 0;
let nxt: usize = 0;
let prv: usize = 0;
let cand: usize = 0;
let hpos: usize = 0;
let heap: usize = 0;
let hsize: i32 = 0;

export function setRule(r: i32): void { rule = r; }
export function setInput(p: usize): void { input = p; }

@inline export function at(base: usize, i: i32): usize { return base + (<usize>i << 2); }
@inline function at8(base: usize, i: i32): usize { return base + (<usize>i << 3); }

/** Allocates the scratch arrays for runs of up to m symbols; false when out of memory. */
export function mergeAlloc(m: i32): bool {
  const n: usize = m > 0 ? <usize>m : 1;
  sid = bumpAlloc(n << 2); sbeg = bumpAlloc(n << 2); slen = bumpAlloc(n << 2);
  nxt = bumpAlloc(n << 2); prv = bumpAlloc(n << 2); cand = bumpAlloc(n << 2);
  hpos = bumpAlloc(n << 2); heap = bumpAlloc(n << 3);
  return sid != 0 && sbeg != 0 && slen != 0 && nxt != 0 && prv != 0 && cand != 0 && hpos != 0 && heap != 0;
}

// ---- ranked merges table: (a, b) -> (rank, id) ----------------------------------------------------------------
// Open addressing, entry = 4 x i32 (a, b, rank, id), a = -1: empty; cap = pow2 >= 2 * nMerges.
// On a repeated (a, b) the later line wins, as a Python dict / Rust HashMap built from the list does.

let mtab: usize = 0;
let mmask: u32 = 0;

@inline function pairHash(a: i32, b: i32): u32 {
  let h = <u32>a * 0x9e3779b1 ^ <u32>b * 0x85ebca77;
  return h ^ (h >>> 15);
}

export function mergesAlloc(nMerges: i32): bool {
  let cap: u32 = 16;
  while (cap < <u32>nMerges * 2) cap <<= 1;
  mmask = cap - 1;
  mtab = bumpAlloc(<usize>cap << 4);
  if (mtab == 0) return false;
  memory.fill(mtab, 0xff, <usize>cap << 4);
  return true;
}

export function mergesAdd(a: i32, b: i32, rank: i32, id: i32): void {
  let i = pairHash(a, b) & mmask;
  while (true) {
    const e = mtab + (<usize>i << 4);
    const ea = load<i32>(e);
    if (ea == -1 || (ea == a && load<i32>(e, 4) == b)) {
      store<i32>(e, a); store<i32>(e, b, 4); store<i32>(e, rank, 8); store<i32>(e, id, 12);
      return;
    }
    i = (i + 1) & mmask;
  }
}

// ---- the pair rule --------------------------------------------------------------------------------------------

let pairId: i32 = -1; // result of the last pairPrio call

/** Priority of merging symbols l and r (0: they do not merge); sets pairId. */
function pairPrio(l: i32, r: i32): u32 {
  if (rule == RULE_RANKS) {
    const a = load<i32>(at(sid, l)), b = load<i32>(at(sid, r));
    let i = pairHash(a, b) & mmask;
    while (true) {
      const e = mtab + (<usize>i << 4);
      const ea = load<i32>(e);
      if (ea == -1) return 0;
      if (ea == a && load<i32>(e, 4) == b) {
        pairId = load<i32>(e, 12);
        return ~<u32>load<i32>(e, 8);
      }
      i = (i + 1) & mmask;
    }
  }
  const id = vocabLookup(input + <usize>load<i32>(at(sbeg, l)), load<i32>(at(slen, l)) + load<i32>(at(slen, r)));
  if (id < 0 || !(pieceFlags(id) & FLAG_MERGEABLE)) return 0;
  pairId = id;
  const bits = reinterpret<u32>(pieceScore(id) + <f32>0.0); // -0 + 0 = +0
  const ord = (bits & 0x80000000) ? ~bits : bits | 0x80000000;
  return ord == 0 ? 1 : ord;
}

// ---- short runs: linear scan ----------------------------------------------------------------------------------

/** Merges symbols 0..m-1 in place; the result is compacted to sid[0..k) (and sbeg/slen); returns k. */
export function mergeSmall(m: i32): i32 {
  // cand[i] / hpos[i] hold the id and priority of pair (i, i+1)
  for (let i = 0; i + 1 < m; i++) {
    store<u32>(at(hpos, i), pairPrio(i, i + 1));
    store<i32>(at(cand, i), pairId);
  }
  while (m > 1) {
    let best: u32 = 0, bi = -1;
    for (let i = 0; i + 1 < m; i++) {
      const p = load<u32>(at(hpos, i));
      if (p > best) { best = p; bi = i; }
    }
    if (bi < 0) break;
    // symbol bi absorbs bi+1; shift the tail left by one
    store<i32>(at(sid, bi), load<i32>(at(cand, bi)));
    store<i32>(at(slen, bi), load<i32>(at(slen, bi)) + load<i32>(at(slen, bi + 1)));
    const tail = <usize>(m - bi - 2) << 2;
    memory.copy(at(sid, bi + 1), at(sid, bi + 2), tail);
    memory.copy(at(sbeg, bi + 1), at(sbeg, bi + 2), tail);
    memory.copy(at(slen, bi + 1), at(slen, bi + 2), tail);
    memory.copy(at(cand, bi + 1), at(cand, bi + 2), tail);
    memory.copy(at(hpos, bi + 1), at(hpos, bi + 2), tail);
    m--;
    if (bi + 1 < m) { store<u32>(at(hpos, bi), pairPrio(bi, bi + 1)); store<i32>(at(cand, bi), pairId); }
    if (bi > 0) { store<u32>(at(hpos, bi - 1), pairPrio(bi - 1, bi)); store<i32>(at(cand, bi - 1), pairId); }
  }
  return m;
}

// ---- long runs: indexed max-heap over the linked list ---------------------------------------------------------

@inline function symOf(key: u64): i32 { return <i32>(~<u32>key); }

@inline function place(i: i32, key: u64): void {
  store<u64>(at8(heap, i), key);
  store<i32>(at(hpos, symOf(key)), i);
}

function siftUp(i: i32, key: u64): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const pk = load<u64>(at8(heap, parent));
    if (pk >= key) break;
    place(i, pk);
    i = parent;
  }
  place(i, key);
}

function siftDown(i: i32, key: u64): void {
  while (true) {
    let c = 2 * i + 1;
    if (c >= hsize) break;
    let ck = load<u64>(at8(heap, c));
    if (c + 1 < hsize) {
      const rk = load<u64>(at8(heap, c + 1));
      if (rk > ck) { c++; ck = rk; }
    }
    if (key >= ck) break;
    place(i, ck);
    i = c;
  }
  place(i, key);
}

function heapRemove(s: i32): void {
  const i = load<i32>(at(hpos, s));
  store<i32>(at(hpos, s), -1);
  hsize--;
  if (i == hsize) return;
  const last = load<u64>(at8(heap, hsize));
  if (i > 0 && last > load<u64>(at8(heap, (i - 1) >> 1))) siftUp(i, last);
  else siftDown(i, last);
}

/** Recomputes symbol s's candidate merge with its right neighbour and (re)files it in the heap. */
function refresh(s: i32): void {
  if (load<i32>(at(hpos, s)) >= 0) heapRemove(s);
  const r = load<i32>(at(nxt, s));
  if (r < 0) return;
  const p = pairPrio(s, r);
  if (p == 0) return;
  store<i32>(at(cand, s), pairId);
  hsize++;
  siftUp(hsize - 1, (<u64>p << 32) | <u64>(~<u32>s));
}

/** Merges symbols 0..m-1, then compacts the survivors to sid[0..k) (and sbeg/slen); returns k. */
export function mergeHeap(m: i32): i32 {
  for (let s = 0; s < m; s++) {
    store<i32>(at(nxt, s), s + 1 < m ? s + 1 : -1);
    store<i32>(at(prv, s), s - 1);
    store<i32>(at(hpos, s), -1);
  }
  hsize = 0;
  for (let s = 0; s < m; s++) refresh(s);
  while (hsize > 0) {
    // 1. pop the best pair (l, r); l absorbs r
    const l = symOf(load<u64>(heap));
    heapRemove(l);
    const r = load<i32>(at(nxt, l));
    store<i32>(at(sid, l), load<i32>(at(cand, l)));
    store<i32>(at(slen, l), load<i32>(at(slen, l)) + load<i32>(at(slen, r)));
    if (load<i32>(at(hpos, r)) >= 0) heapRemove(r);
    // 2. unlink r
    const rr = load<i32>(at(nxt, r));
    store<i32>(at(nxt, l), rr);
    if (rr >= 0) store<i32>(at(prv, rr), l);
    // 3. only l's pair and its left neighbour's pair changed
    refresh(l);
    const p = load<i32>(at(prv, l));
    if (p >= 0) refresh(p);
  }
  // 4. compact: survivors in order (symbol 0 is always live); k <= s, so writes never overtake reads
  let k = 0;
  for (let s = m > 0 ? 0 : -1; s >= 0; s = load<i32>(at(nxt, s))) {
    store<i32>(at(sid, k), load<i32>(at(sid, s)));
    store<i32>(at(sbeg, k), load<i32>(at(sbeg, s)));
    store<i32>(at(slen, k), load<i32>(at(slen, s)));
    k++;
  }
  return k;
}

/** mergeSmall or mergeHeap, by length. */
export function mergeRun(m: i32): i32 {
  return m <= SMALL ? mergeSmall(m) : mergeHeap(m);
}
