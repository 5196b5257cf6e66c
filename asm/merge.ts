// merge: the BPE merge loop shared by bpe.ts (ranked merges: GPT-2 vocab.bpe / HF merges), spm.ts (scored
// pieces: SentencePiece bpe_model.cc) and llama2c.ts (run.c), over a run of m symbols s = 0..m-1
// (s = initial position).
//
// Three pair rules (set by the caller through `rule`):
//   RULE_RANKS   (a, b) merges iff the merges table lists it; the lowest rank goes first; the result is the
//                table's id (HF tokenizers Word::merge_all, GPT-2 encoder.py bpe()).
//   RULE_SCORES  (a, b) merges iff the input bytes of a ++ b are a mergeable piece; the highest score goes first
//                (sentencepiece bpe_model.cc: any concatenation that is a piece, no threshold).
//   RULE_PIECES  (a, b) merges iff the piece strings of a ++ b are a piece with score > -1e10 (NaN never); the
//                highest score goes first (run.c encode: sprintf("%s%s") + str_lookup, best_score = -1e10, so
//                e.g. "<0x41>"-literal text can form the byte piece, as in run.c). Looked up through `pairs`.
// All break ties by the leftmost pair, as the reference loops do. A pair's priority is one u32, bigger = first
// (0 = no merge): ~rank, or the score's bits mapped to an unsigned integer of the same order (+0 == -0).
//
// Scratch arrays (allocated by mergeAlloc(m) for the longest run of a call, reused for every run):
//   sid  i32[m]  token id of the symbol (-1: not a piece, SentencePiece only)
//   sbeg i32[m]  byte offset of the symbol in the input (RULE_SCORES)
//   slen i32[m]  byte length of the symbol (RULE_SCORES)
//   nxt, prv i32[m]  live neighbours (-1 at the ends);  cand i32[m]  id symbol ++ nxt[symbol] merges into
//   + heap.ts's indexed max-heap of symbols by (priority, leftmost)
// Short runs (m <= SMALL) use mergeSmall: a linear scan over a compacted array, faster below ~32 symbols.
// Long runs use mergeHeap: O(log m) per merge, so a 100 kB word (or a whole 1 MB llama2.c text) never goes
// quadratic. Either is exactly the naive loop: rescan all adjacent pairs, merge the best, leftmost on ties.

import { bumpAlloc } from './mem';
import { vocabLookup, pieceFlags, pieceScore, piecePtr, pieceLen, maxPieceLen, FLAG_MERGEABLE } from './vocab';
import { heapAlloc, heapClear, heapHas, heapPush, heapRemove, heapTop, hsize } from './heap';

export const RULE_RANKS: i32 = 0;
export const RULE_SCORES: i32 = 1;
export const RULE_PIECES: i32 = 2;
export const SMALL: i32 = 32;
const NO_MERGE: f32 = -1e10; // RULE_PIECES: run.c's float best_score = -1e10

export let rule: i32 = RULE_RANKS;
export let input: usize = 0; // the bytes sbeg/slen point into (RULE_SCORES)
export let sid: usize = 0;
export let sbeg: usize = 0;
export let slen: usize = 0;
let nxt: usize = 0;
let prv: usize = 0;
let cand: usize = 0;
const prio: usize = memory.data(SMALL << 2, 16); // mergeSmall: u32[SMALL] priority of pair (i, i+1) (static)

export function setRule(r: i32): void { rule = r; }
export function setInput(p: usize): void { input = p; }

@inline export function at(base: usize, i: i32): usize { return base + (<usize>i << 2); }

/** Allocates the scratch arrays for runs of up to m symbols; false when out of memory. */
export function mergeAlloc(m: i32): bool {
  const n: usize = m > 0 ? <usize>m : 1;
  sid = bumpAlloc(n << 2); sbeg = bumpAlloc(n << 2); slen = bumpAlloc(n << 2);
  nxt = bumpAlloc(n << 2); prv = bumpAlloc(n << 2); cand = bumpAlloc(n << 2);
  return heapAlloc(n) && sid != 0 && sbeg != 0 && slen != 0 && nxt != 0 && prv != 0 && cand != 0;
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

// ---- piece pairs (RULE_PIECES): (a, b) -> id of the piece a ++ b ---------------------------------------------
// A direct-mapped cache: 2^PAIR_BITS entries of 3 x i32 (a, b, id or -1), a = -1: empty, a colliding pair
// replaces the old one; misses concatenate the two piece strings in `cat` (u8[maxPieceLen]) for vocabLookup.
// Persistent (pairsAlloc runs after vocab_build): a vocab's pairs never change.

const PAIR_BITS: u32 = 16;
let pairs: usize = 0;
let cat: usize = 0;

export function pairsAlloc(): bool {
  pairs = bumpAlloc(<usize>12 << PAIR_BITS);
  cat = bumpAlloc(<usize>maxPieceLen + 1);
  if (pairs == 0 || cat == 0) return false;
  memory.fill(pairs, 0xff, <usize>12 << PAIR_BITS);
  return true;
}

function piecePair(a: i32, b: i32): i32 {
  const e = pairs + <usize>(pairHash(a, b) >>> (32 - PAIR_BITS)) * 12;
  if (load<i32>(e) == a && load<i32>(e, 4) == b) return load<i32>(e, 8);
  const na = pieceLen(a), nb = pieceLen(b);
  let id = -1;
  if (na + nb <= maxPieceLen) {
    memory.copy(cat, piecePtr(a), <usize>na);
    memory.copy(cat + <usize>na, piecePtr(b), <usize>nb);
    id = vocabLookup(cat, na + nb);
  }
  store<i32>(e, a); store<i32>(e, b, 4); store<i32>(e, id, 8);
  return id;
}

// ---- the pair rule --------------------------------------------------------------------------------------------

let pairId: i32 = -1; // result of the last pairPrio call

/** Priority of merging symbols l and r (0: they do not merge); sets pairId. Inlined: a call per refresh costs
 * the llama2.c loop (one heap run over the whole text) a few per cent. */
@inline function pairPrio(l: i32, r: i32): u32 {
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
  let id: i32;
  if (rule == RULE_SCORES) {
    id = vocabLookup(input + <usize>load<i32>(at(sbeg, l)), load<i32>(at(slen, l)) + load<i32>(at(slen, r)));
    if (id < 0 || !(pieceFlags(id) & FLAG_MERGEABLE)) return 0;
  } else {
    id = piecePair(load<i32>(at(sid, l)), load<i32>(at(sid, r)));
    if (id < 0 || !(pieceScore(id) > NO_MERGE)) return 0;
  }
  pairId = id;
  const bits = reinterpret<u32>(pieceScore(id) + <f32>0.0); // -0 + 0 = +0
  const ord = (bits & 0x80000000) ? ~bits : bits | 0x80000000;
  return ord == 0 ? 1 : ord;
}

// ---- short runs: linear scan ----------------------------------------------------------------------------------

/** Merges symbols 0..m-1 (m <= SMALL) in place; the result is compacted to sid[0..k) (and sbeg/slen); returns k. */
function mergeSmall(m: i32): i32 {
  // cand[i] / prio[i] hold the id and priority of pair (i, i+1)
  for (let i = 0; i + 1 < m; i++) {
    store<u32>(at(prio, i), pairPrio(i, i + 1));
    store<i32>(at(cand, i), pairId);
  }
  while (m > 1) {
    let best: u32 = 0, bi = -1;
    for (let i = 0; i + 1 < m; i++) {
      const p = load<u32>(at(prio, i));
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
    memory.copy(at(prio, bi + 1), at(prio, bi + 2), tail);
    m--;
    if (bi + 1 < m) { store<u32>(at(prio, bi), pairPrio(bi, bi + 1)); store<i32>(at(cand, bi), pairId); }
    if (bi > 0) { store<u32>(at(prio, bi - 1), pairPrio(bi - 1, bi)); store<i32>(at(cand, bi - 1), pairId); }
  }
  return m;
}

// ---- long runs: heap.ts over the linked list ------------------------------------------------------------------

/** Recomputes symbol s's candidate merge with its right neighbour and (re)files it in the heap. */
function refresh(s: i32): void {
  if (heapHas(s)) heapRemove(s);
  const r = load<i32>(at(nxt, s));
  if (r < 0) return;
  const p = pairPrio(s, r);
  if (p == 0) return;
  store<i32>(at(cand, s), pairId);
  heapPush(s, p);
}

/** Merges symbols 0..m-1, then compacts the survivors to sid[0..k) (and sbeg/slen for RULE_SCORES); returns k. */
function mergeHeap(m: i32): i32 {
  const spans = rule == RULE_SCORES; // only RULE_SCORES reads sbeg/slen
  for (let s = 0; s < m; s++) {
    store<i32>(at(nxt, s), s + 1 < m ? s + 1 : -1);
    store<i32>(at(prv, s), s - 1);
  }
  heapClear(m);
  for (let s = 0; s < m; s++) refresh(s);
  while (hsize > 0) {
    // 1. pop the best pair (l, r); l absorbs r
    const l = heapTop();
    heapRemove(l);
    const r = load<i32>(at(nxt, l));
    store<i32>(at(sid, l), load<i32>(at(cand, l)));
    if (spans) store<i32>(at(slen, l), load<i32>(at(slen, l)) + load<i32>(at(slen, r)));
    if (heapHas(r)) heapRemove(r);
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
    if (spans) {
      store<i32>(at(sbeg, k), load<i32>(at(sbeg, s)));
      store<i32>(at(slen, k), load<i32>(at(slen, s)));
    }
    k++;
  }
  return k;
}

/** Merges symbols 0..m-1 (sid, and sbeg/slen for RULE_SCORES) by the current rule: mergeSmall or mergeHeap, by
 * length. The survivors are compacted to sid[0..k) (and sbeg/slen for RULE_SCORES); returns k. */
export function mergeRun(m: i32): i32 {
  return m <= SMALL ? mergeSmall(m) : mergeHeap(m);
}
