// heap: the indexed binary max-heap of merge.ts's merge loop: at most one entry per symbol s = 0..m-1, each
// filed with a u32 priority (bigger = merged first, 0 is never filed), removable by symbol in O(log m).
//
// Key order: an entry is one u64 key = (priority << 32) | ~s, compared as an unsigned integer, so a bigger key
// means a higher priority, then a smaller s (the leftmost symbol, as s is the symbol's initial position). The
// top is then exactly the pair a naive left-to-right scan with a strict `>` would pick (run.c, sentencepiece
// bpe_model.cc, HF Word::merge_all); the symbol is recovered from the key's low half.
//
// Scratch arrays (allocated by heapAlloc(m) from mem.ts, reused for every run of up to m symbols):
//   heap u64[m]  the keys, heap[0] the top
//   hpos i32[m]  position of symbol s in heap, -1 when s is not filed (heapClear sets all to -1)

import { bumpAlloc } from './mem';

let heap: usize = 0;
let hpos: usize = 0;
export let hsize: i32 = 0;

@inline function at(base: usize, i: i32): usize { return base + (<usize>i << 2); }
@inline function at8(base: usize, i: i32): usize { return base + (<usize>i << 3); }

/** Allocates the heap for up to m symbols; false when out of memory. */
export function heapAlloc(m: usize): bool {
  hpos = bumpAlloc(m << 2);
  heap = bumpAlloc(m << 3);
  return hpos != 0 && heap != 0;
}

/** Empties the heap for a run of m symbols. */
export function heapClear(m: i32): void {
  memory.fill(hpos, 0xff, <usize>m << 2); // -1
  hsize = 0;
}

@inline function symOf(key: u64): i32 { return <i32>(~<u32>key); }

/** The symbol on top: the highest priority, then the leftmost (the heap must not be empty). */
@inline export function heapTop(): i32 { return symOf(load<u64>(heap)); }

/** Is symbol s filed? */
@inline export function heapHas(s: i32): bool { return load<i32>(at(hpos, s)) >= 0; }

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

/** Files symbol s (which must not be filed) with priority prio > 0. */
export function heapPush(s: i32, prio: u32): void {
  hsize++;
  siftUp(hsize - 1, (<u64>prio << 32) | <u64>(~<u32>s));
}

/** Takes symbol s (which must be filed) out of the heap. */
export function heapRemove(s: i32): void {
  const i = load<i32>(at(hpos, s));
  store<i32>(at(hpos, s), -1);
  hsize--;
  if (i == hsize) return;
  const last = load<u64>(at8(heap, hsize));
  if (i > 0 && last > load<u64>(at8(heap, (i - 1) >> 1))) siftUp(i, last);
  else siftDown(i, last);
}
