// optim: gradnorm_clip (global L2 norm + clip_grad_norm_'s factor) and adamw_update (torch.optim.AdamW)
// against the float64 references in test/cpu.ts, over several steps, with and without clipping, with
// weight decay on some runs of elements and not on others (one launch per run, as src/train/adamw.ts
// does), and with the arena split over several bindings.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Gpu, View } from '../src/gpu/gpu.js';
import * as K from '../src/gpu/kernels/index.js';
import * as cpu from './cpu.js';
import { testGpu, randn, checkTensor } from './helpers.js';

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

function put(g: Gpu, data: Float32Array, label = 't'): View {
  const v = g.tensor(data.length, label);
  g.upload(v, data);
  return v;
}

describe('gradnorm_clip', () => {
  it('norm and clip factor vs float64, over fixed chunks and several bindings; deterministic', async (ctx) => {
    if (!g) return ctx.skip();
    const scale = g.tensor(1, 'scale'), norm = g.tensor(1, 'norm');
    // P below one chunk, several chunks with a tail, and several 8192-float bindings
    const cases: [number, number | undefined][] = [[100, undefined], [3 * 4096 + 123, undefined], [5 * 4096 + 7, 8192]];
    for (const [P, maxBindingFloats] of cases) {
      const grads = randn(P, P, 0.1), gv = put(g, grads);
      const want = cpu.gradnormClip(grads, 1).norm;
      for (const maxNorm of [want / 2, want * 10, 0, -1, Infinity]) {
        K.gradnormClip(g, scale, norm, [gv], maxNorm, maxBindingFloats);
        const ref = cpu.gradnormClip(grads, maxNorm);
        checkTensor(`norm P=${P}`, await g.read(norm), [ref.norm]);
        checkTensor(`scale P=${P} maxNorm=${maxNorm}`, await g.read(scale), [ref.scale]);
      }
      const first = await g.read(norm);
      K.gradnormClip(g, scale, norm, [gv], 1, maxBindingFloats);
      expect((await g.read(norm))[0]).toBe(first[0]);
      // the same floats as parts of 4096-multiples in separate buffers (a split arena): the same partition, so the same bits
      const cut = [0, 4096, 2 * 4096, P].filter((x, i, a) => x <= P && (i === 0 || x > a[i - 1]));
      if (cut.length > 2) {
        const parts = cut.slice(1).map((e, i) => put(g!, grads.slice(cut[i], e)));
        K.gradnormClip(g, scale, norm, parts, 1, maxBindingFloats);
        expect((await g.read(norm))[0]).toBe(first[0]);
      }
    }
  });
});

describe('adamw_update', () => {
  // realistic settings, and a large lr * weight_decay under which decaying before or after the step differ
  const hypers: cpu.AdamWHyper[] = [
    { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    { lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.5 },
  ];
  for (const [hi, h] of hypers.entries()) {
    for (const clip of [false, true]) {
      it(`6 steps vs float64 torch.optim.AdamW, hyper set ${hi}, ${clip ? 'with' : 'without'} clipping`, async (ctx) => {
        if (!g) return ctx.skip();
        const P = 1000 + 37;
        // decay on "matrices" (the first 640 elements), none on "norms and biases", a half rate on a run
        // of 64: one launch per run, as runs of aligned slices are
        const runs: [number, number, number][] = [[0, 640, 1], [640, 64, 0.5], [704, P - 704, 0]];
        const decay = Float32Array.from({ length: P }, (_, i) => (i < 640 ? 1 : i < 704 ? 0.5 : 0));
        const p0 = randn(P, 80);
        const params = put(g, p0), m = g.tensor(P, 'm'), v = g.tensor(P, 'v'), grads = g.tensor(P, 'grads');
        g.upload(m, new Float32Array(P)); g.upload(v, new Float32Array(P));
        const scale = put(g, new Float32Array([1])), norm = g.tensor(1, 'norm');
        const ref = { p: Float64Array.from(p0), m: new Float64Array(P), v: new Float64Array(P) };
        for (let t = 1; t <= 6; t++) {
          const gr = randn(P, 80 + t, 0.5);
          g.upload(grads, gr);
          const maxNorm = clip ? 1 : 0;   // the gradient norm is about 16: clipping is active
          if (clip) K.gradnormClip(g, scale, norm, [grads], maxNorm);
          for (const [o, n, rate] of runs) {
            const at = (x: View) => ({ buffer: x.buffer, offset: x.offset + o, numel: n });
            K.adamwUpdate(g, at(params), at(m), at(v), at(grads), rate, scale, n, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, t, 256);
          }
          cpu.adamwStep(ref.p, ref.m, ref.v, gr, decay, cpu.gradnormClip(gr, maxNorm).scale, t, h);
          checkTensor(`params step ${t}`, await g.read(params), ref.p);
          checkTensor(`m step ${t}`, await g.read(m), ref.m);
          checkTensor(`v step ${t}`, await g.read(v), ref.v);
        }
      });
    }
  }
});
