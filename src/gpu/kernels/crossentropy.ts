// cross-entropy launchers (kernels/crossentropy.wgsl): per-token losses from logits, and the fused
// softmax + cross-entropy backward written over the logits. Logits are (N, V) in rows of ld >= V
// floats (a padded row lets the matmul backward use vec4 loads); rows are chunked to fit one binding.
import type { Gpu, View } from '../gpu.js';
import { ALIGN, slice } from '../view.js';
import { assert } from '../../util/errors.js';


function rowChunk(g: Gpu, ld: number): number {
  const nChunk = Math.floor(g.bindingFloats / ld / ALIGN) * ALIGN;
  assert(nChunk > 0, `crossentropy: a row of ${ld} logits is too wide for maxStorageBufferBindingSize`);
  return nChunk;
}

/** losses: (N)  logits: (N, ld)  targets: (N) u32 */
export function crossentropyForward(g: Gpu, losses: View, logits: View, targets: View, N: number, V: number, ld = V) {
  const nChunk = rowChunk(g, ld);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    g.dispatch('crossentropy_forward', { u: [n, V, ld] }, [slice(losses, n0, n), slice(logits, n0 * ld, n * ld), slice(targets, n0, n)], [n], { WG: g.rowThreads });
  }
}

/** logits (N, ld) <- dlogits = (softmax(logits) - onehot(targets)) * dlosses[n], in place; dlosses: (N) */
export function crossentropySoftmaxBackward(g: Gpu, logits: View, dlosses: View, targets: View, N: number, V: number, ld = V) {
  const nChunk = rowChunk(g, ld);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    g.dispatch('crossentropy_softmax_backward', { u: [n, V, ld] }, [slice(logits, n0 * ld, n * ld), slice(dlosses, n0, n), slice(targets, n0, n)], [n], { WG: g.rowThreads });
  }
}
