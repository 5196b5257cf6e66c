// cross-entropy launchers (kernels/crossentropy.wgsl): per-token losses from logits, and the fused
// softmax + cross-entropy backward. Rows are chunked to fit one binding.
import type { Gpu, View } from '../gpu.js';
import { ALIGN, slice } from '../view.js';
import { assert } from '../../util/errors.js';

const WG = 64; // threads per row

function rowChunk(g: Gpu, V: number): number {
  const nChunk = Math.floor(g.bindingFloats / V / ALIGN) * ALIGN;
  assert(nChunk > 0, `crossentropy: a row of ${V} logits is too wide for maxStorageBufferBindingSize`);
  return nChunk;
}

/** losses: (N)  logits: (N,V)  targets: (N) u32 */
export function crossentropyForward(g: Gpu, losses: View, logits: View, targets: View, N: number, V: number) {
  const nChunk = rowChunk(g, V);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    g.dispatch('crossentropy_forward', { u: [n, V] }, [slice(losses, n0, n), slice(logits, n0 * V, n * V), slice(targets, n0, n)], [n], { WG });
  }
}

/** dlogits (N,V) = (softmax(logits) - onehot(targets)) * dlosses[n]; dlosses: (N) */
export function crossentropySoftmaxBackward(g: Gpu, dlogits: View, dlosses: View, logits: View, targets: View, N: number, V: number) {
  const nChunk = rowChunk(g, V);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    g.dispatch('crossentropy_softmax_backward', { u: [n, V] },
      [slice(dlogits, n0 * V, n * V), slice(dlosses, n0, n), slice(logits, n0 * V, n * V), slice(targets, n0, n)], [n], { WG });
  }
}
