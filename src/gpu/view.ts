// view: a View is {buffer, offset, numel} in 4-byte elements, a window onto a GPU buffer. Every view
// that is bound to a kernel starts on a 256-byte boundary (minStorageBufferOffsetAlignment), so
// offsets are kept in multiples of ALIGN elements. A view with a dtype holds 16-bit values packed two
// per 4-byte word (weights kept in their stored dtype, src/model/arena.ts keep16): its offset still
// counts words, its numel counts the 16-bit values; only the kernels that widen them on read bind it
// (src/gpu/kernels/matmul_w16.ts, through packedWords).
import { assert } from '../util/errors.js';

export interface View { buffer: GPUBuffer; offset: number; numel: number; dtype?: 'BF16' | 'F16' }

export const ALIGN = 64; // elements: 64 x 4 bytes = 256-byte binding alignment

export function alignUp(n: number, a = ALIGN): number {
  return Math.ceil(n / a) * a;
}

/** a sub-range of a view (offset must stay 256-byte aligned when it is bound) */
export function slice(v: View, offset: number, numel: number): View {
  assert(!v.dtype, 'slice of a packed 16-bit view: its launcher cuts it by words (packedWords)');
  assert(offset + numel <= v.numel, `slice [${offset}, ${offset + numel}) out of a view of ${v.numel}`);
  return { buffer: v.buffer, offset: v.offset + offset, numel };
}

/** the words [first, first + n) of a packed 16-bit view, as a plain view to bind (first: a multiple of ALIGN) */
export function packedWords(v: View, first = 0, n = Math.ceil(v.numel / 2) - first): View {
  assert(!!v.dtype && first >= 0 && first + n <= Math.ceil(v.numel / 2), `packedWords: words [${first}, ${first + n}) of a view of ${v.numel} 16-bit values`);
  return { buffer: v.buffer, offset: v.offset + first, numel: n };
}
