// view: a View is {buffer, offset, numel} in 4-byte elements, a window onto a GPU buffer. Every view
// that is bound to a kernel starts on a 256-byte boundary (minStorageBufferOffsetAlignment), so
// offsets are kept in multiples of ALIGN elements.
import { assert } from '../util/errors.js';

export interface View { buffer: GPUBuffer; offset: number; numel: number }

export const ALIGN = 64; // elements: 64 x 4 bytes = 256-byte binding alignment

export function alignUp(n: number, a = ALIGN): number {
  return Math.ceil(n / a) * a;
}

/** a sub-range of a view (offset must stay 256-byte aligned when it is bound) */
export function slice(v: View, offset: number, numel: number): View {
  assert(offset + numel <= v.numel, `slice [${offset}, ${offset + numel}) out of a view of ${v.numel}`);
  return { buffer: v.buffer, offset: v.offset + offset, numel };
}
