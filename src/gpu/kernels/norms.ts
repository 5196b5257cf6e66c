// norm launchers: RMSNorm (kernels/rmsnorm.wgsl, Llama) and LayerNorm (kernels/layernorm.wgsl, GPT-2).
// Rows (N = B*T) run one workgroup each; the parameter gradients are two-stage column sums. Where a
// workgroup of Gpu.rowThreads is one subgroup (a CPU driver) the row passes run as the *_sg entries
// (kernels/*norm_subgroup.wgsl: no barriers, the row read once), which give the same bits.
import type { Gpu, View } from '../gpu.js';
import { alignUp, slice } from '../view.js';
import { ROWS, blocksOf, finishColumnSums } from './reduce.js';

const WG = 64; // columns per workgroup in the dweight passes (threads per row: Gpu.rowThreads)
const ROW_CACHE = 128; // row values per lane the *_sg entries keep (ROW_CACHE in kernels/_rows_subgroup.wgsl)

// the row passes' entry: NAME_sg where a workgroup of rowThreads lanes is one subgroup and the row fits
// its registers; GpuOptions.force { norm: 'workgroup' } keeps the barrier form (tests compare the two)
function rowEntry(g: Gpu, name: string, C: number): string {
  const s = g.subgroupSize, T = g.rowThreads;
  const fits = s !== null && s.min === T && s.max === T && C <= T * ROW_CACHE;
  return g.tuner.pick('norm', `C${C}`, fits ? ['subgroup'] : [], 'workgroup', () => { throw new Error('one candidate: nothing to time'); }) === 'subgroup'
    ? `${name}_sg` : name;
}

export function rmsnormForward(g: Gpu, out: View, rstd: View, inp: View, weight: View, N: number, C: number, eps: number) {
  g.dispatch(rowEntry(g, 'rmsnorm_forward', C), { u: [N, C], f: [eps] }, [slice(out, 0, N * C), slice(rstd, 0, N), slice(inp, 0, N * C), weight], [N], { WG: g.rowThreads });
}

/** dinp (N,C) += (residual stream); dweight (C) += ; from dout (N,C), inp (N,C), weight (C), the cached rstd (N) */
export function rmsnormBackward(g: Gpu, dinp: View, dweight: View, dout: View, inp: View, weight: View, rstd: View, N: number, C: number) {
  const NC = N * C, NB = blocksOf(N), partial = g.scratch('norm_partial', NB * C);
  g.dispatch(rowEntry(g, 'rmsnorm_backward', C), { u: [N, C] }, [slice(dinp, 0, NC), slice(dout, 0, NC), slice(inp, 0, NC), weight, slice(rstd, 0, N)], [N], { WG: g.rowThreads });
  g.dispatch('rmsnorm_backward_dweight', { u: [N, C] }, [partial, slice(dout, 0, NC), slice(inp, 0, NC), slice(rstd, 0, N)],
    [Math.ceil(C / WG), NB], { WG, ROWS });
  finishColumnSums(g, dweight, partial, NB, C);
}

/** out: (N,C)  mean, rstd: (N)  inp: (N,C)  weight, bias: (C) */
export function layernormForward(g: Gpu, out: View, mean: View, rstd: View, inp: View, weight: View, bias: View, N: number, C: number, eps: number) {
  g.dispatch(rowEntry(g, 'layernorm_forward', C), { u: [N, C], f: [eps] },
    [slice(out, 0, N * C), slice(mean, 0, N), slice(rstd, 0, N), slice(inp, 0, N * C), weight, bias], [N], { WG: g.rowThreads });
}

/** dinp (N,C) += (residual stream); dweight, dbias (C) += ; from dout, inp (N,C), weight (C), the cached mean, rstd (N) */
export function layernormBackward(g: Gpu, dinp: View, dweight: View, dbias: View, dout: View, inp: View, weight: View,
                                  mean: View, rstd: View, N: number, C: number) {
  const NC = N * C;
  g.dispatch(rowEntry(g, 'layernorm_backward', C), { u: [N, C] },
    [slice(dinp, 0, NC), slice(dout, 0, NC), slice(inp, 0, NC), weight, slice(mean, 0, N), slice(rstd, 0, N)], [N], { WG: g.rowThreads });
  const NB = blocksOf(N), bofs = alignUp(NB * C), partial = g.scratch('norm_partial', bofs + NB * C);
  g.dispatch('layernorm_backward_dweight', { u: [N, C, bofs] },
    [partial, slice(dout, 0, NC), slice(inp, 0, NC), slice(mean, 0, N), slice(rstd, 0, N)], [Math.ceil(C / WG), NB], { WG, ROWS });
  finishColumnSums(g, dweight, slice(partial, 0, NB * C), NB, C);
  finishColumnSums(g, dbias, slice(partial, bofs, NB * C), NB, C);
}
