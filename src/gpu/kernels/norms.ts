// norm launchers: RMSNorm (kernels/rmsnorm.wgsl, Llama) and LayerNorm (kernels/layernorm.wgsl, GPT-2).
// Rows (N = B*T) run one workgroup each; the parameter gradients are two-stage column sums.
import type { Gpu, View } from '../gpu.js';
import { alignUp, slice } from '../view.js';
import { ROWS, blocksOf, finishColumnSums } from './reduce.js';

const WG = 64; // columns per workgroup in the dweight passes (threads per row: Gpu.rowThreads)

export function rmsnormForward(g: Gpu, out: View, rstd: View, inp: View, weight: View, N: number, C: number, eps: number) {
  g.dispatch('rmsnorm_forward', { u: [N, C], f: [eps] }, [slice(out, 0, N * C), slice(rstd, 0, N), slice(inp, 0, N * C), weight], [N], { WG: g.rowThreads });
}

/** dinp (N,C) += (residual stream); dweight (C) += ; from dout (N,C), inp (N,C), weight (C), the cached rstd (N) */
export function rmsnormBackward(g: Gpu, dinp: View, dweight: View, dout: View, inp: View, weight: View, rstd: View, N: number, C: number) {
  const NC = N * C, NB = blocksOf(N), partial = g.scratch('norm_partial', NB * C);
  g.dispatch('rmsnorm_backward', { u: [N, C] }, [slice(dinp, 0, NC), slice(dout, 0, NC), slice(inp, 0, NC), weight, slice(rstd, 0, N)], [N], { WG: g.rowThreads });
  g.dispatch('rmsnorm_backward_dweight', { u: [N, C] }, [partial, slice(dout, 0, NC), slice(inp, 0, NC), slice(rstd, 0, N)],
    [Math.ceil(C / WG), NB], { WG, ROWS });
  finishColumnSums(g, dweight, partial, NB, C);
}

/** out: (N,C)  mean, rstd: (N)  inp: (N,C)  weight, bias: (C) */
export function layernormForward(g: Gpu, out: View, mean: View, rstd: View, inp: View, weight: View, bias: View, N: number, C: number, eps: number) {
  g.dispatch('layernorm_forward', { u: [N, C], f: [eps] },
    [slice(out, 0, N * C), slice(mean, 0, N), slice(rstd, 0, N), slice(inp, 0, N * C), weight, bias], [N], { WG: g.rowThreads });
}

/** dinp (N,C) += (residual stream); dweight, dbias (C) += ; from dout, inp (N,C), weight (C), the cached mean, rstd (N) */
export function layernormBackward(g: Gpu, dinp: View, dweight: View, dbias: View, dout: View, inp: View, weight: View,
                                  mean: View, rstd: View, N: number, C: number) {
  const NC = N * C;
  g.dispatch('layernorm_backward', { u: [N, C] },
    [slice(dinp, 0, NC), slice(dout, 0, NC), slice(inp, 0, NC), weight, slice(mean, 0, N), slice(rstd, 0, N)], [N], { WG: g.rowThreads });
  const NB = blocksOf(N), bofs = alignUp(NB * C), partial = g.scratch('norm_partial', bofs + NB * C);
  g.dispatch('layernorm_backward_dweight', { u: [N, C, bofs] },
    [partial, slice(dout, 0, NC), slice(inp, 0, NC), slice(mean, 0, N), slice(rstd, 0, N)], [Math.ceil(C / WG), NB], { WG, ROWS });
  finishColumnSums(g, dweight, slice(partial, 0, NB * C), NB, C);
  finishColumnSums(g, dbias, slice(partial, bofs, NB * C), NB, C);
}
