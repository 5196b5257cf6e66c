// convert launchers (kernels/convert.wgsl): raw bf16 or f16 values (two per u32 word) -> f32, one thread
// per element, and f32 -> f16, one thread per word. The caller keeps each call within
// maxStorageBufferBindingSize (src/model/arena.ts uploads in chunks; activations fit one binding).
// storeBf16 / roundBf16 (--grad-dtype bf16): f32 gradients rounded to bf16, into packed words or in
// place; they chunk themselves. half() binds a range of packed 16-bit values on an aligned word.
import type { Gpu, View } from '../gpu.js';
import { ALIGN, slice } from '../view.js';
import { assert } from '../../util/errors.js';

const WG = 256;

/** out (N f32) = inp (ceil(N/2) words of 16-bit values) widened, bit-exact */
export function convertToF32(g: Gpu, out: View, inp: View, N: number, dtype: 'BF16' | 'F16'): void {
  assert(inp.numel >= Math.ceil(N / 2), `convert: ${inp.numel} words hold fewer than ${N} 16-bit values`);
  g.dispatch(dtype === 'BF16' ? 'convert_bf16' : 'convert_f16', { u: [N] }, [slice(out, 0, N), slice(inp, 0, Math.ceil(N / 2))], [Math.ceil(N / WG)], { WG });
}

/** out (ceil(N/2) words) = inp (N f32) as binary16, rounded to nearest even (activations kept in f16) */
export function convertToF16(g: Gpu, out: View, inp: View, N: number): void {
  assert(out.numel >= Math.ceil(N / 2), `convert: ${out.numel} words cannot hold ${N} 16-bit values`);
  const words = Math.ceil(N / 2);
  g.dispatch('convert_to_f16', { u: [N] }, [slice(out, 0, words), slice(inp, 0, N)], [Math.ceil(words / WG)], { WG });
}

/**
 * the words holding 16-bit elements [e, e + n) of `words` (two a word), bound from the 256-byte boundary at or
 * before them: the view, and the first element's index within it
 */
export function half(words: View, e: number, n: number): { view: View; e0: number } {
  const base = Math.floor(e / 2 / ALIGN) * ALIGN, end = Math.ceil((e + n) / 2);
  return { view: slice(words, base, end - base), e0: e - 2 * base };
}

/**
 * bf16 elements [e, e + N) of `words` = inp (N f32) rounded to nearest even (acc: the old bf16 values
 * widened, inp added in f32, then rounded). e is even (a slice of a 64-element-aligned layout), so
 * the words are the range's own; a last odd element's partner gets 0 (the slice's padding).
 */
export function storeBf16(g: Gpu, words: View, e: number, inp: View, N: number, acc: boolean, maxBindingFloats = g.bindingFloats): void {
  assert(e % 2 === 0, `storeBf16: element ${e} does not start a word`);
  const chunk = Math.floor(maxBindingFloats / (2 * ALIGN)) * 2 * ALIGN; // whole 256-byte input blocks
  for (let i0 = 0; i0 < N; i0 += chunk) {
    const n = Math.min(chunk, N - i0), { view, e0 } = half(words, e + i0, n);
    g.dispatch('store_bf16', { u: [n, acc ? 1 : 0, e0 / 2] }, [view, slice(inp, i0, n)], [Math.ceil(Math.ceil(n / 2) / WG)], { WG });
  }
}

/** x (N f32) = x rounded to bf16 (nearest even) and widened back, in place */
export function roundBf16(g: Gpu, x: View, N: number, maxBindingFloats = g.bindingFloats): void {
  const chunk = Math.floor(maxBindingFloats / ALIGN) * ALIGN;
  for (let i0 = 0; i0 < N; i0 += chunk) {
    const n = Math.min(chunk, N - i0);
    g.dispatch('round_bf16', { u: [n] }, [slice(x, i0, n)], [Math.ceil(n / WG)], { WG });
  }
}
