// llama2c: the llama2.c (run.c) tokenizer's piece lookup and BPE merge loop, bytes in / ints out.
//
// JS (src/tokenizer.ts) validates tokenizer.bin, then:
//   1. tok_init(nVocab, blobLen)   allocates the persistent vocab blocks (returns 0 when out of memory);
//   2. fills them through the pointers tok_scores_ptr / tok_offs_ptr / tok_lens_ptr / tok_blob_ptr;
//   3. tok_build()                 builds the piece hash table (returns the number of duplicate pieces, -1 on OOM).
// Per encode call:
//   4. tok_encode_begin(nBytes)    drops the previous call's scratch, allocates the input and work arrays and
//                                  returns the input pointer (0 when out of memory); JS writes the UTF-8 bytes;
//   5. tok_encode(nBytes, bos)     returns the number of ids written at tok_out_ptr() (i32), or
//                                  -2 when the vocab has no " " piece for the dummy prefix.
// Memory may grow in 1, 3 and 4: JS re-creates its typed views after each call.
//
// Persistent layout (allocated by tok_init/tok_build, from mem.ts's bump allocator):
//   scores f32[nVocab]   piece score
//   offs   i32[nVocab]   piece start, as a byte offset into blob
//   lens   i32[nVocab]   piece length in bytes
//   blob   u8[blobLen]   piece bytes (JS copies the whole tokenizer.bin there; offs point inside it)
//   table  i32[cap]      open-addressing hash table (FNV-1a, linear probing), cap = pow2 >= 2 * nVocab;
//                        entry = id + 1, 0 = empty; on duplicate pieces the lowest id wins
//   pairs  i32[3 << 16]  direct-mapped cache of pair lookups: (a, b, id of piece a ++ b or -1); a = -1: empty
// Scratch layout for an input of n bytes (m = n + 2 symbols at most: BOS, dummy prefix, one per byte):
//   input  u8[n]
//   ids    i32[m]  symbol -> token id            (symbols are indexed by their initial position)
//   nxt    i32[m]  next live symbol, -1 at the end
//   prv    i32[m]  previous live symbol, -1 at the start
//   cand   i32[m]  id of the piece symbol + nxt[symbol] would merge into (valid while the symbol is in the heap)
//   hpos   i32[m]  position of the symbol in heap, -1 when it has no candidate merge
//   heap   u64[m]  indexed binary max-heap of keys (score of cand desc, symbol asc), see keyOf; reused for the
//                  output ids (i32) once empty
//
// Exactness vs run.c's naive loop (rescan all adjacent pairs, merge the best score, strict `>` so the leftmost
// wins ties, never merge unless score > -1e10): every live symbol whose pair with its right neighbour is a
// piece is in the heap exactly once, with that piece's score. Symbols keep their initial position when they
// absorb their right neighbour, so position order is sequence order and the heap top is run.c's choice.
// After a merge only the merged symbol's and its left neighbour's candidates change; the absorbed symbol
// leaves the heap. Each merge costs O(log n), so a whole 1 MB text is merged at once (no chunking, which
// would not be equivalent). Pairs are looked up as the concatenation of the two piece strings, as run.c's
// sprintf("%s%s") + str_lookup does (so e.g. "<0x41>"-literal text can form the byte piece, as in run.c).

import { bumpAlloc, bumpResetAll, bumpMarkPersistent, scratchReset } from './mem';

const NO_MERGE: f32 = -1e10; // run.c: float best_score = -1e10
const SPACE: usize = memory.data<u8>([0x20]); // the dummy-prefix piece " " (static data, below __heap_base)

let nVocab: i32 = 0;
let scores: usize = 0;
let offs: usize = 0;
let lens: usize = 0;
let blob: usize = 0;
let table: usize = 0;
let mask: u32 = 0;
let maxLen: i32 = 0;
let spaceId: i32 = -1;
let pairs: usize = 0;
const PAIR_BITS: u32 = 16;

let ids: usize = 0;
let nxt: usize = 0;
let prv: usize = 0;
let cand: usize = 0;
let hpos: usize = 0;
let heap: usize = 0;
let hsize: i32 = 0;
let input: usize = 0;

// ---- vocab ----------------------------------------------------------------------------------------------

export function tok_init(n: i32, blobLen: i32): i32 {
  bumpResetAll();
  nVocab = n;
  scores = bumpAlloc(<usize>n << 2);
  offs = bumpAlloc(<usize>n << 2);
  lens = bumpAlloc(<usize>n << 2);
  blob = bumpAlloc(<usize>blobLen);
  table = 0;
  return scores != 0 && offs != 0 && lens != 0 && blob != 0 ? 1 : 0;
}

export function tok_scores_ptr(): usize { return scores; }
export function tok_offs_ptr(): usize { return offs; }
export function tok_lens_ptr(): usize { return lens; }
export function tok_blob_ptr(): usize { return blob; }
export function tok_out_ptr(): usize { return heap; }

@inline function pieceLen(id: i32): i32 { return load<i32>(lens + (<usize>id << 2)); }
@inline function piecePtr(id: i32): usize { return blob + <usize>load<i32>(offs + (<usize>id << 2)); }
@inline function pieceScore(id: i32): f32 { return load<f32>(scores + (<usize>id << 2)); }

@inline function fnv(h: u32, p: usize, n: i32): u32 {
  for (let i = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 16777619;
  return h;
}

function sameBytes(a: usize, b: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u8>(a + <usize>i) != load<u8>(b + <usize>i)) return false;
  return true;
}

/** Id of the piece whose bytes are a[0..na) ++ b[0..nb), or -1. */
function lookup(a: usize, na: i32, b: usize, nb: i32): i32 {
  const n = na + nb;
  if (n > maxLen) return -1;
  let i = fnv(fnv(2166136261, a, na), b, nb) & mask;
  while (true) {
    const e = load<i32>(table + (<usize>i << 2));
    if (e == 0) return -1;
    const id = e - 1;
    if (pieceLen(id) == n) {
      const p = piecePtr(id);
      if (sameBytes(p, a, na) && sameBytes(p + <usize>na, b, nb)) return id;
    }
    i = (i + 1) & mask;
  }
}

export function tok_build(): i32 {
  let cap: u32 = 16;
  while (cap < <u32>nVocab * 2) cap <<= 1;
  mask = cap - 1;
  table = bumpAlloc(<usize>cap << 2);
  if (table == 0) return -1;
  memory.fill(table, 0, <usize>cap << 2);
  maxLen = 0;
  let dup = 0;
  for (let id = 0; id < nVocab; id++) {
    const n = pieceLen(id);
    if (n > maxLen) maxLen = n;
  }
  for (let id = 0; id < nVocab; id++) {
    const p = piecePtr(id), n = pieceLen(id);
    let i = fnv(2166136261, p, n) & mask;
    while (true) {
      const e = load<i32>(table + (<usize>i << 2));
      if (e == 0) { store<i32>(table + (<usize>i << 2), id + 1); break; }
      const o = e - 1;
      if (pieceLen(o) == n && sameBytes(piecePtr(o), p, n)) { dup++; break; }
      i = (i + 1) & mask;
    }
  }
  spaceId = lookup(SPACE, 1, SPACE, 0);
  pairs = bumpAlloc(<usize>12 << PAIR_BITS);
  if (pairs == 0) return -1;
  memory.fill(pairs, 0xff, <usize>12 << PAIR_BITS); // a = b = -1: empty
  bumpMarkPersistent();
  return dup;
}

// ---- indexed max-heap of symbols with a candidate merge ----------------------------------------------------
// A heap entry is one u64 key: high 32 bits = the candidate's score mapped to an unsigned integer of the same
// order (-0 and +0 both map to the same key, as they compare equal in run.c), low 32 bits = ~symbol, so that
// a bigger key means a higher score, then a smaller (more leftward) symbol. The symbol is recovered from the key.

@inline function at(base: usize, i: i32): usize { return base + (<usize>i << 2); }
@inline function at8(base: usize, i: i32): usize { return base + (<usize>i << 3); }

@inline function keyOf(score: f32, s: i32): u64 {
  const bits = reinterpret<u32>(score + <f32>0.0); // -0 + 0 = +0
  const ord = (bits & 0x80000000) ? ~bits : bits | 0x80000000;
  return (<u64>ord << 32) | <u64>(~<u32>s);
}
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

/** lookup() of the concatenation of pieces a and b, through a direct-mapped cache of (a, b) -> id. */
function pairLookup(a: i32, b: i32): i32 {
  const h = ((<u32>a * 0x9e3779b1) ^ (<u32>b * 0x85ebca77)) >>> (32 - PAIR_BITS);
  const e = pairs + <usize>h * 12;
  if (load<i32>(e) == a && load<i32>(e, 4) == b) return load<i32>(e, 8);
  const id = lookup(piecePtr(a), pieceLen(a), piecePtr(b), pieceLen(b));
  store<i32>(e, a);
  store<i32>(e, b, 4);
  store<i32>(e, id, 8);
  return id;
}

/** Recomputes symbol s's candidate merge with its right neighbour and (re)files it in the heap. */
function refresh(s: i32): void {
  if (load<i32>(at(hpos, s)) >= 0) heapRemove(s);
  const r = load<i32>(at(nxt, s));
  if (r < 0) return;
  const a = load<i32>(at(ids, s)), b = load<i32>(at(ids, r));
  const id = pairLookup(a, b);
  if (id < 0) return;
  const sc = pieceScore(id);
  if (!(sc > NO_MERGE)) return; // run.c only merges when score > best_score = -1e10 (NaN never merges)
  store<i32>(at(cand, s), id);
  hsize++;
  siftUp(hsize - 1, keyOf(sc, s));
}

// ---- encode -----------------------------------------------------------------------------------------------

export function tok_encode_begin(n: i32): usize {
  scratchReset();
  const m = <usize>n + 2;
  input = bumpAlloc(<usize>n);
  ids = bumpAlloc(m << 2);
  nxt = bumpAlloc(m << 2);
  prv = bumpAlloc(m << 2);
  cand = bumpAlloc(m << 2);
  hpos = bumpAlloc(m << 2);
  heap = bumpAlloc(m << 3);
  if (input == 0 || ids == 0 || nxt == 0 || prv == 0 || cand == 0 || hpos == 0 || heap == 0) return 0;
  return input;
}

@inline function push(m: i32, id: i32): i32 {
  store<i32>(at(ids, m), id);
  return m + 1;
}

export function tok_encode(n: i32, bos: i32): i32 {
  // 1. initial symbols, as run.c: BOS, the dummy-prefix " " when the text is non-empty, then per UTF-8
  //    character (a byte plus at most 3 following continuation bytes) its piece, else its bytes as byte + 3.
  let m = 0;
  if (bos) m = push(m, 1);
  if (n > 0) {
    if (spaceId < 0) return -2;
    m = push(m, spaceId);
  }
  let i = 0;
  while (i < n) {
    const start = i;
    let len = 1;
    i++;
    while (i < n && (load<u8>(input + <usize>i) & 0xc0) == 0x80 && len < 4) { len++; i++; }
    const id = lookup(input + <usize>start, len, input, 0);
    if (id >= 0) m = push(m, id);
    else for (let k = 0; k < len; k++) m = push(m, <i32>load<u8>(input + <usize>(start + k)) + 3);
  }
  // 2. linked list and heap of candidate merges
  for (let s = 0; s < m; s++) {
    store<i32>(at(nxt, s), s + 1 < m ? s + 1 : -1);
    store<i32>(at(prv, s), s - 1);
    store<i32>(at(hpos, s), -1);
  }
  hsize = 0;
  for (let s = 0; s < m; s++) refresh(s);
  // 3. merge the best pair until none is left
  while (hsize > 0) {
    const l = symOf(load<u64>(heap));
    heapRemove(l);
    const r = load<i32>(at(nxt, l));
    store<i32>(at(ids, l), load<i32>(at(cand, l)));
    if (load<i32>(at(hpos, r)) >= 0) heapRemove(r);
    const rr = load<i32>(at(nxt, r));
    store<i32>(at(nxt, l), rr);
    if (rr >= 0) store<i32>(at(prv, rr), l);
    refresh(l);
    const p = load<i32>(at(prv, l));
    if (p >= 0) refresh(p);
  }
  // 4. output: the live symbols in order (symbol 0 is always live), written over the (empty) heap
  let k = 0;
  for (let s = m > 0 ? 0 : -1; s >= 0; s = load<i32>(at(nxt, s))) {
    store<i32>(at(heap, k), load<i32>(at(ids, s)));
    k++;
  }
  return k;
}
