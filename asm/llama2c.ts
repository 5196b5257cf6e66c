// llama2c: the llama2.c (run.c) tokenizer's encode, bytes in / ints out: the initial symbols here, then
// merge.ts RULE_PIECES (merge the adjacent pair whose concatenated piece strings are the piece with the highest
// score, leftmost on ties, never unless score > -1e10) over the whole text at once.
//
// Set-up (JS, src/tokenizers/llama2c.ts, validates tokenizer.bin first):
//   1. vocab.ts steps 1-3 (vocab_init, offs/lens/blob/scores, vocab_build): pieces by id and their hash table
//      (on duplicate pieces the lowest id wins); flags stay 0, RULE_PIECES does not read them;
//   2. tok_init()                  finds the dummy-prefix piece " ", allocates merge.ts's piece-pair cache and
//                                  makes everything so far persistent (returns 0 when out of memory).
// Per encode call:
//   3. tok_encode_begin(nBytes)    drops the previous call's scratch, allocates the input and merge.ts's arrays
//                                  and returns the input pointer (0 when out of memory); JS writes the UTF-8 bytes;
//   4. tok_encode(nBytes, bos)     returns the number of ids written at tok_out_ptr() (i32), or
//                                  -2 when the vocab has no " " piece for the dummy prefix.
// Memory may grow in 1, 2 and 3: JS re-creates its typed views after each call.
//
// Scratch layout for an input of n bytes (m = n + 2 symbols at most: BOS, dummy prefix, one per byte):
//   input  u8[n]
//   + merge.ts's arrays for m symbols; sid holds the initial ids, then the output ids (tok_out_ptr)
//
// Exactness vs run.c's naive loop (rescan all adjacent pairs, merge the best score, strict `>` so the leftmost
// wins ties, never merge unless score > -1e10): merge.ts's mergeHeap picks run.c's pair at each step (see
// heap.ts's key order), at O(log n) per merge, so a whole 1 MB text is merged at once (no chunking, which
// would not be equivalent).

import { bumpAlloc, bumpMarkPersistent, scratchReset } from './mem';
import { vocabLookup } from './vocab';
import { mergeAlloc, mergeRun, pairsAlloc, setRule, at, sid, RULE_PIECES } from './merge';

const SPACE: usize = memory.data<u8>([0x20]); // the dummy-prefix piece " " (static data, below __heap_base)

let spaceId: i32 = -1;
let input: usize = 0;

export function tok_init(): i32 {
  spaceId = vocabLookup(SPACE, 1);
  if (!pairsAlloc()) return 0;
  bumpMarkPersistent();
  return 1;
}

export function tok_out_ptr(): usize { return sid; }

export function tok_encode_begin(n: i32): usize {
  scratchReset();
  input = bumpAlloc(<usize>n);
  if (input == 0 || !mergeAlloc(n + 2)) return 0;
  setRule(RULE_PIECES);
  return input;
}

@inline function push(m: i32, id: i32): i32 {
  store<i32>(at(sid, m), id);
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
    const id = vocabLookup(input + <usize>start, len);
    if (id >= 0) m = push(m, id);
    else for (let k = 0; k < len; k++) m = push(m, <i32>load<u8>(input + <usize>(start + k)) + 3);
  }
  // 2. merge until no pair is left; the survivors are compacted to sid[0..k)
  return mergeRun(m);
}
