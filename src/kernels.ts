// kernels: one thin launcher per WGSL entry point (kernels/*.wgsl). Launchers compute the grid,
// check their assumptions and, where a tensor can exceed maxStorageBufferBindingSize (the vocab
// head, the logits), split the work into chunks that fit. Argument order is llm.c's: outputs,
// then inputs, then sizes.
// Sizes: B batch, T sequence length, C channels, V vocab, NH query heads, KVH key/value heads,
// HS head size, H MLP hidden size, N rows (usually B*T).
import type { Gpu, View } from './gpu.js';
import { ALIGN } from './gpu.js';
import { assert, fail } from './errors.js';

const WG = 256;   // threads per workgroup of the elementwise kernels (kernels/*.wgsl default)
const ATT_WG = 64;

/** a sub-range of a view (offset must stay 256-byte aligned when it is bound) */
export function slice(v: View, offset: number, numel: number): View {
  assert(offset + numel <= v.numel, `slice [${offset}, ${offset + numel}) out of a view of ${v.numel}`);
  return { buffer: v.buffer, offset: v.offset + offset, numel };
}

/** out: (B,T,C)  ids: (B,T) u32  wte: (V,C)  wpe: (maxT,C) or null; wte bound in row chunks that fit one binding */
export function encoderForward(g: Gpu, out: View, ids: View, wte: View, wpe: View | null, B: number, T: number, C: number) {
  const N = B * T * C, V = wte.numel / C;
  const vChunk = Math.floor(g.limits.maxStorageBufferBindingSize / 4 / C / ALIGN) * ALIGN;
  for (let v0 = 0; v0 < V; v0 += vChunk) {
    const nv = Math.min(vChunk, V - v0);
    g.dispatch('encoder_forward', { u: [N, T, C, wpe ? 1 : 0, v0, nv] }, [out, slice(ids, 0, B * T), slice(wte, v0 * C, nv * C), wpe ?? g.none], [Math.ceil(N / WG)]);
  }
}

export function rmsnormForward(g: Gpu, out: View, rstd: View, inp: View, weight: View, N: number, C: number, eps: number) {
  g.dispatch('rmsnorm_forward', { u: [N, C], f: [eps] }, [slice(out, 0, N * C), slice(rstd, 0, N), slice(inp, 0, N * C), weight], [N]);
}

export function residualForward(g: Gpu, out: View, inp1: View, inp2: View, N: number) {
  g.dispatch('residual_forward', { u: [N] }, [slice(out, 0, N), slice(inp1, 0, N), slice(inp2, 0, N)], [Math.ceil(N / WG)]);
}

/** out: (N,C)  mean, rstd: (N)  inp: (N,C)  weight, bias: (C) */
export function layernormForward(g: Gpu, out: View, mean: View, rstd: View, inp: View, weight: View, bias: View, N: number, C: number, eps: number) {
  g.dispatch('layernorm_forward', { u: [N, C], f: [eps] },
    [slice(out, 0, N * C), slice(mean, 0, N), slice(rstd, 0, N), slice(inp, 0, N * C), weight, bias], [N]);
}

export function geluForward(g: Gpu, out: View, inp: View, N: number) {
  g.dispatch('gelu_forward', { u: [N] }, [slice(out, 0, N), slice(inp, 0, N)], [Math.ceil(N / WG)]);
}

export function swigluForward(g: Gpu, out: View, gate: View, up: View, N: number) {
  g.dispatch('swiglu_forward', { u: [N] }, [slice(out, 0, N), slice(gate, 0, N), slice(up, 0, N)], [Math.ceil(N / WG)]);
}

/**
 * out[n, o] = sum_c inp[n, c] * weight[o, c] (+ bias[o]).  out: (N, OC)  inp: (N, C)  weight: (OC, C)
 * Splits weight rows and out rows into chunks under maxStorageBufferBindingSize (a GPT-2 head,
 * 50257 x 768 floats = 154 MB, is bound as two chunks on lavapipe's 128 MiB limit).
 */
export function matmulForward(g: Gpu, out: View, inp: View, weight: View, bias: View | null, N: number, C: number, OC: number) {
  const maxFloats = Math.floor(g.limits.maxStorageBufferBindingSize / 4);
  const ocChunk = Math.floor(maxFloats / C / ALIGN) * ALIGN;          // weight rows per chunk (keeps offsets aligned)
  const nChunk = Math.min(Math.floor(maxFloats / OC / ALIGN) * ALIGN, Math.floor(maxFloats / C / ALIGN) * ALIGN);
  if (ocChunk === 0 || nChunk === 0) {
    fail(`matmul: rows of ${C} or ${OC} floats are too wide for maxStorageBufferBindingSize ${g.limits.maxStorageBufferBindingSize}`,
      'use a device with larger storage bindings');
  }
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    for (let oc0 = 0; oc0 < OC; oc0 += ocChunk) {
      const oc = Math.min(ocChunk, OC - oc0);
      g.dispatch('matmul_forward', { u: [n, C, oc, OC, oc0, bias ? 1 : 0] },
        [slice(out, n0 * OC, n * OC), slice(inp, n0 * C, n * C), slice(weight, oc0 * C, oc * C), bias ? slice(bias, oc0, oc) : g.none],
        [Math.ceil(oc / 32), Math.ceil(n / 32)]);
    }
  }
}

/** RoPE in place on x: (B,T,NH,HS), with tables from ropeTables(). mode 0 interleaved, 1 rotate_half. */
export function ropeForward(g: Gpu, x: View, cos: View, sin: View, B: number, T: number, NH: number, HS: number, mode: 0 | 1) {
  assert(HS % 2 === 0, `rope: head size ${HS} must be even`);
  const N = B * T * NH * (HS / 2);
  g.dispatch('rope_forward', { u: [N, T, NH, HS, mode] }, [slice(x, 0, B * T * NH * HS), cos, sin], [Math.ceil(N / WG)]);
}

/** cos/sin tables (T, HS/2) for angle t * theta^(-2i/HS), computed in float64 then rounded to f32 */
export function ropeTables(T: number, HS: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = HS / 2;
  const cos = new Float32Array(T * half), sin = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const freq = Math.fround(1 / Math.pow(theta, (2 * i) / HS)); // PyTorch/llama2.c compute freqs in f32
      const a = Math.fround(t * freq);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** where q, k and v sit in their rows: separate tensors (Llama) or one fused qkv row (GPT-2) */
export interface QkvLayout { qs: number; q0: number; kvs: number; k0: number; v0: number }

/**
 * out: (B,T,NH,HS)  att: (B,NH,T,T)  q: rows of qs floats, query heads from q0;  k, v: rows of kvs
 * floats, kv heads from k0 / v0. Default layout: q (B,T,NH,HS), k and v (B,T,KVH,HS) apart.
 */
export function attentionForward(g: Gpu, out: View, att: View, q: View, k: View, v: View,
                                 B: number, T: number, NH: number, KVH: number, HS: number, layout?: QkvLayout) {
  assert(NH % KVH === 0, `attention: ${NH} query heads are not a multiple of ${KVH} key/value heads`);
  assert(HS <= 128, `attention: head size ${HS} is over the kernel's MAX_HS of 128`, 'raise MAX_HS in kernels/attention.wgsl');
  const { qs, q0, kvs, k0, v0 } = layout ?? { qs: NH * HS, q0: 0, kvs: KVH * HS, k0: 0, v0: 0 };
  const maxFloats = Math.floor(g.limits.maxStorageBufferBindingSize / 4);
  assert(NH * T * T <= maxFloats, `attention: the (NH,T,T) score matrix of one sequence needs ${NH * T * T * 4} bytes, over maxStorageBufferBindingSize`,
    'use a shorter sequence length');
  // chunk over the batch so that att (Bc,NH,T,T) fits one binding
  const per = alignedBatch(NH * T * T, T * NH * HS, T * qs, T * kvs);
  const Bc = Math.max(1, Math.min(B, Math.floor(maxFloats / (NH * T * T) / per) * per || 1));
  for (let b0 = 0; b0 < B; b0 += Bc) {
    const b = Math.min(Bc, B - b0);
    g.dispatch('attention_forward', { u: [b, T, NH, KVH, HS, qs, q0, kvs, k0, v0], f: [1 / Math.sqrt(HS)] },
      [slice(out, b0 * T * NH * HS, b * T * NH * HS), slice(att, b0 * NH * T * T, b * NH * T * T),
        slice(q, b0 * T * qs, b * T * qs), slice(k, b0 * T * kvs, b * T * kvs), slice(v, b0 * T * kvs, b * T * kvs)],
      [Math.ceil((b * NH * T) / ATT_WG)]);
  }
}

// smallest batch step that keeps every per-sequence offset 256-byte aligned
function alignedBatch(...sizes: number[]): number {
  let step = 1;
  while (step < 64 && sizes.some((s) => (s * step) % ALIGN !== 0)) step++;
  return sizes.every((s) => (s * step) % ALIGN === 0) ? step : 64;
}

/** losses: (N)  logits: (N,V)  targets: (N) u32; rows chunked to fit one binding */
export function crossentropyForward(g: Gpu, losses: View, logits: View, targets: View, N: number, V: number) {
  const maxFloats = Math.floor(g.limits.maxStorageBufferBindingSize / 4);
  const nChunk = Math.floor(maxFloats / V / ALIGN) * ALIGN;
  assert(nChunk > 0, `crossentropy: a row of ${V} logits is too wide for maxStorageBufferBindingSize`);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    g.dispatch('crossentropy_forward', { u: [n, V] }, [slice(losses, n0, n), slice(logits, n0 * V, n * V), slice(targets, n0, n)], [n]);
  }
}
