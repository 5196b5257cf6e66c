// distill: knowledge distillation's fused loss (kernels/distill.wgsl) against the float64 oracle of
// test/cpu_distill.ts, which is checked first against central finite differences of its own forward:
// forward (ce, kd) and backward (in place over the student's logits, padded rows too), the whole
// teacher distribution and its top K, at several temperatures and weights; the top-K selection too.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as K from '../src/gpu/kernels/index.js';
import type { Gpu } from '../src/gpu/gpu.js';
import * as cpu from './cpu_distill.js';
import { testGpu, randn, ids, put, checkTensor } from './helpers.js';

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

const [N, V, KK] = [19, 515, 7];
const zs = randn(N * V, 101, 3), zt = randn(N * V, 102, 3), y = ids(N, V, 103);
const top = cpu.topk(zt, KK, N, V);
const teachers: [string, cpu.Teacher][] = [['full', { logits: zt }], ['top-7', { values: top.values, ids: top.ids, K: KK }]];
const settings = [{ alpha: 0.5, temperature: 1 }, { alpha: 0.3, temperature: 2.5 }, { alpha: 1, temperature: 0.7 }];
const total = (x: ArrayLike<number>, dl: ArrayLike<number>, t: cpu.Teacher, A: number, T: number) => {
  const { ce, kd } = cpu.distillForward(x, y, t, N, V, T);
  let s = 0;
  for (let n = 0; n < N; n++) s += dl[n] * ((1 - A) * ce[n] + A * T * T * kd[n]);
  return s;
};

describe('distillation oracle (float64) vs central finite differences', () => {
  for (const [name, t] of teachers) {
    for (const { alpha: A, temperature: T } of settings) {
      it(`${name}, A ${A}, T ${T}`, () => {
        const dl = randn(N, 104), x = Float64Array.from(zs), grad = cpu.distillBackward(dl, x, y, t, N, V, T, A);
        const u = randn(N * V, 105), h = 1e-5;
        const at = (s: number) => total(Float64Array.from(x, (xi, i) => xi + s * h * u[i]), dl, t, A, T);
        const fd = (at(1) - at(-1)) / (2 * h);
        let an = 0;
        for (let i = 0; i < x.length; i++) an += grad[i] * u[i];
        expect(Math.abs(fd - an)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(an)));
      });
    }
  }
  it('KL of a distribution with itself is 0, and the top-K term with K = V is the full KL', () => {
    const same = cpu.distillForward(zt, y, { logits: zt }, N, V, 1.7);
    same.kd.forEach((k) => expect(Math.abs(k)).toBeLessThan(1e-12));
    const all = cpu.topk(zt, V, N, V);
    const a = cpu.distillForward(zs, y, { logits: zt }, N, V, 1.7), b = cpu.distillForward(zs, y, { values: all.values, ids: all.ids, K: V }, N, V, 1.7);
    a.kd.forEach((k, n) => expect(Math.abs(k - b.kd[n])).toBeLessThan(1e-12));
  });
});

describe('distill kernels vs the oracle', () => {
  it('top-K of the teacher rows: the same ids in the same order, the values bit for bit', async (ctx) => {
    if (!g) return ctx.skip();
    for (const k of [1, KK, 64]) {
      const want = cpu.topk(zt, k, N, V), vals = g.tensor(N * k, 'vk'), idv = g.tensor(N * k, 'ik');
      K.distillTopk(g, vals, idv, put(g, zt), k, N, V);
      expect(Array.from(new Uint32Array((await g.read(idv)).buffer))).toEqual(Array.from(want.ids));
      expect(Array.from(await g.read(vals))).toEqual(Array.from(Float32Array.from(want.values)));
    }
    // ties go to the lower id (a row of equal values keeps the first K ids)
    const flat = new Float32Array(2 * V).fill(0.25), vals = g.tensor(2 * 5, 'vk'), idv = g.tensor(2 * 5, 'ik');
    flat[V + 300] = 1;
    K.distillTopk(g, vals, idv, put(g, flat), 5, 2, V);
    expect(Array.from(new Uint32Array((await g.read(idv)).buffer))).toEqual([0, 1, 2, 3, 4, 300, 0, 1, 2, 3]);
  });

  for (const [name, t] of teachers) {
    it(`${name}: ce and kd forward, and the gradient over the logits (in place; padded rows of ld = V + 3)`, async (ctx) => {
      if (!g) return ctx.skip();
      const gpu = g;
      const side = (ld: number): K.TeacherSide => {
        if ('logits' in t) {
          const rows = new Float32Array(N * ld).fill(-9);
          for (let n = 0; n < N; n++) rows.set(zt.subarray(n * V, (n + 1) * V), n * ld);
          return { logits: put(gpu, rows) };
        }
        return { values: put(gpu, Float32Array.from(t.values)), ids: put(gpu, Uint32Array.from(t.ids)), K: t.K };
      };
      for (const w of settings) {
        for (const ld of [V, V + 3]) {
          const rows = new Float32Array(N * ld).fill(7);
          for (let n = 0; n < N; n++) rows.set(zs.subarray(n * V, (n + 1) * V), n * ld);
          const logits = put(gpu, rows), tgt = put(gpu, y), ce = gpu.tensor(N, 'ce'), kd = gpu.tensor(N, 'kd'), teach = side(ld);
          K.distillForward(gpu, ce, kd, logits, tgt, teach, w, N, V, ld);
          const want = cpu.distillForward(zs, y, t, N, V, w.temperature);
          checkTensor(`ce ${JSON.stringify(w)} ld ${ld}`, await gpu.read(ce), want.ce, 1e-5, 1e-5);
          checkTensor(`kd ${JSON.stringify(w)} ld ${ld}`, await gpu.read(kd), want.kd, 2e-5, 1e-4);
          const dl = randn(N, 106);
          K.distillBackward(gpu, logits, put(gpu, dl), tgt, teach, w, N, V, ld);
          const got = await gpu.read(logits), grad = cpu.distillBackward(dl, zs, y, t, N, V, w.temperature, w.alpha);
          for (let n = 0; n < N; n++) {
            checkTensor(`dlogits row ${n} ${JSON.stringify(w)} ld ${ld}`, got.subarray(n * ld, n * ld + V), grad.subarray(n * V, (n + 1) * V), 1e-6, 1e-4);
            for (let i = V; i < ld; i++) expect(got[n * ld + i]).toBe(0);
          }
        }
      }
    });
  }

  it('A = 0 is plain cross-entropy: the same losses and gradient as crossentropy_forward / _softmax_backward', async (ctx) => {
    if (!g) return ctx.skip();
    const tgt = put(g, y), ce = g.tensor(N, 'ce'), kd = g.tensor(N, 'kd'), dl = put(g, randn(N, 107));
    const a = put(g, zs), b = put(g, zs), losses = g.tensor(N, 'losses');
    K.distillForward(g, ce, kd, a, tgt, { logits: put(g, zt) }, { alpha: 0, temperature: 1 }, N, V);
    K.crossentropyForward(g, losses, b, tgt, N, V);
    checkTensor('ce = crossentropy', await g.read(ce), await g.read(losses), 1e-6, 1e-6);
    K.distillBackward(g, a, dl, tgt, { logits: put(g, zt) }, { alpha: 0, temperature: 1 }, N, V);
    K.crossentropySoftmaxBackward(g, b, dl, tgt, N, V);
    checkTensor('dlogits = crossentropy', await g.read(a), await g.read(b), 1e-7, 1e-5);
  });
});
