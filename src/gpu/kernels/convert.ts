// convert launchers (kernels/convert.wgsl): raw bf16 or f16 values (two per u32 word) -> f32, one thread
// per element, and f32 -> f16, one thread per word. The caller keeps each call within
// maxStorageBufferBindingSize (src/model/arena.ts uploads in chunks; activations fit one binding).
import type { Gpu, View } from '../gpu.js';
import { slice } from '../view.js';
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
