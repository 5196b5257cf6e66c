// attention launchers (kernels/attention.wgsl): causal self-attention with grouped-query heads,
// forward and backward, chunked over sequences so that the (NH,T,T) score matrices fit one binding.
import type { Gpu, View } from '../gpu.js';
import { ALIGN, slice } from '../view.js';
import { assert } from '../../util/errors.js';

const WG = 64;
const MAX_HS = 128; // the kernel's private accumulator size (kernels/attention.wgsl MAX_HS)

/** where q, k and v sit in their rows: separate tensors (Llama) or one fused qkv row (GPT-2) */
export interface QkvLayout { qs: number; q0: number; kvs: number; k0: number; v0: number }

/**
 * out: (B,T,NH,HS)  att: (B,NH,T,T)  q: rows of qs floats, query heads from q0;  k, v: rows of kvs
 * floats, kv heads from k0 / v0. Default layout: q (B,T,NH,HS), k and v (B,T,KVH,HS) apart.
 */
export function attentionForward(g: Gpu, out: View, att: View, q: View, k: View, v: View,
                                 B: number, T: number, NH: number, KVH: number, HS: number, layout?: QkvLayout) {
  assert(NH % KVH === 0, `attention: ${NH} query heads are not a multiple of ${KVH} key/value heads`);
  assert(HS <= MAX_HS, `attention: head size ${HS} is over the kernel's MAX_HS of ${MAX_HS}`, 'raise MAX_HS in kernels/attention.wgsl');
  const { qs, q0, kvs, k0, v0 } = layout ?? { qs: NH * HS, q0: 0, kvs: KVH * HS, k0: 0, v0: 0 };
  const Bc = attentionBatchChunk(g, B, T, NH, HS, qs, kvs);
  for (let b0 = 0; b0 < B; b0 += Bc) {
    const b = Math.min(Bc, B - b0);
    g.dispatch('attention_forward', { u: [b, T, NH, KVH, HS, qs, q0, kvs, k0, v0], f: [1 / Math.sqrt(HS)] },
      [slice(out, b0 * T * NH * HS, b * T * NH * HS), slice(att, b0 * NH * T * T, b * NH * T * T),
        slice(q, b0 * T * qs, b * T * qs), slice(k, b0 * T * kvs, b * T * kvs), slice(v, b0 * T * kvs, b * T * kvs)],
      [Math.ceil((b * NH * T) / WG)], { WG });
  }
}

/**
 * dq, dk, dv (=) from dout (B,T,NH,HS), the cached att (B,NH,T,T) and q, k, v, all in the forward's
 * layout (GPT-2: pass the fused dqkv as dq, dk and dv). dpreatt: (B,NH,T,T) scratch. For grouped
 * heads dk/dv of a kv head sum over its query heads. Deterministic (fixed summation order).
 */
export function attentionBackward(g: Gpu, dq: View, dk: View, dv: View, dpreatt: View, dout: View, att: View, q: View, k: View, v: View,
                                  B: number, T: number, NH: number, KVH: number, HS: number, layout?: QkvLayout) {
  assert(NH % KVH === 0, `attention: ${NH} query heads are not a multiple of ${KVH} key/value heads`);
  const { qs, q0, kvs, k0, v0 } = layout ?? { qs: NH * HS, q0: 0, kvs: KVH * HS, k0: 0, v0: 0 };
  const Bc = attentionBatchChunk(g, B, T, NH, HS, qs, kvs), scale = 1 / Math.sqrt(HS), C = NH * HS;
  for (let b0 = 0; b0 < B; b0 += Bc) {
    const b = Math.min(Bc, B - b0);
    const at = (x: View, per: number) => slice(x, b0 * per, b * per);   // this chunk of sequences
    const [att_b, dpre_b, dout_b] = [at(att, NH * T * T), at(dpreatt, NH * T * T), at(dout, T * C)];
    const dims = (xs: number, x0: number, os: number, o0: number) => ({ u: [b, T, NH, KVH, HS, xs, x0, os, o0], f: [scale] });
    // 1) dpreatt from dout, v and att   2) dq from dpreatt and k   3) dk from dpreatt and q   4) dv from att and dout
    g.dispatch('attention_backward', dims(kvs, v0, 0, 0), [dpre_b, dout_b, att_b, at(v, T * kvs)], [Math.ceil((b * NH * T) / WG)], { WG });
    g.dispatch('attention_backward_dq', dims(kvs, k0, qs, q0), [at(dq, T * qs), dpre_b, at(k, T * kvs)], [Math.ceil((b * T * C) / WG)], { WG });
    const kvGrid: [number] = [Math.ceil((b * T * KVH * HS) / WG)];
    g.dispatch('attention_backward_dkv', dims(qs, q0, kvs, k0), [at(dk, T * kvs), dpre_b, at(q, T * qs)], kvGrid, { WG });
    g.dispatch('attention_backward_dkv', dims(C, 0, kvs, v0), [at(dv, T * kvs), att_b, dout_b], kvGrid, { WG });
  }
}

// sequences per attention dispatch, so that att (Bc,NH,T,T) fits one binding and chunk offsets stay aligned
function attentionBatchChunk(g: Gpu, B: number, T: number, NH: number, HS: number, qs: number, kvs: number): number {
  const maxFloats = g.bindingFloats;
  assert(NH * T * T <= maxFloats, `attention: the (NH,T,T) score matrix of one sequence needs ${NH * T * T * 4} bytes, over maxStorageBufferBindingSize`,
    'use a shorter sequence length');
  const per = alignedBatch(NH * T * T, T * NH * HS, T * qs, T * kvs);
  return Math.max(1, Math.min(B, Math.floor(maxFloats / (NH * T * T) / per) * per || 1));
}

// smallest batch step that keeps every per-sequence offset 256-byte aligned
function alignedBatch(...sizes: number[]): number {
  let step = 1;
  while (step < 64 && sizes.some((s) => (s * step) % ALIGN !== 0)) step++;
  return sizes.every((s) => (s * step) % ALIGN === 0) ? step : 64;
}
