// distillation launchers (kernels/distill.wgsl): the fused cross-entropy + KD loss of the student's
// logits against the teacher's (the whole distribution, or its top K), its gradient written over the
// student's logits, and the teacher's top K of each row. Logits are (N, V) in rows of ld >= V floats;
// rows are chunked to fit one binding, as the cross-entropy launchers do.
import type { Gpu, View } from '../gpu.js';
import { ALIGN, slice } from '../view.js';
import { assert } from '../../util/errors.js';

/** the KD term's settings: A (weight of the KD term), T (temperature) */
export interface DistillWeights { alpha: number; temperature: number }

/** the teacher's side of the loss: its whole logits (N, ld), or its top K of each row (N, K) */
export type TeacherSide = { logits: View } | { values: View; ids: View; K: number };

function rowChunk(g: Gpu, ld: number, K: number): number {
  const nChunk = Math.floor(g.bindingFloats / Math.max(ld, K) / ALIGN) * ALIGN;
  assert(nChunk > 0, `distill: a row of ${ld} logits is too wide for maxStorageBufferBindingSize`);
  return nChunk;
}

const uni = (n: number, V: number, ld: number, K: number, w: DistillWeights) => ({ u: [n, V, ld, K], f: [w.alpha, w.temperature] });

function teacherRows(t: TeacherSide, n0: number, n: number, ld: number): View[] {
  return 'logits' in t ? [slice(t.logits, n0 * ld, n * ld)] : [slice(t.values, n0 * t.K, n * t.K), slice(t.ids, n0 * t.K, n * t.K)];
}

/** ce, kd: (N) per-row cross-entropy and KD term (unweighted)   logits: (N, ld) the student's   targets: (N) u32 */
export function distillForward(g: Gpu, ce: View, kd: View, logits: View, targets: View, teacher: TeacherSide, w: DistillWeights, N: number, V: number, ld = V) {
  const K = 'K' in teacher ? teacher.K : 0, nChunk = rowChunk(g, ld, K);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    g.dispatch(K ? 'distill_forward_topk' : 'distill_forward_full', uni(n, V, ld, K, w),
      [slice(logits, n0 * ld, n * ld), slice(targets, n0, n), ...teacherRows(teacher, n0, n, ld), slice(ce, n0, n), slice(kd, n0, n)], [n], { WG: g.rowThreads });
  }
}

/** logits (N, ld) <- d(objective)/d(logits), in place: dlosses[n] = d(objective)/d((1 - A) ce[n] + A T^2 kd[n]) */
export function distillBackward(g: Gpu, logits: View, dlosses: View, targets: View, teacher: TeacherSide, w: DistillWeights, N: number, V: number, ld = V) {
  const K = 'K' in teacher ? teacher.K : 0, nChunk = rowChunk(g, ld, K);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    g.dispatch(K ? 'distill_backward_topk' : 'distill_backward_full', uni(n, V, ld, K, w),
      [slice(logits, n0 * ld, n * ld), slice(targets, n0, n), ...teacherRows(teacher, n0, n, ld), slice(dlosses, n0, n)], [n], { WG: g.rowThreads });
  }
}

/** values (N, K), ids (N, K) u32 <- the K largest of each row of logits (N, ld), largest first, ties to the lower id */
export function distillTopk(g: Gpu, values: View, ids: View, logits: View, K: number, N: number, V: number, ld = V) {
  assert(K >= 1 && K < V, `distill top-K: K ${K} must be in [1, ${V})`);
  const nChunk = rowChunk(g, ld, K);
  for (let n0 = 0; n0 < N; n0 += nChunk) {
    const n = Math.min(nChunk, N - n0);
    g.dispatch('distill_topk', uni(n, V, ld, K, { alpha: 0, temperature: 1 }), [slice(logits, n0 * ld, n * ld), slice(values, n0 * K, n * K), slice(ids, n0 * K, n * K)], [n], { WG: g.rowThreads });
  }
}
