// matmul launchers (kernels/matmul.wgsl): out = inp @ weight^T (+ bias) and its backward, split into
// chunks under maxStorageBufferBindingSize. Each workgroup covers a 32x32 output tile (8x8 threads,
// 4x4 outputs each, as the kernel's @workgroup_size says).
import type { Gpu, View } from '../gpu.js';
import { ALIGN, slice } from '../view.js';
import { fail } from '../../util/errors.js';

const TILE = 32;

/**
 * out[n, o] = sum_c inp[n, c] * weight[o, c] (+ bias[o]).  out: (N, OC)  inp: (N, C)  weight: (OC, C)
 * Splits weight rows and out rows into chunks under maxStorageBufferBindingSize (a GPT-2 head,
 * 50257 x 768 floats = 154 MB, is bound as two chunks on lavapipe's 128 MiB limit).
 */
export function matmulForward(g: Gpu, out: View, inp: View, weight: View, bias: View | null, N: number, C: number, OC: number) {
  const { nChunk, ocChunk } = matmulChunks(g.bindingFloats, N, C, OC);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    for (let oc0 = 0; oc0 < OC; oc0 += ocChunk) {
      const oc = Math.min(ocChunk, OC - oc0);
      g.dispatch('matmul_forward', { u: [n, C, oc, OC, oc0, bias ? 1 : 0] },
        [slice(out, n0 * OC, n * OC), slice(inp, n0 * C, n * C), slice(weight, oc0 * C, oc * C), bias ? slice(bias, oc0, oc) : g.none],
        [Math.ceil(oc / TILE), Math.ceil(n / TILE)]);
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
  const { nChunk, ocChunk } = matmulChunks(opts.maxBindingFloats ?? g.bindingFloats, N, C, OC);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    const doutRows = slice(dout, n0 * OC, n * OC);
    for (let oc0 = 0; oc0 < OC; oc0 += ocChunk) {
      const oc = Math.min(ocChunk, OC - oc0);
      const w = slice(weight, oc0 * C, oc * C);
      // dinp: the first OC chunk writes (unless accumulating), later ones add
      g.dispatch('matmul_backward', { u: [n, C, oc, OC, oc0, opts.accumulate || oc0 > 0 ? 1 : 0] },
        [slice(dinp, n0 * C, n * C), doutRows, w], [Math.ceil(C / TILE), Math.ceil(n / TILE)]);
      g.dispatch('matmul_backward_dweight', { u: [n, C, oc, OC, oc0, dbias ? 1 : 0] },
        [slice(dweight, oc0 * C, oc * C), dbias ? slice(dbias, oc0, oc) : g.none, doutRows, slice(inp, n0 * C, n * C)],
        [Math.ceil(C / TILE), Math.ceil(oc / TILE)]);
    }
  }
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
