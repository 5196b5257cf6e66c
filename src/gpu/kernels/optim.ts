// optimizer launchers: AdamW over flat arenas (kernels/adamw.wgsl), 8-bit AdamW over groups of
// equal slices (kernels/adamw8bit.wgsl) and the global gradient norm with clip_grad_norm_'s clip
// factor (kernels/gradnorm.wgsl), all chunked to fit one binding. The gradients are f32, or bf16
// (--grad-dtype bf16: two a u32 word, src/train/grads16.ts), which every kernel widens exactly as it reads.
import type { Gpu, View } from '../gpu.js';
import { ALIGN, slice } from '../view.js';
import { assert } from '../../util/errors.js';
import { half } from './convert.js';

/**
 * gradients as the optimizer kernels read them: an f32 view, or `bf16` words holding 16-bit elements
 * from element `at` on (a packed arena part, src/train/grads16.ts)
 */
export type GradRef = View | { bf16: View; at: number };

/** elements [o, o + n) of a gradient reference */
export function gradSlice(r: GradRef, o: number, n: number): GradRef {
  return 'bf16' in r ? { bf16: r.bf16, at: r.at + o } : slice(r, o, n);
}

// elements [i0, i0 + n) of a gradient reference, bound: the view, the first element within it, the kernel's GRAD16
function gradWindow(r: GradRef, i0: number, n: number): { view: View; g0: number; c: { GRAD16?: number } } {
  if (!('bf16' in r)) return { view: slice(r, i0, n), g0: 0, c: {} };
  const { view, e0 } = half(r.bf16, r.at + i0, n);
  return { view, g0: e0, c: { GRAD16: 1 } };
}

const WG = 256;
const ADAMW_PER = 4; // AdamW: elements per thread
const CHUNK = 4096; // gradnorm: elements per partial sum (fixed, so the reduction order never changes)

/**
 * One AdamW step (torch.optim.AdamW) over flat arenas params, m, v, grads: (P). decayRate multiplies
 * weightDecay for all P elements (1 for rank >= 2 tensors, 0 for norms and biases: call once per run
 * of tensors with one rate); scale (1) multiplies the gradient (gradnormClip's output, or a buffer
 * holding 1). t is the step, from 1.
 */
export function adamwUpdate(g: Gpu, params: View, m: View, v: View, grads: GradRef, decayRate: number, scale: View, P: number,
                            lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number,
                            maxBindingFloats = g.bindingFloats) {
  assert(Number.isInteger(t) && t >= 1, `adamw: step ${t} must be an integer >= 1`);
  // bias corrections in float64, as torch computes them in Python
  const f = [lr * weightDecay * decayRate, beta1, beta2, eps, lr / (1 - beta1 ** t), Math.sqrt(1 - beta2 ** t)];
  const chunk = Math.floor(maxBindingFloats / ALIGN) * ALIGN;
  for (let i0 = 0; i0 < P; i0 += chunk) {
    const n = Math.min(chunk, P - i0);
    const at = (x: View) => slice(x, i0, n), gw = gradWindow(grads, i0, n);
    g.dispatch('adamw_update', { u: [n, gw.g0], f }, [at(params), at(m), at(v), gw.view, scale], [Math.ceil(n / (WG * ADAMW_PER))], { WG, PER: ADAMW_PER, ...gw.c });
  }
}

/** elements per quantization block of the 8-bit optimizer (bitsandbytes' blockwise 8-bit optimizers) */
export const QBLOCK = 256;
/** u32 words of codes per block: 256 one-byte m codes, then 256 v codes */
export const QWORDS = 128;

/**
 * A group of `count` consecutive arena slices of `n` elements each, `stride` = alignUp(n) apart,
 * starting at element `offset` of the arena, with one weight-decay rate: ceil(n / 256) blocks a slice,
 * numbered from `block` in the optimizer's codes and absmax.
 */
/** block: the group's first block in absmax (global); cblock: in its codes buffer (default: block) */
export interface QGroup { offset: number; n: number; stride: number; count: number; block: number; cblock?: number; decayRate: number }

/** one dispatch of a group: blocks [b0, b0 + nb) of it, over the arena window [e0, e0 + span) of the group */
export interface QChunk { b0: number; nb: number; e0: number; span: number }

/** a group's blocks split so that every binding fits maxBindingFloats (precomputed once: the layout never changes) */
export function qchunks(q: QGroup, maxBindingFloats: number): QChunk[] {
  const bps = Math.ceil(q.n / QBLOCK), out: QChunk[] = [];
  assert(maxBindingFloats >= QBLOCK, `adamw8bit: a binding of ${maxBindingFloats} floats is under one ${QBLOCK}-element block`);
  const slices = Math.min(Math.floor(maxBindingFloats / q.stride), Math.floor(maxBindingFloats / (QWORDS * bps)));
  if (slices >= 1) {
    for (let s = 0; s < q.count; s += slices) {
      const k = Math.min(slices, q.count - s);
      out.push({ b0: s * bps, nb: k * bps, e0: s * q.stride, span: (k - 1) * q.stride + q.n });
    }
    return out;
  }
  const per = Math.floor(maxBindingFloats / QBLOCK); // a slice larger than a binding: split it by blocks
  for (let s = 0; s < q.count; s++) {
    for (let k = 0; k < bps; k += per) {
      const nb = Math.min(per, bps - k), e0 = s * q.stride + k * QBLOCK;
      out.push({ b0: s * bps + k, nb, e0, span: Math.min(nb * QBLOCK, q.n - k * QBLOCK) });
    }
  }
  return out;
}

/**
 * One 8-bit AdamW step over one group of slices (kernels/adamw8bit.wgsl): params, grads: the arenas;
 * codes: (blocks * 128) u32, absmax: (2 * blocks) f32, the whole optimizer's; qmap: (1024) the maps and
 * their midpoints; scale (1) the clip factor. chunks: qchunks(q, the binding size). t is the step, from 1.
 */
export function adamw8bitUpdate(g: Gpu, q: QGroup, chunks: QChunk[], params: View, grads: GradRef, codes: View, absmax: View,
                                qmap: View, scale: View, lr: number, beta1: number, beta2: number, eps: number,
                                weightDecay: number, t: number) {
  assert(Number.isInteger(t) && t >= 1, `adamw8bit: step ${t} must be an integer >= 1`);
  const f = [lr * weightDecay * q.decayRate, beta1, beta2, eps, lr / (1 - beta1 ** t), Math.sqrt(1 - beta2 ** t)];
  const bps = Math.ceil(q.n / QBLOCK);
  for (const c of chunks) {
    const gw = gradWindow(grads, q.offset + c.e0, c.span);
    g.dispatch('adamw8bit_update', { u: [q.n, q.stride, bps, c.b0, c.e0, c.nb, q.block + c.b0, gw.g0], f },
      [slice(params, q.offset + c.e0, c.span), gw.view,
        slice(codes, QWORDS * ((q.cblock ?? q.block) + c.b0), QWORDS * c.nb), absmax, qmap, scale], [c.nb], gw.c);
  }
}

/**
 * norm (1) = ||grads||_2 over the parts (each a multiple of 4096 floats but the last, so the partial
 * sums partition them as one buffer of their concatenation); scale (1) = min(1, maxNorm / (norm + 1e-6)),
 * torch's clip_grad_norm_ rule, or 1 when maxNorm <= 0 or is not finite (no clipping). Deterministic
 * two-stage reduction. inv (1 / the loss scale, --precision f16): the gradients are scaled by 1/inv; the
 * norm comes out unscaled and the factor includes inv, so the update unscales them (GradScaler.unscale_).
 * bf16: each part is words of two bf16 gradients (2 * numel elements; the same 4096-element partition).
 */
export function gradnormClip(g: Gpu, scale: View, norm: View, parts: View[], maxNorm: number,
                             maxBindingFloats = g.bindingFloats, inv = 1, bf16 = false) {
  const per = bf16 ? 2 : 1; // elements a word
  const P = parts.reduce((a, p) => a + per * p.numel, 0), NP = Math.ceil(P / CHUNK);
  const partials = g.scratch('gradnorm_partials', Math.max(NP, 1));
  const chunk = Math.floor(per * maxBindingFloats / CHUNK) * CHUNK;   // elements; keeps the partition fixed
  assert(chunk > 0, `gradnorm: a binding of ${maxBindingFloats} floats is under one ${CHUNK}-element chunk`);
  let base = 0;
  parts.forEach((grads, k) => {
    const E = per * grads.numel;
    assert(k === parts.length - 1 || E % CHUNK === 0, `gradnorm: part ${k} of ${E} values is not a multiple of ${CHUNK}`);
    for (let i0 = 0; i0 < E; i0 += chunk) {
      const n = Math.min(chunk, E - i0);
      g.dispatch('gradnorm_partial', { u: [n, (base + i0) / CHUNK] }, [partials, slice(grads, i0 / per, Math.ceil(n / per))], [Math.ceil(n / CHUNK)],
        { WG: g.rowThreads, CHUNK, ...(bf16 ? { GRAD16: 1 } : {}) });
    }
    base += E;
  });
  const clip = maxNorm > 0 && Number.isFinite(maxNorm);
  g.dispatch('gradnorm_clip', { u: [NP, clip ? 1 : 0], f: [clip ? maxNorm : 0, inv] }, [slice(norm, 0, 1), slice(scale, 0, 1), partials], [1], { WG: g.rowThreads });
}
