// kernels: one thin launcher per WGSL entry point (kernels/*.wgsl). Launchers compute the grid,
// check their assumptions and, where a tensor can exceed maxStorageBufferBindingSize (the vocab
// head, the logits), split the work into chunks that fit. Argument order is llm.c's: outputs,
// then inputs, then sizes.
// Sizes: B batch, T sequence length, C channels, V vocab, NH query heads, KVH key/value heads,
// HS head size, H MLP hidden size, N rows (usually B*T).
import type { Gpu, View } from './gpu.js';
import { ALIGN } from './gpu.js';
import { assert, fail } from '../util/errors.js';

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

/**
 * dwte (V,C) += and dwpe (maxT,C) += from dout (B,T,C). ids (B*T) come from the CPU: positions are
 * grouped by token there (a CSR list: ascending unique tokens, offsets, positions ascending), so one
 * thread owns each (token, c) and sums in position order: deterministic without float atomics.
 */
export function encoderBackward(g: Gpu, dwte: View, dwpe: View | null, dout: View, ids: ArrayLike<number>,
                                B: number, T: number, C: number, maxBindingFloats = bindingFloats(g)) {
  const BT = B * T, V = dwte.numel / C;
  assert(Number.isInteger(V) && ids.length >= BT, `encoder_backward: dwte of ${dwte.numel} floats is not (V, ${C}), or fewer than ${BT} ids`);
  // 1) the CSR list, uploaded to a scratch buffer
  const { tokens, csr } = tokenBuckets(ids, BT, V), U = tokens.length;
  const list = scratch(g, 'encoder_csr', csr.length);
  g.upload(list, csr);
  // 2) dwte in chunks of rows that fit one binding; each dispatch takes the unique tokens in its rows
  const rows = Math.floor(maxBindingFloats / C / ALIGN) * ALIGN;
  assert(rows > 0, `encoder_backward: a row of ${C} floats is too wide for one binding`);
  for (let r0 = 0, u0 = 0; r0 < V && u0 < U; r0 += rows) {
    let u1 = u0;
    while (u1 < U && tokens[u1] < r0 + rows) u1++;
    if (u1 > u0) {
      g.dispatch('encoder_backward', { u: [u1 - u0, C, u0, U, 2 * U + 1, r0] },
        [slice(dwte, r0 * C, Math.min(rows, V - r0) * C), slice(dout, 0, BT * C), list], [Math.ceil(((u1 - u0) * C) / WG)]);
    }
    u0 = u1;
  }
  // 3) dwpe: one thread per (t, c), summing over b in order
  if (dwpe) g.dispatch('encoder_backward_wpe', { u: [B, T, C] }, [slice(dwpe, 0, T * C), slice(dout, 0, BT * C)], [Math.ceil((T * C) / WG)]);
}

// positions grouped by token (a counting sort): csr = [tokens (U) | starts (U+1) | positions (BT)],
// tokens ascending, each token's positions ascending
function tokenBuckets(ids: ArrayLike<number>, BT: number, V: number): { tokens: number[]; csr: Uint32Array } {
  const start = new Uint32Array(V + 1);
  for (let i = 0; i < BT; i++) {
    assert(Number.isInteger(ids[i]) && ids[i] >= 0 && ids[i] < V, `encoder_backward: token id ${ids[i]} is outside [0, ${V})`);
    start[ids[i] + 1]++;
  }
  for (let v = 0; v < V; v++) start[v + 1] += start[v];          // start[v] = first slot of token v
  const tokens: number[] = [];
  for (let v = 0; v < V; v++) if (start[v + 1] > start[v]) tokens.push(v);
  const U = tokens.length, csr = new Uint32Array(U + (U + 1) + BT);
  csr.set(tokens, 0);
  tokens.forEach((v, u) => { csr[U + u] = start[v]; });
  csr[2 * U] = BT;
  const next = start.slice(0, V);
  for (let i = 0; i < BT; i++) csr[2 * U + 1 + next[ids[i]]++] = i;
  return { tokens, csr };
}

// a scratch buffer per (device, purpose), grown on demand; its contents do not outlive one launcher call
const scratches = new WeakMap<Gpu, Map<string, View>>();
function scratch(g: Gpu, name: string, numel: number): View {
  let byName = scratches.get(g);
  if (!byName) scratches.set(g, (byName = new Map()));
  let v = byName.get(name);
  if (!v || v.numel < numel) {
    if (v) { g.flush(); v.buffer.destroy(); }   // submitted work keeps the old buffer alive
    v = g.tensor(Math.max(numel, 2 * (v?.numel ?? 0)), name);
    byName.set(name, v);
  }
  return slice(v, 0, numel);
}

export function rmsnormForward(g: Gpu, out: View, rstd: View, inp: View, weight: View, N: number, C: number, eps: number) {
  g.dispatch('rmsnorm_forward', { u: [N, C], f: [eps] }, [slice(out, 0, N * C), slice(rstd, 0, N), slice(inp, 0, N * C), weight], [N]);
}

/** dinp (N,C) += (residual stream); dweight (C) += ; from dout (N,C), inp (N,C), weight (C), the cached rstd (N) */
export function rmsnormBackward(g: Gpu, dinp: View, dweight: View, dout: View, inp: View, weight: View, rstd: View, N: number, C: number) {
  const NC = N * C;
  g.dispatch('rmsnorm_backward', { u: [N, C] }, [slice(dinp, 0, NC), slice(dout, 0, NC), slice(inp, 0, NC), weight, slice(rstd, 0, N)], [N]);
  g.dispatch('rmsnorm_backward_dweight', { u: [N, C] }, [dweight, slice(dout, 0, NC), slice(inp, 0, NC), slice(rstd, 0, N)], [Math.ceil(C / 64)]);
}

export function residualForward(g: Gpu, out: View, inp1: View, inp2: View, N: number) {
  g.dispatch('residual_forward', { u: [N] }, [slice(out, 0, N), slice(inp1, 0, N), slice(inp2, 0, N)], [Math.ceil(N / WG)]);
}

/** dinp1 += dout; dinp2 += dout (N). A model with one dresidual buffer needs no call (see kernels/residual.wgsl). */
export function residualBackward(g: Gpu, dinp1: View, dinp2: View, dout: View, N: number) {
  g.dispatch('residual_backward', { u: [N] }, [slice(dinp1, 0, N), slice(dinp2, 0, N), slice(dout, 0, N)], [Math.ceil(N / WG)]);
}

/** out: (N,C)  mean, rstd: (N)  inp: (N,C)  weight, bias: (C) */
export function layernormForward(g: Gpu, out: View, mean: View, rstd: View, inp: View, weight: View, bias: View, N: number, C: number, eps: number) {
  g.dispatch('layernorm_forward', { u: [N, C], f: [eps] },
    [slice(out, 0, N * C), slice(mean, 0, N), slice(rstd, 0, N), slice(inp, 0, N * C), weight, bias], [N]);
}

/** dinp (N,C) += (residual stream); dweight, dbias (C) += ; from dout, inp (N,C), weight (C), the cached mean, rstd (N) */
export function layernormBackward(g: Gpu, dinp: View, dweight: View, dbias: View, dout: View, inp: View, weight: View,
                                  mean: View, rstd: View, N: number, C: number) {
  const NC = N * C;
  g.dispatch('layernorm_backward', { u: [N, C] },
    [slice(dinp, 0, NC), slice(dout, 0, NC), slice(inp, 0, NC), weight, slice(mean, 0, N), slice(rstd, 0, N)], [N]);
  g.dispatch('layernorm_backward_dweight', { u: [N, C] },
    [dweight, dbias, slice(dout, 0, NC), slice(inp, 0, NC), slice(mean, 0, N), slice(rstd, 0, N)], [Math.ceil(C / 64)]);
}

export function geluForward(g: Gpu, out: View, inp: View, N: number) {
  g.dispatch('gelu_forward', { u: [N] }, [slice(out, 0, N), slice(inp, 0, N)], [Math.ceil(N / WG)]);
}

/** dinp = dout * gelu'(inp), (N); llm.c's argument order (dinp, inp, dout) */
export function geluBackward(g: Gpu, dinp: View, inp: View, dout: View, N: number) {
  g.dispatch('gelu_backward', { u: [N] }, [slice(dinp, 0, N), slice(inp, 0, N), slice(dout, 0, N)], [Math.ceil(N / WG)]);
}

export function swigluForward(g: Gpu, out: View, gate: View, up: View, N: number) {
  g.dispatch('swiglu_forward', { u: [N] }, [slice(out, 0, N), slice(gate, 0, N), slice(up, 0, N)], [Math.ceil(N / WG)]);
}

/** dgate, dup = from dout, gate, up (N) */
export function swigluBackward(g: Gpu, dgate: View, dup: View, dout: View, gate: View, up: View, N: number) {
  g.dispatch('swiglu_backward', { u: [N] }, [slice(dgate, 0, N), slice(dup, 0, N), slice(dout, 0, N), slice(gate, 0, N), slice(up, 0, N)],
    [Math.ceil(N / WG)]);
}

/**
 * out[n, o] = sum_c inp[n, c] * weight[o, c] (+ bias[o]).  out: (N, OC)  inp: (N, C)  weight: (OC, C)
 * Splits weight rows and out rows into chunks under maxStorageBufferBindingSize (a GPT-2 head,
 * 50257 x 768 floats = 154 MB, is bound as two chunks on lavapipe's 128 MiB limit).
 */
export function matmulForward(g: Gpu, out: View, inp: View, weight: View, bias: View | null, N: number, C: number, OC: number) {
  const { nChunk, ocChunk } = matmulChunks(bindingFloats(g), N, C, OC);
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

/**
 * dinp (N,C) = dout @ weight (or += with accumulate); dweight (OC,C) += dout^T @ inp; dbias (OC) += column
 * sums of dout. dout: (N,OC). Chunked like matmulForward; maxBindingFloats (default: the device
 * limit) lets tests force small chunks. Chunks run in a fixed order, so results are deterministic.
 */
export function matmulBackward(g: Gpu, dinp: View, dweight: View, dbias: View | null, dout: View, inp: View, weight: View,
                               N: number, C: number, OC: number, opts: { accumulate?: boolean; maxBindingFloats?: number } = {}) {
  const { nChunk, ocChunk } = matmulChunks(opts.maxBindingFloats ?? bindingFloats(g), N, C, OC);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    const doutRows = slice(dout, n0 * OC, n * OC);
    for (let oc0 = 0; oc0 < OC; oc0 += ocChunk) {
      const oc = Math.min(ocChunk, OC - oc0);
      const w = slice(weight, oc0 * C, oc * C);
      // dinp: the first OC chunk writes (unless accumulating), later ones add
      g.dispatch('matmul_backward', { u: [n, C, oc, OC, oc0, opts.accumulate || oc0 > 0 ? 1 : 0] },
        [slice(dinp, n0 * C, n * C), doutRows, w], [Math.ceil(C / 32), Math.ceil(n / 32)]);
      g.dispatch('matmul_backward_dweight', { u: [n, C, oc, OC, oc0, dbias ? 1 : 0] },
        [slice(dweight, oc0 * C, oc * C), dbias ? slice(dbias, oc0, oc) : g.none, doutRows, slice(inp, n0 * C, n * C)],
        [Math.ceil(C / 32), Math.ceil(oc / 32)]);
    }
  }
}

// floats one storage binding may hold on this device
function bindingFloats(g: Gpu): number {
  return Math.floor(g.limits.maxStorageBufferBindingSize / 4);
}

// rows of (N,C)/(N,OC) and of weight (OC,C) per chunk, multiples of ALIGN so chunk offsets stay aligned
function matmulChunks(maxFloats: number, N: number, C: number, OC: number) {
  const ocChunk = Math.floor(maxFloats / C / ALIGN) * ALIGN;
  const nChunk = Math.min(Math.floor(maxFloats / OC / ALIGN) * ALIGN, Math.floor(maxFloats / C / ALIGN) * ALIGN);
  if (ocChunk === 0 || nChunk === 0) {
    fail(`matmul: rows of ${C} or ${OC} floats are too wide for a storage binding of ${maxFloats * 4} bytes`,
      'use a device with larger storage bindings');
  }
  return { nChunk, ocChunk };
}

/** RoPE in place on x: (B,T,NH,HS), with tables from ropeTables(). mode 0 interleaved, 1 rotate_half. */
export function ropeForward(g: Gpu, x: View, cos: View, sin: View, B: number, T: number, NH: number, HS: number, mode: 0 | 1) {
  assert(HS % 2 === 0, `rope: head size ${HS} must be even`);
  const N = B * T * NH * (HS / 2);
  g.dispatch('rope_forward', { u: [N, T, NH, HS, mode] }, [slice(x, 0, B * T * NH * HS), cos, sin], [Math.ceil(N / WG)]);
}

/** the inverse rotation, in place on dx (B,T,NH,HS): gradient w.r.t. rotated q/k -> w.r.t. unrotated */
export function ropeBackward(g: Gpu, dx: View, cos: View, sin: View, B: number, T: number, NH: number, HS: number, mode: 0 | 1) {
  assert(HS % 2 === 0, `rope: head size ${HS} must be even`);
  const N = B * T * NH * (HS / 2);
  g.dispatch('rope_backward', { u: [N, T, NH, HS, mode] }, [slice(dx, 0, B * T * NH * HS), cos, sin], [Math.ceil(N / WG)]);
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
  const Bc = attentionBatchChunk(g, B, T, NH, HS, qs, kvs);
  for (let b0 = 0; b0 < B; b0 += Bc) {
    const b = Math.min(Bc, B - b0);
    g.dispatch('attention_forward', { u: [b, T, NH, KVH, HS, qs, q0, kvs, k0, v0], f: [1 / Math.sqrt(HS)] },
      [slice(out, b0 * T * NH * HS, b * T * NH * HS), slice(att, b0 * NH * T * T, b * NH * T * T),
        slice(q, b0 * T * qs, b * T * qs), slice(k, b0 * T * kvs, b * T * kvs), slice(v, b0 * T * kvs, b * T * kvs)],
      [Math.ceil((b * NH * T) / ATT_WG)]);
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
    g.dispatch('attention_backward', dims(kvs, v0, 0, 0), [dpre_b, dout_b, att_b, at(v, T * kvs)], [Math.ceil((b * NH * T) / ATT_WG)]);
    g.dispatch('attention_backward_dq', dims(kvs, k0, qs, q0), [at(dq, T * qs), dpre_b, at(k, T * kvs)], [Math.ceil((b * T * C) / ATT_WG)]);
    const kvGrid: [number] = [Math.ceil((b * T * KVH * HS) / ATT_WG)];
    g.dispatch('attention_backward_dkv', dims(qs, q0, kvs, k0), [at(dk, T * kvs), dpre_b, at(q, T * qs)], kvGrid);
    g.dispatch('attention_backward_dkv', dims(C, 0, kvs, v0), [at(dv, T * kvs), att_b, dout_b], kvGrid);
  }
}

// sequences per attention dispatch, so that att (Bc,NH,T,T) fits one binding and chunk offsets stay aligned
function attentionBatchChunk(g: Gpu, B: number, T: number, NH: number, HS: number, qs: number, kvs: number): number {
  const maxFloats = bindingFloats(g);
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

/** losses: (N)  logits: (N,V)  targets: (N) u32; rows chunked to fit one binding */
export function crossentropyForward(g: Gpu, losses: View, logits: View, targets: View, N: number, V: number) {
  const nChunk = Math.floor(bindingFloats(g) / V / ALIGN) * ALIGN;
  assert(nChunk > 0, `crossentropy: a row of ${V} logits is too wide for maxStorageBufferBindingSize`);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    g.dispatch('crossentropy_forward', { u: [n, V] }, [slice(losses, n0, n), slice(logits, n0 * V, n * V), slice(targets, n0, n)], [n]);
  }
}

/** dlogits (N,V) = (softmax(logits) - onehot(targets)) * dlosses[n]; dlosses: (N); rows chunked to fit one binding */
export function crossentropySoftmaxBackward(g: Gpu, dlogits: View, dlosses: View, logits: View, targets: View, N: number, V: number) {
  const nChunk = Math.floor(bindingFloats(g) / V / ALIGN) * ALIGN;
  assert(nChunk > 0, `crossentropy: a row of ${V} logits is too wide for maxStorageBufferBindingSize`);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    g.dispatch('crossentropy_softmax_backward', { u: [n, V] },
      [slice(dlogits, n0 * V, n * V), slice(dlosses, n0, n), slice(logits, n0 * V, n * V), slice(targets, n0, n)], [n]);
  }
}

/**
 * One AdamW step (torch.optim.AdamW) over flat arenas params, m, v, grads, decay: (P). decay is a
 * per-element multiplier of weightDecay (1 for rank >= 2 tensors, 0 for norms and biases); scale (1)
 * multiplies the gradient (gradnormClip's output, or a buffer holding 1). t is the step, from 1.
 */
export function adamwUpdate(g: Gpu, params: View, m: View, v: View, grads: View, decay: View, scale: View, P: number,
                            lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number,
                            maxBindingFloats = bindingFloats(g)) {
  assert(Number.isInteger(t) && t >= 1, `adamw: step ${t} must be an integer >= 1`);
  // bias corrections in float64, as torch computes them in Python
  const f = [lr * weightDecay, beta1, beta2, eps, lr / (1 - beta1 ** t), Math.sqrt(1 - beta2 ** t)];
  const chunk = Math.floor(maxBindingFloats / ALIGN) * ALIGN;
  for (let i0 = 0; i0 < P; i0 += chunk) {
    const n = Math.min(chunk, P - i0);
    const at = (x: View) => slice(x, i0, n);
    g.dispatch('adamw_update', { u: [n], f }, [at(params), at(m), at(v), at(grads), at(decay), scale], [Math.ceil(n / WG)]);
  }
}

const NORM_CHUNK = 4096; // kernels/gradnorm.wgsl CHUNK: elements per partial sum

/**
 * norm (1) = ||grads (P)||_2; scale (1) = min(1, maxNorm / (norm + 1e-6)), torch's clip_grad_norm_ rule,
 * or 1 when maxNorm <= 0 or is not finite (no clipping). Deterministic two-stage reduction.
 */
export function gradnormClip(g: Gpu, scale: View, norm: View, grads: View, P: number, maxNorm: number,
                             maxBindingFloats = bindingFloats(g)) {
  const NP = Math.ceil(P / NORM_CHUNK);
  const partials = scratch(g, 'gradnorm_partials', Math.max(NP, 1));
  const chunk = Math.floor(maxBindingFloats / NORM_CHUNK) * NORM_CHUNK;   // keeps the partition fixed
  assert(chunk > 0, `gradnorm: a binding of ${maxBindingFloats} floats is under one ${NORM_CHUNK}-element chunk`);
  for (let i0 = 0; i0 < P; i0 += chunk) {
    const n = Math.min(chunk, P - i0);
    g.dispatch('gradnorm_partial', { u: [n, i0 / NORM_CHUNK] }, [partials, slice(grads, i0, n)], [Math.ceil(n / NORM_CHUNK)]);
  }
  const clip = maxNorm > 0 && Number.isFinite(maxNorm);
  g.dispatch('gradnorm_clip', { u: [NP, clip ? 1 : 0], f: [clip ? maxNorm : 0] }, [slice(norm, 0, 1), slice(scale, 0, 1), partials], [1]);
}
