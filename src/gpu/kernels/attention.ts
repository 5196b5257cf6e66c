// attention launchers (kernels/attention.wgsl): causal self-attention with grouped-query heads,
// FlashAttention-2 style: forward writes the output and the log-sum-exp (B,NH,T) of every query row,
// backward recomputes the probabilities from it, so no (B,NH,T,T) buffer exists in training or
// evaluation; attentionProbs materializes them for one block when the lazy-layer analysis asks.
// Work is chunked over sequences so that every binding fits. The variants compute the same sums in the
// same order (bit-identical results): 'tiled' stages key/query tiles in workgroup memory (kernels/
// attention.wgsl), 'subgroup' and 'subgroup2' share them through subgroupShuffle with one or two rows a
// lane (kernels/attention_subgroup.wgsl, on adapters with subgroups of whole groups of 8 lanes); the
// tuner (src/gpu/tune.ts) keeps the fastest per head size, for the forward and the backward apart.
import type { Gpu, View } from '../gpu.js';
import { benchOperands, type Bench } from '../tune.js';
import { ALIGN, slice } from '../view.js';
import { assert } from '../../util/errors.js';

const BR = 64;      // rows per workgroup (BR in both kernels/attention*.wgsl)
const MAX_HS = 128; // the kernels' private row size (MAX_HS in both kernels/attention*.wgsl)
/** the kernels' H4C: vec4s of a head row, a pipeline constant so that row loops have constant trip counts */
const rowConst = (HS: number) => ({ H4C: Math.ceil(HS / 4) });

export type AttentionVariant = 'subgroup2' | 'subgroup' | 'tiled';
export const ATTENTION_VARIANTS: readonly AttentionVariant[] = ['subgroup2', 'subgroup', 'tiled'];
// entry points per pass (a workgroup covers BR rows in every variant)
const ENTRY: Record<AttentionVariant, { fwd: string; dq: string; dkv: string }> = {
  tiled: { fwd: 'attention_forward', dq: 'attention_backward_dq', dkv: 'attention_backward_dkv' },
  subgroup: { fwd: 'attention_forward_sg', dq: 'attention_backward_dq_sg', dkv: 'attention_backward_dkv_sg' },
  subgroup2: { fwd: 'attention_forward_sg2', dq: 'attention_backward_dq_sg2', dkv: 'attention_backward_dkv_sg2' },
};

/** the variants this adapter runs, best guess first ('tiled' runs everywhere) */
export const attentionVariants = (g: Gpu): AttentionVariant[] => (g.subgroups8 ? ['subgroup2', 'subgroup', 'tiled'] : ['tiled']);

/** the tuner's choice for this head size and pass (keys HS<n> and bwd:HS<n>; each timed alone) */
function variantOf(g: Gpu, HS: number, pass: 'fwd' | 'bwd'): AttentionVariant {
  return g.tuner.pick('attention', `${pass === 'bwd' ? 'bwd:' : ''}HS${HS}`, attentionVariants(g), 'tiled', () => attentionBench(g, HS, pass)) as AttentionVariant;
}

/** where q, k and v sit in their rows: separate tensors (Llama) or one fused qkv row (GPT-2) */
export interface QkvLayout { qs: number; q0: number; kvs: number; k0: number; v0: number }

const layoutOf = (NH: number, KVH: number, HS: number, layout?: QkvLayout): QkvLayout =>
  layout ?? { qs: NH * HS, q0: 0, kvs: KVH * HS, k0: 0, v0: 0 };

function check(NH: number, KVH: number, HS: number) {
  assert(NH % KVH === 0, `attention: ${NH} query heads are not a multiple of ${KVH} key/value heads`);
  assert(HS <= MAX_HS, `attention: head size ${HS} is over the kernel's MAX_HS of ${MAX_HS}`, 'raise MAX_HS in kernels/attention.wgsl and attention_subgroup.wgsl');
}

/** a KV cache seen by attentionForward: past positions already in k/v, which hold keyRows rows per sequence */
export interface CacheSpan { past: number; keyRows: number }

/**
 * out: (B,T,NH,HS) (=)  lse: (B,NH,T) (=)  q: rows of qs floats, query heads from q0;  k, v: rows of kvs
 * floats, kv heads from k0 / v0. Default layout: q (B,T,NH,HS), k and v (B,T,KVH,HS) apart. With a
 * cache span, k and v are (B,keyRows,..) and query t is position past + t, seeing keys 0..past+t.
 */
export function attentionForward(g: Gpu, out: View, lse: View, q: View, k: View, v: View,
                                 B: number, T: number, NH: number, KVH: number, HS: number, layout?: QkvLayout, cache?: CacheSpan) {
  check(NH, KVH, HS);
  forward(g, variantOf(g, HS, 'fwd'), out, lse, q, k, v, B, T, NH, KVH, HS, layout, cache);
}

function forward(g: Gpu, variant: AttentionVariant, out: View, lse: View, q: View, k: View, v: View,
                 B: number, T: number, NH: number, KVH: number, HS: number, layout?: QkvLayout, cache?: CacheSpan) {
  const { qs, q0, kvs, k0, v0 } = layoutOf(NH, KVH, HS, layout);
  const P = cache?.past ?? 0, Tk = cache?.keyRows ?? T;
  assert(P + T <= Tk, `attention: ${P} cached + ${T} new positions do not fit ${Tk} key rows`);
  const Bc = batchChunk(g, B, [T * NH * HS, NH * T, T * qs, Tk * kvs]);
  const tiles = Math.ceil(T / BR);
  for (let b0 = 0; b0 < B; b0 += Bc) {
    const b = Math.min(Bc, B - b0);
    g.dispatch(ENTRY[variant].fwd, { u: [b, T, NH, KVH, HS, qs, q0, kvs, k0, v0, P, Tk], f: [1 / Math.sqrt(HS)] },
      [slice(out, b0 * T * NH * HS, b * T * NH * HS), slice(lse, b0 * NH * T, b * NH * T),
        slice(q, b0 * T * qs, b * T * qs), slice(k, b0 * Tk * kvs, b * Tk * kvs), slice(v, b0 * Tk * kvs, b * Tk * kvs)],
      [b * NH * tiles], rowConst(HS));
  }
}

/**
 * dst (B,keyRows,W) rows past..past+T-1 (=) from src: (B,T) rows of ss floats, W of them from so (the new
 * keys or values of a step: Llama's k (ss = W), GPT-2's fused qkv (ss = 3C, so = C or 2C))
 */
export function kvCacheWrite(g: Gpu, dst: View, src: View, B: number, T: number, W: number, ss: number, so: number, cache: CacheSpan) {
  assert(cache.past + T <= cache.keyRows, `kv cache: ${cache.past} + ${T} positions do not fit ${cache.keyRows}`);
  const N = B * T * W;
  g.dispatch('kv_cache_write', { u: [N, T, W, ss, so, cache.past, cache.keyRows] }, [slice(dst, 0, B * cache.keyRows * W), slice(src, 0, B * T * ss)],
    [Math.ceil(N / BR)]);
}

/**
 * probs (B,NH,T,T) (=): the post-softmax attention of the forward that wrote lse (B,NH,T), zeros above
 * the diagonal; for the lazy-layer analysis of one block.
 */
export function attentionProbs(g: Gpu, probs: View, lse: View, q: View, k: View, B: number, T: number, NH: number, KVH: number, HS: number,
                               layout?: QkvLayout) {
  check(NH, KVH, HS);
  const { qs, q0, kvs, k0 } = layoutOf(NH, KVH, HS, layout);
  assert(NH * T * T <= g.bindingFloats, `attention: the (NH,T,T) probabilities of one sequence need ${NH * T * T * 4} bytes, over maxStorageBufferBindingSize`,
    'analyze shorter windows');
  const Bc = batchChunk(g, B, [NH * T * T, NH * T, T * qs, T * kvs]);
  for (let b0 = 0; b0 < B; b0 += Bc) {
    const b = Math.min(Bc, B - b0);
    g.dispatch('attention_probs', { u: [b, T, NH, KVH, HS, qs, q0, kvs, k0, 0, 0, T], f: [1 / Math.sqrt(HS)] },
      [slice(probs, b0 * NH * T * T, b * NH * T * T), slice(lse, b0 * NH * T, b * NH * T), slice(q, b0 * T * qs, b * T * qs), slice(k, b0 * T * kvs, b * T * kvs)],
      [Math.ceil((b * NH * T) / BR)], rowConst(HS));
  }
}

/**
 * dq (=) and dk, dv (=) from dout (B,T,NH,HS), the forward's out and lse and q, k, v, all in the forward's
 * layout. dk and dv must be views of one buffer (GPT-2: pass the fused dqkv as dq, dk and dv; Llama: dk
 * and dv side by side), since one dispatch writes both. For grouped heads dk/dv of a kv head sum over
 * its query heads. Deterministic (fixed summation order).
 */
export function attentionBackward(g: Gpu, dq: View, dk: View, dv: View, dout: View, out: View, lse: View, q: View, k: View, v: View,
                                  B: number, T: number, NH: number, KVH: number, HS: number, layout?: QkvLayout) {
  check(NH, KVH, HS);
  backward(g, variantOf(g, HS, 'bwd'), dq, dk, dv, dout, out, lse, q, k, v, B, T, NH, KVH, HS, layout);
}

function backward(g: Gpu, variant: AttentionVariant, dq: View, dk: View, dv: View, dout: View, out: View, lse: View, q: View, k: View, v: View,
                  B: number, T: number, NH: number, KVH: number, HS: number, layout?: QkvLayout) {
  assert(dk.buffer === dv.buffer, 'attentionBackward: dk and dv must be views of one buffer (one dispatch writes both)');
  const { qs, q0, kvs, k0, v0 } = layoutOf(NH, KVH, HS, layout);
  // one binding from the first of dk/dv on; the kernel writes dk at dk0 and dv at dv0 within it
  const start = Math.min(dk.offset, dv.offset), base = start - (start % ALIGN);
  const dkv: View = { buffer: dk.buffer, offset: base, numel: Math.max(dk.offset + dk.numel, dv.offset + dv.numel) - base };
  const dk0 = dk.offset - base + k0, dv0 = dv.offset - base + v0, reach = Math.max(dk.offset, dv.offset) - base;
  const C = NH * HS, scale = 1 / Math.sqrt(HS), tiles = Math.ceil(T / BR);
  const D = g.scratch('attention_D', B * NH * T);
  const Bc = batchChunk(g, B, [T * C, NH * T, T * qs, T * kvs], reach);
  const uniforms = (os: number, o0: number, d0: number, d1: number) => ({ u: [b_, T, NH, KVH, HS, qs, q0, kvs, k0, v0, os, o0, d0, d1], f: [scale] });
  let b_ = 0;
  for (let b0 = 0; b0 < B; b0 += Bc) {
    const b = (b_ = Math.min(Bc, B - b0));
    const at = (x: View, per: number) => slice(x, b0 * per, b * per);   // this chunk of sequences
    const [dout_b, out_b, lse_b, D_b] = [at(dout, T * C), at(out, T * C), at(lse, NH * T), at(D, NH * T)];
    const [q_b, k_b, v_b] = [at(q, T * qs), at(k, T * kvs), at(v, T * kvs)];
    const dkv_b = slice(dkv, b0 * T * kvs, Math.min(dkv.numel - b0 * T * kvs, reach + b * T * kvs));
    // 1) D = rowsum(dout * out)   2) dq   3) dk and dv
    g.dispatch('attention_backward_d', uniforms(0, 0, 0, 0), [D_b, dout_b, out_b], [Math.ceil((b * NH * T) / BR)]);
    g.dispatch(ENTRY[variant].dq, uniforms(qs, q0, 0, 0), [at(dq, T * qs), dout_b, lse_b, D_b, q_b, k_b, v_b], [b * NH * tiles], rowConst(HS));
    g.dispatch(ENTRY[variant].dkv, uniforms(kvs, 0, dk0, dv0), [dkv_b, dout_b, lse_b, D_b, q_b, k_b, v_b], [b * KVH * tiles], rowConst(HS));
  }
}

// one sequence of 256 positions, 4 heads, random q, k, v, dout: the forward (reads out) or the backward
// (of a forward by 'tiled'; reads dk and dv)
function attentionBench(g: Gpu, HS: number, pass: 'fwd' | 'bwd'): Bench {
  const T = 256, NH = 4, n = T * NH * HS, pad = Math.ceil(n / ALIGN) * ALIGN;
  const [q, k, v, dout, out, dq] = ['q', 'k', 'v', 'dout', 'out', 'dq'].map((name) => g.tensor(n, `tune_attention_${name}`));
  const lse = g.tensor(NH * T, 'tune_attention_lse'), dkv = g.tensor(pad + n, 'tune_attention_dkv');
  benchOperands(n, n, n, n).forEach((x, i) => g.upload([q, k, v, dout][i], x));
  if (pass === 'bwd') forward(g, 'tiled', out, lse, q, k, v, 1, T, NH, NH, HS);
  return {
    run: (variant) => {
      if (pass === 'fwd') forward(g, variant as AttentionVariant, out, lse, q, k, v, 1, T, NH, NH, HS);
      else backward(g, variant as AttentionVariant, dq, slice(dkv, 0, n), slice(dkv, pad, n), dout, out, lse, q, k, v, 1, T, NH, NH, HS);
    },
    read: () => g.read(pass === 'fwd' ? out : dkv),
    release: () => { for (const x of [q, k, v, dout, out, dq, lse, dkv]) g.release(x.buffer); },
  };
}

// sequences per dispatch: every per-sequence range (sizes) times the chunk fits one binding (plus
// `extra` floats ahead of one range), and chunk offsets stay 256-byte aligned
function batchChunk(g: Gpu, B: number, sizes: number[], extra = 0): number {
  const maxFloats = g.bindingFloats - extra, per = Math.max(...sizes);
  assert(per <= maxFloats, `attention: one sequence needs a binding of ${per * 4} bytes, over maxStorageBufferBindingSize`, 'use a shorter sequence length');
  let step = 1;
  while (step < ALIGN && sizes.some((s) => (s * step) % ALIGN !== 0)) step++;
  if (sizes.some((s) => (s * step) % ALIGN !== 0)) step = ALIGN;
  return Math.max(1, Math.min(B, Math.floor(maxFloats / per / step) * step || 1));
}
