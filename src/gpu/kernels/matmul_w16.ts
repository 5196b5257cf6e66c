// matmul_w16 launchers (kernels/matmul_w16.wgsl, kernels/encoder_w16.wgsl): the forward matmul and the
// embedding lookup reading weights kept in their stored 16-bit dtype (a packed View, src/gpu/view.ts),
// widened in the kernel: a teacher runs forward only at 2 bytes a parameter. matmulForward and
// encoderForward hand a packed weight here, so the families' forward lists run unchanged. Chunked like
// matmulForward: weight rows by 128 (a chunk's first value then sits on a 64-word, 256-byte boundary),
// out/inp rows by ALIGN, each binding under maxStorageBufferBindingSize.
import type { Gpu, Precision, View } from '../gpu.js';
import { ALIGN, packedWords, slice } from '../view.js';
import { assert, fail } from '../../util/errors.js';

const TILE = 32; // 8x8 threads x 4x4 outputs
const ROWS = 128; // weight rows per chunk step: 128 * C values = 64 * C words, a multiple of ALIGN
const EPI = { tanh: 1, erf: 2 } as const, EPI_RESIDUAL = 5;
const WG = 256;

/**
 * out[n, o] = sum_c inp[n, c] * widen(weight[o, c]) (+ bias[o]) as matmulForward (out (N, ldo >= OC), inp
 * (N, C) f32, weight (OC, C) packed 16-bit, bias (OC) f32), with its fused residual add or GELU and its
 * precision's rounding; gemm_w16 where C is a multiple of 4, else the any-shape kernel.
 */
export function matmulForwardW16(g: Gpu, out: View, inp: View, weight: View, bias: View | null, N: number, C: number, OC: number, ldo = OC,
                                 opts: { precision?: Precision; f32Out?: boolean; residual?: View; gelu?: { form: 'tanh' | 'erf'; act: View }; maxBindingFloats?: number } = {}) {
  assert(!!weight.dtype && weight.numel === OC * C, `matmulForwardW16: weight of ${weight.numel} 16-bit values is not (${OC}, ${C})`);
  const { residual, gelu } = opts, max = opts.maxBindingFloats ?? g.bindingFloats;
  assert(!residual || !gelu, 'matmulForwardW16: a residual add and a GELU cannot both follow one matmul');
  assert(ldo === OC || (!residual && !gelu), 'matmulForwardW16: a fused residual add or GELU needs rows of OC floats (ldo = OC)');
  const ocChunk = Math.floor((2 * max) / C / ROWS) * ROWS, nChunk = Math.min(Math.floor(max / ldo / ALIGN), Math.floor(max / C / ALIGN)) * ALIGN;
  if (ocChunk === 0 || nChunk === 0) fail(`matmul: rows of ${C} or ${ldo} floats are too wide for a storage binding of ${max * 4} bytes`, 'use a device with larger storage bindings');
  const entry = C % 4 === 0 ? 'gemm_w16' : 'matmul_w16';
  const f16 = opts.precision === 'f16';
  const constants = { BF16: weight.dtype === 'BF16' ? 1 : 0, F16_IN: f16 ? 1 : 0, F16_OUT: f16 && !opts.f32Out ? 1 : 0,
    EPI: gelu ? EPI[gelu.form] : residual ? EPI_RESIDUAL : 0 };
  const extra = gelu?.act ?? residual ?? null;
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    const rows = (t: View) => slice(t, n0 * ldo, Math.min(n * ldo, t.numel - n0 * ldo));
    for (let oc0 = 0; oc0 < OC; oc0 += ocChunk) {
      const oc = Math.min(ocChunk, OC - oc0);
      const w = packedWords(weight, (oc0 * C) / 2, Math.ceil((oc * C) / 2)), b = bias ? slice(bias, oc0, oc) : g.none;
      // a fused pass's tensor has out's layout: each element is in one chunk, so the epilogue runs once for it
      const x = extra ? rows(extra) : g.scratch('gemm_no_epilogue', 1);
      g.dispatch(entry, { u: [n, C, oc, ldo, oc0, bias ? 1 : 0] }, [rows(out), slice(inp, n0 * C, n * C), w, b, x],
        [Math.ceil(oc / TILE), Math.ceil(n / TILE)], constants);
    }
  }
}

/** encoderForward with packed 16-bit tables: wte (V,C), wpe (maxT,C) or null; wte bound in row chunks that fit one binding */
export function encoderForwardW16(g: Gpu, out: View, ids: View, wte: View, wpe: View | null, B: number, T: number, C: number, pos0 = 0,
                                  maxBindingFloats = g.bindingFloats) {
  assert(!!wte.dtype && (!wpe || wpe.dtype === wte.dtype), 'encoderForwardW16: the tables must be packed 16-bit views of one dtype');
  const N = B * T * C, V = wte.numel / C;
  const vChunk = Math.floor((2 * maxBindingFloats) / C / ROWS) * ROWS;
  assert(vChunk > 0, `encoder: a row of ${C} values is too wide for one binding`);
  for (let v0 = 0; v0 < V; v0 += vChunk) {
    const nv = Math.min(vChunk, V - v0);
    g.dispatch('encoder_forward_w16', { u: [N, T, C, wpe ? 1 : 0, v0, nv, pos0] },
      [out, slice(ids, 0, B * T), packedWords(wte, (v0 * C) / 2, Math.ceil((nv * C) / 2)), wpe ? packedWords(wpe) : g.none],
      [Math.ceil(N / WG)], { WG, BF16: wte.dtype === 'BF16' ? 1 : 0 });
  }
}
