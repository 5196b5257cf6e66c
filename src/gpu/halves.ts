// gpu/halves: the registry of f16 copies of f32 tensors that real f16 arithmetic reads its weights from
// (src/model/half.ts keeps them fresh; kernels/matmul_f16.wgsl binds them), by the buffer they copy.
import { ALIGN, slice, type View } from './view.js';
import type { HalfCopy } from './options.js';

export class HalfCopies {
  private byBuffer = new WeakMap<GPUBuffer, HalfCopy[]>();

  /** register (or with [] drop) the f16 copies of tensors in `buffer` */
  set(buffer: GPUBuffer, copies: HalfCopy[]): void {
    if (copies.length) this.byBuffer.set(buffer, copies);
    else this.byBuffer.delete(buffer);
  }

  /**
   * the f16 copy of v, as words (two values each) starting on a binding boundary, when v lies in a
   * registered copy at an offset that keeps it aligned (an even multiple of ALIGN values past its start)
   */
  of(v: View): View | null {
    const h = this.byBuffer.get(v.buffer)?.find((x) => v.offset >= x.offset && v.offset + v.numel <= x.offset + x.numel);
    const d = h ? v.offset - h.offset : -1;
    return h && d % (2 * ALIGN) === 0 ? slice(h.copy, d / 2, Math.ceil(v.numel / 2)) : null;
  }
}
