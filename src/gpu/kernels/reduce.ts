// reduce launchers (kernels/reduce.wgsl): deterministic two-stage column sums (+=) over many rows,
// for bias and norm-weight gradients: block partials, then the blocks in order.
import type { Gpu, View } from '../gpu.js';
import { slice } from '../view.js';

const WG = 64;
export const ROWS = 64; // rows per partial block (the norm kernels' dweight partials use the same)

/** partial blocks for N rows */
export const blocksOf = (N: number) => Math.max(1, Math.ceil(N / ROWS));

/** out (C) += column sums of x[n * ld + c0 + c] over n < N */
export function columnSums(g: Gpu, out: View, x: View, N: number, C: number, ld = C, c0 = 0) {
  const NB = blocksOf(N), partial = g.scratch('colsum_partial', NB * C);
  g.dispatch('colsum_partial', { u: [N, C, ld, c0] }, [partial, x], [Math.ceil(C / WG), NB], { WG, ROWS });
  finishColumnSums(g, out, partial, NB, C);
}

/** out (C) += sum over the NB blocks of partial (NB, C), in block order */
export function finishColumnSums(g: Gpu, out: View, partial: View, NB: number, C: number) {
  g.dispatch('colsum_finish', { u: [NB, C] }, [slice(out, 0, C), slice(partial, 0, NB * C)], [Math.ceil(C / WG)], { WG });
}
