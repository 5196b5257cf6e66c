// cpu_distill: the float64 oracle of knowledge distillation's loss (kernels/distill.wgsl), written from
// the formulas (Hinton et al. 2015), not from the kernel: per row n, with student logits zs, teacher
// logits zt, temperature T and weight A,
//   ce = logsumexp(zs) - zs[y]
//   full:  kd = KL(softmax(zt/T) || softmax(zs/T))
//   top-K: p_k = the teacher's K most probable ids at T, renormalized; kd = sum_k p_k (log p_k - log_softmax(zs/T)[id_k])
//   loss = (1 - A) ce + A T^2 kd, and its gradient d(sum_n dl[n] loss[n]) / d(zs) by hand.
type Arr = ArrayLike<number>;

const logSoftmax = (z: Arr, off: number, V: number, T: number): Float64Array => {
  let m = -Infinity;
  for (let i = 0; i < V; i++) m = Math.max(m, z[off + i] / T);
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(z[off + i] / T - m);
  const ls = m + Math.log(s);
  return Float64Array.from({ length: V }, (_, i) => z[off + i] / T - ls);
};

/** the K largest of each row (value descending, id ascending on ties), as torch.topk picks on distinct values */
export function topk(z: Arr, K: number, N: number, V: number): { values: Float64Array; ids: Uint32Array } {
  const values = new Float64Array(N * K), ids = new Uint32Array(N * K);
  for (let n = 0; n < N; n++) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => z[n * V + b] - z[n * V + a] || a - b).slice(0, K);
    order.forEach((i, k) => { values[n * K + k] = z[n * V + i]; ids[n * K + k] = i; });
  }
  return { values, ids };
}

/** the teacher's distribution over the vocabulary at T: the whole softmax, or the renormalized top K (0 elsewhere) */
function teacherProbs(t: { logits: Arr } | { values: Arr; ids: Arr; K: number }, n: number, V: number, T: number): Float64Array {
  const p = new Float64Array(V);
  if ('logits' in t) { logSoftmax(t.logits, n * V, V, T).forEach((l, i) => { p[i] = Math.exp(l); }); return p; }
  const lp = logSoftmax(t.values, n * t.K, t.K, T);
  for (let k = 0; k < t.K; k++) p[t.ids[n * t.K + k]] = Math.exp(lp[k]);
  return p;
}

export type Teacher = { logits: Arr } | { values: Arr; ids: Arr; K: number };

export function distillForward(zs: Arr, y: Arr, t: Teacher, N: number, V: number, T: number): { ce: Float64Array; kd: Float64Array } {
  const ce = new Float64Array(N), kd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    ce[n] = -logSoftmax(zs, n * V, V, 1)[y[n]];
    const lq = logSoftmax(zs, n * V, V, T), p = teacherProbs(t, n, V, T);
    for (let i = 0; i < V; i++) if (p[i] > 0) kd[n] += p[i] * (Math.log(p[i]) - lq[i]);
  }
  return { ce, kd };
}

/** d(sum_n dl[n] ((1 - A) ce[n] + A T^2 kd[n])) / d(zs) */
export function distillBackward(dl: Arr, zs: Arr, y: Arr, t: Teacher, N: number, V: number, T: number, A: number): Float64Array {
  const d = new Float64Array(N * V);
  for (let n = 0; n < N; n++) {
    const l1 = logSoftmax(zs, n * V, V, 1), lq = logSoftmax(zs, n * V, V, T), p = teacherProbs(t, n, V, T);
    for (let i = 0; i < V; i++) {
      d[n * V + i] = dl[n] * ((1 - A) * (Math.exp(l1[i]) - (i === y[n] ? 1 : 0)) + A * T * (Math.exp(lq[i]) - p[i]));
    }
  }
  return d;
}
