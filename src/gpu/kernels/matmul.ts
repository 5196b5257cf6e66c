// matmul launchers (kernels/matmul.wgsl, matmul_subgroup.wgsl, matmul_f16.wgsl, matmul_sgmatrix.wgsl): out = inp @ weight^T (+ bias)
// and its backward, split into chunks under maxStorageBufferBindingSize, each chunk run by one of the
// variants: 'subgroup' (gemm_sg, the adapter has subgroups of >= 8 lanes), 'regs' (gemm_regs), 'tiled'
// (gemm_tiled, workgroup memory) or 'scalar' (the any-shape kernels). The vec4 variants need the
// operands' row strides to be multiples of 4; the launcher offers the valid ones to the tuner
// (src/gpu/tune.ts), which keeps the fastest per adapter and shape class. Each launch is given its
// precision (opts.precision, the model's pass passes it on): under 'f16' (--precision f16) every variant
// reads its operands rounded to f16 and sums in f32, and the forward rounds its output to f16 (except the logits).
// On a device with real f16 arithmetic (Gpu.f16Arithmetic: shader-f16) an 'f16' launch whose strides
// allow vec4 runs an f16 variant instead (kernels/matmul_f16.wgsl; f16Candidates below, op 'matmul_f16'
// of the tuner: 'f16' or 'f16tiled', the same sums): f16 products summed in f32, the weight read from its
// f16 copy when its owner keeps one (Gpu.halves, src/gpu/halves.ts). That is another arithmetic, not a
// faster way to the same sums, so the tuner never chooses between it and the emulation.
// Where the adapter has subgroup matrices, an 'f16' launch offers 'sgmatrix' (tensor cores,
// src/gpu/kernels/matmul_sgmatrix.ts: f16 products summed in f32, the emulation's arithmetic in another
// order) first, with the vec4 variants (tiled stays last: the tuner's reference), before real f16 arithmetic.
import type { Gpu, Precision, View } from '../gpu.js';
import { benchOperands, type Bench } from '../tune.js';
import { ALIGN, slice } from '../view.js';
import { assert, fail } from '../../util/errors.js';
import { columnSums } from './reduce.js';
import { geluBackward, geluErfBackward, geluErfForward, geluForward } from './pointwise.js';
import { matmulForwardW16 } from './matmul_w16.js';
import { gemmSgmatrix, hasSgmatrix } from './matmul_sgmatrix.js';

// 'sgmatrix': the tensor-core gemm of src/gpu/kernels/matmul_sgmatrix.ts, a candidate under --precision f16 only
export type MatmulVariant = 'subgroup' | 'regs' | 'tiled' | 'scalar' | 'sgmatrix' | F16Variant;
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['subgroup', 'regs', 'tiled', 'scalar'];
/** the variants of real f16 arithmetic (op 'matmul_f16'), best guess first */
export type F16Variant = 'f16' | 'f16tiled';
const isHalf = (v: MatmulVariant): v is F16Variant => v === 'f16' || v === 'f16tiled';

const SCALAR_TILE = 32;   // scalar kernels: 8x8 threads x 4x4 outputs
// gemm entry point and output tile (rows M, columns N) per workgroup
const GEMM: Record<Exclude<MatmulVariant, 'scalar' | 'sgmatrix'>, { entry: string; tm: number; tn: number }> = {
  subgroup: { entry: 'gemm_sg', tm: 128, tn: 32 },
  regs: { entry: 'gemm_regs', tm: 32, tn: 32 },
  tiled: { entry: 'gemm_tiled', tm: 64, tn: 64 },
  f16: { entry: 'gemm_f16', tm: 32, tn: 32 },
  f16tiled: { entry: 'gemm_f16_tiled', tm: 64, tn: 64 },
};

/** the vec4 variants that can run a gemm with these row strides, best guess first ('scalar' runs any) */
export function matmulCandidates(g: Gpu, ...strides: number[]): MatmulVariant[] {
  if (!strides.every((s) => s % 4 === 0)) return [];
  return [...(g.subgroups8 ? ['subgroup' as const] : []), 'regs', 'tiled'];
}

/** the real-f16 variants for an 'f16' gemm with these row strides on this device ([]: the emulation runs) */
export function f16Candidates(g: Gpu, precision: Precision, ...strides: number[]): F16Variant[] {
  return precision === 'f16' && g.f16Arithmetic && strides.every((s) => s % 4 === 0) ? ['f16', 'f16tiled'] : [];
}

/**
 * C(M,N) (=|+=) sum_k A(m,k) B(n,k) (+ bias[n]), A(m,k) = a[m*lda + k] or (aCol) a[k*lda + m], B likewise;
 * c is written at c[m*ldc + c0 + n]. One dispatch of a vec4 variant (bindings must fit). epi: the fused
 * pass (kernels/matmul.wgsl EPI) with x, laid out as c.
 */
function gemm(g: Gpu, v: Exclude<MatmulVariant, 'scalar'>, precision: Precision, c: View, c0: number, ldc: number, a: View, lda: number, aCol: boolean,
              b: View, ldb: number, bCol: boolean, bias: View | null, M: number, N: number, K: number, acc: boolean, out16 = false,
              epi: { code: number; x: View } | null = null) {
  if (v === 'sgmatrix') {
    gemmSgmatrix(g, c, c0, ldc, a, lda, aCol, b, ldb, bCol, bias, M, N, K, acc, epi?.x ?? null, { ...f16(precision, out16), ...(epi ? { EPI: epi.code } : {}) });
    return;
  }
  const { entry, tm, tn } = GEMM[v];
  // the f16 variant binds B's f16 copy as well (@binding(6)) and reads it instead where there is one
  const half = isHalf(v) ? g.halves.of(b) : null, unused = () => g.scratch('gemm_unused', 4);
  const bindings = [c, a, half ? unused() : b, bias ?? g.none, epi?.x ?? g.scratch('gemm_no_epilogue', 1), ...(isHalf(v) ? [half ?? unused()] : [])];
  g.dispatch(entry, { u: [M, N, K, lda, ldb, ldc, c0, acc ? 1 : 0, bias ? 1 : 0] }, bindings, [Math.ceil(N / tn), Math.ceil(M / tm)],
    { A_COL: aCol ? 1 : 0, B_COL: bCol ? 1 : 0, ...f16(isHalf(v) ? 'f16' : precision, out16), ...(isHalf(v) ? { B_HALF: half ? 1 : 0 } : {}), ...(epi ? { EPI: epi.code } : {}) });
}

/** what every matmul launch is told: the precision of its operands ('f32' unless given; Model passes its own on) */
export interface MatmulOptions { precision?: Precision }

/** a GELU fused into a matmul: forward writes GELU(out) to `act`; backward multiplies dinp by gelu'(`pre`) */
export interface GeluEpilogue { form: 'tanh' | 'erf' }
const EPI = { tanh: { fwd: 1, bwd: 3 }, erf: { fwd: 2, bwd: 4 } } as const, EPI_RESIDUAL = 5;

// the pipeline constants of a precision: under 'f16' the operands are rounded to f16 on read, and with
// out16 (forward outputs) the result is rounded to f16 as it is stored
const f16 = (precision: Precision, out16 = false) => (precision === 'f16' ? { F16_IN: 1, ...(out16 ? { F16_OUT: 1 } : {}) } : { F16_IN: 0 });

/** the tuner's choice for a gemm of this mode and shape class (timed at the launch's precision) */
function choose(g: Gpu, precision: Precision, mode: string, M: number, N: number, K: number, aCol: boolean, bCol: boolean, ...strides: number[]): MatmulVariant {
  const key = `${mode}:M${bucket(M)}:N${N}:K${K}`;
  const bench = () => gemmBench(g, precision, Math.min(M, 256), Math.min(N, 2048), Math.min(K, 2048), aCol, bCol);
  const vec4 = matmulCandidates(g, ...strides);
  // the tensor-core gemm first (the best guess where it exists); the tuner checks every candidate against the last
  if (precision === 'f16' && hasSgmatrix(g) && vec4.length) return g.tuner.pick('matmul', key, ['sgmatrix', ...vec4], 'scalar', bench) as MatmulVariant;
  const half = f16Candidates(g, precision, ...strides);
  if (half.length) return g.tuner.pick('matmul_f16', key, half, half[0], bench) as MatmulVariant;
  return g.tuner.pick('matmul', key, vec4, 'scalar', bench) as MatmulVariant;
}

// shape classes: rows by powers of 2 (the batch changes them), N and K exact (the model's)
const bucket = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

// a capped problem of the same mode, random operands, for the tuner
function gemmBench(g: Gpu, precision: Precision, M: number, N: number, K: number, aCol: boolean, bCol: boolean): Bench {
  const al = (x: number) => Math.ceil(x / 4) * 4;
  const lda = aCol ? al(M) : al(K), ldb = bCol ? al(N) : al(K);
  const a = g.tensor((aCol ? K : M) * lda, 'tune_a'), b = g.tensor((bCol ? K : N) * ldb, 'tune_b'), c = g.tensor(M * N, 'tune_c');
  const [ra, rb] = benchOperands(a.numel, b.numel);
  g.upload(a, ra);
  g.upload(b, rb);
  return {
    run: (v) => gemm(g, v as Exclude<MatmulVariant, 'scalar'>, precision, c, 0, N, a, lda, aCol, b, ldb, bCol, null, M, N, K, false),
    read: () => g.read(c),
    release: () => { for (const x of [a, b, c]) g.release(x.buffer); },
  };
}

/**
 * out[n, o] = sum_c inp[n, c] * weight[o, c] (+ bias[o]).  out: (N, ldo >= OC)  inp: (N, C)  weight: (OC, C)
 * Splits weight rows and out rows into chunks under maxStorageBufferBindingSize (a GPT-2 head,
 * 50257 x 768 floats = 154 MB, is bound as two chunks on lavapipe's 128 MiB limit).
 * Under --precision f16 out is rounded to f16 (an autocast linear's output) unless f32Out (the logits).
 * Fused passes, in the gemm's epilogue (the vec4 variants) or else around the scalar kernel: residual
 * (N, OC): out = residual + the product (the residual stream's add; scalar: copied into out, then +=);
 * gelu: out is the pre-activation and gelu.act (N, OC) gets its GELU (scalar: the pointwise kernel after).
 */
export function matmulForward(g: Gpu, out: View, inp: View, weight: View, bias: View | null, N: number, C: number, OC: number, ldo = OC,
                              opts: MatmulOptions & { f32Out?: boolean; residual?: View; gelu?: GeluEpilogue & { act: View } } = {}) {
  if (weight.dtype) return matmulForwardW16(g, out, inp, weight, bias, N, C, OC, ldo, opts); // kept in its 16-bit dtype (a teacher)
  const { nChunk, ocChunk } = matmulChunks(g.bindingFloats, N, C, ldo);
  const out16 = !opts.f32Out, { residual, gelu } = opts, precision = opts.precision ?? 'f32';
  assert(!residual || !gelu, 'matmulForward: a residual add and a GELU cannot both follow one matmul');
  assert(ldo === OC || (!residual && !gelu), 'matmulForward: a fused residual add or GELU needs rows of OC floats (ldo = OC)');
  const v = choose(g, precision, 'fwd', N, OC, C, false, false, C);
  if (residual && v === 'scalar') g.copy(slice(out, 0, N * OC), slice(residual, 0, N * OC)); // then += below
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    for (let oc0 = 0; oc0 < OC; oc0 += ocChunk) {
      const oc = Math.min(ocChunk, OC - oc0);
      const x = slice(inp, n0 * C, n * C), w = slice(weight, oc0 * C, oc * C), b = bias ? slice(bias, oc0, oc) : null;
      const rows = (t: View) => slice(t, n0 * ldo, Math.min(n * ldo, t.numel - n0 * ldo));
      const o = rows(out);
      if (v === 'scalar') {
        g.dispatch('matmul_forward', { u: [n, C, oc, ldo, oc0, bias ? 1 : 0, residual ? 1 : 0] }, [o, x, w, b ?? g.none],
          [Math.ceil(oc / SCALAR_TILE), Math.ceil(n / SCALAR_TILE)], f16(precision, out16));
      } else {
        const epi = gelu ? { code: EPI[gelu.form].fwd, x: rows(gelu.act) } : residual ? { code: EPI_RESIDUAL, x: rows(residual) } : null;
        gemm(g, v, precision, o, oc0, ldo, x, C, false, w, C, false, b, n, oc, C, false, out16, epi);
      }
    }
  }
  if (gelu && v === 'scalar') (gelu.form === 'tanh' ? geluForward : geluErfForward)(g, gelu.act, out, N * ldo);
}

/**
 * dinp (N,C) = dout @ weight (or += with accumulate); dweight (OC,C) += dout^T @ inp; dbias (OC) += column
 * sums of dout. dout: (N, ldd) rows, OC of them used (ldd >= OC; a padded row stride lets the vec4
 * variants run on an odd OC such as GPT-2's vocabulary). Chunked like matmulForward; maxBindingFloats
 * (default: the device limit) lets tests force small chunks. Chunks run in a fixed order: deterministic.
 */
export function matmulBackward(g: Gpu, dinp: View, dweight: View, dbias: View | null, dout: View, inp: View, weight: View,
                               N: number, C: number, OC: number,
                               opts: MatmulOptions & { accumulate?: boolean; maxBindingFloats?: number; ldd?: number; gelu?: GeluEpilogue & { pre: View } } = {}) {
  const ldd = opts.ldd ?? OC, precision = opts.precision ?? 'f32';
  const { nChunk, ocChunk } = matmulChunks(opts.maxBindingFloats ?? g.bindingFloats, N, C, ldd);
  const vIn = choose(g, precision, 'dinp', N, C, OC, false, true, ldd, C);
  const vW = choose(g, precision, 'dweight', OC, C, N, true, true, ldd, C);
  const gelu = opts.gelu;
  assert(!gelu || !opts.accumulate, 'matmulBackward: a fused GELU backward writes dinp, it cannot accumulate');
  // the GELU backward joins the dinp gemm when one dispatch writes each element (one OC chunk), else runs after
  const fuse = !!gelu && vIn !== 'scalar' && ocChunk >= OC;
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    const doutRows = slice(dout, n0 * ldd, Math.min(n * ldd, dout.numel - n0 * ldd));
    const x = slice(inp, n0 * C, n * C), dx = slice(dinp, n0 * C, n * C);
    for (let oc0 = 0; oc0 < OC; oc0 += ocChunk) {
      const oc = Math.min(ocChunk, OC - oc0);
      const w = slice(weight, oc0 * C, oc * C), dw = slice(dweight, oc0 * C, oc * C), db = dbias ? slice(dbias, oc0, oc) : null;
      const acc = !!opts.accumulate || oc0 > 0; // dinp: the first OC chunk writes (unless accumulating), later ones add
      if (vIn === 'scalar') {
        g.dispatch('matmul_backward', { u: [n, C, oc, ldd, oc0, acc ? 1 : 0] }, [dx, doutRows, w], [Math.ceil(C / SCALAR_TILE), Math.ceil(n / SCALAR_TILE)], f16(precision));
      } else {
        // A(n, o) = dout[n * ldd + oc0 + o] (rows, from the chunk's first column), B(c, o) = W[o * C + c] (columns)
        gemm(g, vIn, precision, dx, 0, C, slice(doutRows, oc0, doutRows.numel - oc0), ldd, false, w, C, true, null, n, C, oc, acc, false,
          fuse ? { code: EPI[gelu!.form].bwd, x: slice(gelu!.pre, n0 * C, n * C) } : null);
      }
      if (vW === 'scalar') {
        g.dispatch('matmul_backward_dweight', { u: [n, C, oc, ldd, oc0, db ? 1 : 0] }, [dw, db ?? g.none, doutRows, x],
          [Math.ceil(C / SCALAR_TILE), Math.ceil(oc / SCALAR_TILE)], f16(precision));
      } else {
        // A(o, n) = dout[n * ldd + oc0 + o] (columns), B(c, n) = inp[n * C + c] (columns); += into dweight
        gemm(g, vW, precision, dw, 0, C, slice(doutRows, oc0, doutRows.numel - oc0), ldd, true, x, C, true, null, oc, C, n, true);
        if (db) columnSums(g, db, doutRows, n, oc, ldd, oc0);
      }
    }
  }
  if (gelu && !fuse) (gelu.form === 'tanh' ? geluBackward : geluErfBackward)(g, dinp, gelu.pre, dinp, N * C);
}

// rows of (N,C)/(N,ldd) and of weight (OC,C) per chunk, multiples of ALIGN so chunk offsets stay aligned
function matmulChunks(maxFloats: number, N: number, C: number, OC: number) {
  const ocChunk = Math.floor(maxFloats / C / ALIGN) * ALIGN;
  const nChunk = Math.min(Math.floor(maxFloats / OC / ALIGN) * ALIGN, Math.floor(maxFloats / C / ALIGN) * ALIGN);
  if (ocChunk === 0 || nChunk === 0) {
    fail(`matmul: rows of ${C} or ${OC} floats are too wide for a storage binding of ${maxFloats * 4} bytes`,
      'use a device with larger storage bindings');
  }
  return { nChunk, ocChunk };
}
