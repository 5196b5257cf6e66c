// optimizer launchers: AdamW over flat arenas (kernels/adamw.wgsl) and the global gradient norm with
// clip_grad_norm_'s clip factor (kernels/gradnorm.wgsl), both chunked to fit one binding.
import type { Gpu, View } from '../gpu.js';
import { ALIGN, slice } from '../view.js';
import { assert } from '../../util/errors.js';

const WG = 256;
const CHUNK = 4096; // gradnorm: elements per partial sum (fixed, so the reduction order never changes)

/**
 * One AdamW step (torch.optim.AdamW) over flat arenas params, m, v, grads, decay: (P). decay is a
 * per-element multiplier of weightDecay (1 for rank >= 2 tensors, 0 for norms and biases); scale (1)
 * multiplies the gradient (gradnormClip's output, or a buffer holding 1). t is the step, from 1.
 */
export function adamwUpdate(g: Gpu, params: View, m: View, v: View, grads: View, decay: View, scale: View, P: number,
                            lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number,
                            maxBindingFloats = g.bindingFloats) {
  assert(Number.isInteger(t) && t >= 1, `adamw: step ${t} must be an integer >= 1`);
  // bias corrections in float64, as torch computes them in Python
  const f = [lr * weightDecay, beta1, beta2, eps, lr / (1 - beta1 ** t), Math.sqrt(1 - beta2 ** t)];
  const chunk = Math.floor(maxBindingFloats / ALIGN) * ALIGN;
  for (let i0 = 0; i0 < P; i0 += chunk) {
    const n = Math.min(chunk, P - i0);
    const at = (x: View) => slice(x, i0, n);
    g.dispatch('adamw_update', { u: [n], f }, [at(params), at(m), at(v), at(grads), at(decay), scale], [Math.ceil(n / WG)], { WG });
  }
}

/**
 * norm (1) = ||grads||_2 over the parts (each a multiple of 4096 floats but the last, so the partial
 * sums partition them as one buffer of their concatenation); scale (1) = min(1, maxNorm / (norm + 1e-6)),
 * torch's clip_grad_norm_ rule, or 1 when maxNorm <= 0 or is not finite (no clipping). Deterministic
 * two-stage reduction.
 */
export function gradnormClip(g: Gpu, scale: View, norm: View, parts: View[], maxNorm: number,
                             maxBindingFloats = g.bindingFloats) {
  const P = parts.reduce((a, p) => a + p.numel, 0), NP = Math.ceil(P / CHUNK);
  const partials = g.scratch('gradnorm_partials', Math.max(NP, 1));
  const chunk = Math.floor(maxBindingFloats / CHUNK) * CHUNK;   // keeps the partition fixed
  assert(chunk > 0, `gradnorm: a binding of ${maxBindingFloats} floats is under one ${CHUNK}-element chunk`);
  let base = 0;
  parts.forEach((grads, k) => {
    assert(k === parts.length - 1 || grads.numel % CHUNK === 0, `gradnorm: part ${k} of ${grads.numel} floats is not a multiple of ${CHUNK}`);
    for (let i0 = 0; i0 < grads.numel; i0 += chunk) {
      const n = Math.min(chunk, grads.numel - i0);
      g.dispatch('gradnorm_partial', { u: [n, (base + i0) / CHUNK] }, [partials, slice(grads, i0, n)], [Math.ceil(n / CHUNK)], { WG, CHUNK });
    }
    base += grads.numel;
  });
  const clip = maxNorm > 0 && Number.isFinite(maxNorm);
  g.dispatch('gradnorm_clip', { u: [NP, clip ? 1 : 0], f: [clip ? maxNorm : 0] }, [slice(norm, 0, 1), slice(scale, 0, 1), partials], [1], { WG });
}
