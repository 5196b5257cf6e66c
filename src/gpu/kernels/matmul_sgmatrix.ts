// matmul_sgmatrix: the tensor-core gemm (kernels/matmul_sgmatrix.wgsl, f16 x f16 -> f32 subgroup
// matrices, 16x16x16, one subgroup a workgroup, a 64 x 64 tile of C each) for adapters with Dawn's
// `chromium-experimental-subgroup-matrix` (src/gpu/device.ts requests it where the adapter offers the
// tile). Offered to the tuner (src/gpu/kernels/matmul.ts) as the variant 'sgmatrix' only under
// --precision f16, where every other variant reads the same f16-rounded operands, so the tuner's
// agreement check compares like with like and the choice changes speed, not what is computed (bar f32
// summation order). matmulSgmatrix() runs one product on its own (the bench's rows, the oracle test).
import type { Gpu, View } from '../gpu.js';
import { fail } from '../../util/errors.js';

const TILE = 64;   // C rows and columns per workgroup (SM_TM, SM_TN in the kernel)

/** the device runs kernels/matmul_sgmatrix.wgsl */
export function hasSgmatrix(g: Gpu): boolean {
  return g.subgroupMatrix !== null;
}

/** why this device does not run the subgroup-matrix gemm ('' when it does) */
export function sgmatrixMissing(g: Gpu): string {
  if (g.subgroupMatrix) return '';
  if (!g.device.features.has('chromium-experimental-subgroup-matrix')) {
    return 'the adapter does not offer chromium-experimental-subgroup-matrix (Dawn lists it only on drivers with ' +
      'cooperative matrices: NVIDIA, AMD, Intel, Apple GPUs; lavapipe and SwiftShader have none)';
  }
  return 'the adapter has no f16 x f16 -> f32 16x16x16 subgroup-matrix config with one subgroup size';
}

/**
 * One dispatch of gemm_sm: C(M,N) (=|+=) sum_k A(m,k) B(n,k) (+ bias[n]), the layout of matmul.ts's gemm
 * (lda, ldb multiples of 4; aCol / bCol: read by columns), operands rounded to f16 (nearest even), f32
 * sums. consts: the launch's other pipeline constants (F16_OUT, EPI, as matmul.ts passes them).
 */
export function gemmSgmatrix(g: Gpu, c: View, c0: number, ldc: number, a: View, lda: number, aCol: boolean, b: View, ldb: number, bCol: boolean,
                             bias: View | null, M: number, N: number, K: number, acc: boolean, epiX: View | null, consts: Record<string, number>) {
  const t = g.subgroupMatrix;
  if (!t) fail('the subgroup-matrix matmul needs chromium-experimental-subgroup-matrix', sgmatrixMissing(g));
  if (lda % 4 || ldb % 4) fail(`gemm_sm: row strides ${lda}, ${ldb} are not multiples of 4`, 'pad the operands\' rows to a multiple of 4 floats');
  g.dispatch('gemm_sm', { u: [M, N, K, lda, ldb, ldc, c0, acc ? 1 : 0, bias ? 1 : 0] },
    [c, a, b, bias ?? g.none, epiX ?? g.scratch('gemm_no_epilogue', 1)], [Math.ceil(N / TILE), Math.ceil(M / TILE)],
    { A_COL: aCol ? 1 : 0, B_COL: bCol ? 1 : 0, SG: t.lanes, ...consts });
}

/** out(M,N) = a(M,K) @ b(N,K)^T on the subgroup-matrix gemm, operands rounded to f16 (a bench row, a test) */
export function matmulSgmatrix(g: Gpu, out: View, a: View, b: View, M: number, N: number, K: number) {
  gemmSgmatrix(g, out, 0, N, a, K, false, b, K, false, null, M, N, K, false, null, {});
}
