// the subgroup-matrix (tensor-core) matmul, kernels/matmul_sgmatrix.wgsl: where the adapter has Dawn's
// chromium-experimental-subgroup-matrix with the f16 16x16x16 config, the gemm against the float64 oracle
// on f16-rounded operands (forward with bias and the fused epilogues' layout, dinp, dweight +=, tails in
// every dimension) and the tuner offering it under --precision f16 only; elsewhere (lavapipe,
// SwiftShader) the oracle tests skip with the reason printed, and what can be checked without the
// feature is: Dawn knows the extension the module enables (it refuses it as "not allowed", not as
// unknown), everything in the module before the first subgroup matrix compiles (Dawn resolves in order
// and stops there; the matrix builtins themselves are compiled only where the feature exists), the tuner's agreement check, which is what keeps a variant whose assumptions fail
// (a subgroup layout, the tensor cores' sums) from being chosen, the kernel itself with the four
// subgroup-matrix builtins emulated in plain WGSL (test/sgmatrix_emul.ts: its tiling, staging, layouts,
// tails, bias, the fused residual and GELU epilogues and the launchers' forward and backward against the
// oracle; a planted tile offset or epilogue sign fails it), and, on stand-in adapters, that
// src/gpu/device.ts asks for the feature only where the adapter offers the tile the kernel is written for.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createGpu, type Gpu } from '../src/node/index.js';
import * as K from '../src/gpu/kernels/index.js';
import { WGSL } from '../src/gen/wgsl.js';
import { Tuner } from '../src/gpu/tune.js';
import { acquireDevice, subgroupMatrixConfigs, SUBGROUP_MATRIX } from '../src/gpu/device.js';
import { f32ToRaw, rawToF32 } from '../src/formats/dtype.js';
import * as cpu from './cpu.js';
import { testGpu, randn, checkTensor, put } from './helpers.js';
import { emulated } from './sgmatrix_emul.js';

const half = (x: Float32Array) => rawToF32(f32ToRaw(x, 'F16'), 'F16');

let base: Gpu | null = null, sm: Gpu | null = null, why = '';
beforeAll(async () => {
  base = await testGpu();
  if (!base) return;
  why = K.sgmatrixMissing(base);
  if (why) console.log(`subgroup-matrix matmul not tested against the oracle here: ${why} ` +
    `(adapter: ${Object.values(base.adapterInfo).join(' / ')}; configs: ${subgroupMatrixConfigs((base.device as any).adapterInfo) || 'none'})`);
  else sm = await createGpu({ force: { matmul: 'sgmatrix' } });
});
afterAll(() => { sm?.destroy(); base?.destroy(); });

// (M rows, K, N columns): tails in every dimension of the 64 x 64 tile and the 32-deep k step
const SHAPES: [number, number, number][] = [[13, 36, 28], [70, 132, 100], [64, 64, 64], [129, 260, 72]];

describe('subgroup-matrix matmul (f16 x f16 -> f32)', () => {
  it('Dawn knows the extension kernels/matmul_sgmatrix.wgsl enables; devices without the feature refuse it as not allowed', async (ctx) => {
    if (!base) return ctx.skip();
    const code = WGSL.matmul_sgmatrix;
    expect(code.split('\n').slice(0, 2)).toEqual(['enable f16;', 'enable chromium_experimental_subgroup_matrix;']);
    if (base.subgroupMatrix) return;   // compiled for real in the tests below
    // the directive alone: Dawn stops at the first refused extension, so the body cannot be compile-checked
    // here (it needs the feature); what can be is that the name is Dawn's and the feature gates it
    const d = base.device;
    const messages = async (src: string) => {
      d.pushErrorScope('validation');
      const m = d.createShaderModule({ code: src });
      const info = await m.getCompilationInfo();
      await d.popErrorScope();
      return info.messages.map((x) => `${x.type} ${x.lineNum}:${x.linePos} ${x.message}`).join('\n');
    };
    expect(await messages('enable chromium_experimental_subgroup_matrix;\n@compute @workgroup_size(1) fn main() {}')).toMatch(/not allowed/);
    expect(await messages('enable chromium_experimental_subgroup_matrixx;\n@compute @workgroup_size(1) fn main() {}')).not.toMatch(/not allowed/);
    // without the directive Dawn parses the whole module and resolves it in order up to the first subgroup
    // matrix: so the module's syntax, matmul.wgsl's text and the staging / epilogue helpers (f16 workgroup
    // arrays, blockA/blockB, put) are checked here, and the one error is that first use in gemm_sm
    const lines = code.split('\n');
    const first = lines.findIndex((l) => /subgroup_matrix_/.test(l) && !l.trimStart().startsWith('//')) + 1;
    expect(lines.slice(0, first).join('\n')).toMatch(/fn smStage[\s\S]*fn smFlush[\s\S]*fn gemm_sm/);
    const got = await messages(code.replace('enable chromium_experimental_subgroup_matrix;', '// (directive left out)'));
    expect(got.split('\n').filter((l) => l.startsWith('error'))).toEqual([`error ${first}:13 use of 'subgroup_matrix_*' requires enabling extension 'chromium_experimental_subgroup_matrix'`]);
  });

  it('matmulSgmatrix equals the float64 oracle on f16-rounded operands', async (ctx) => {
    if (!sm) return ctx.skip();
    for (const [M, Kd, N] of SHAPES) {
      const kp = Math.ceil(Kd / 4) * 4;
      const a = randn(M * kp, 1), b = randn(N * kp, 2);
      const out = sm.tensor(M * N, 'out');
      K.matmulSgmatrix(sm, out, put(sm, a), put(sm, b), M, N, kp);
      const want = cpu.matmulForward(half(a), half(b), null, M, kp, N);
      checkTensor(`gemm_sm ${M}x${kp}x${N}`, await sm.read(out), want, 1e-4, 1e-4);
      // and not the f32 operands' product, which differs by the f16 rounding
      const f32 = cpu.matmulForward(a, b, null, M, kp, N);
      expect(Math.max(...Array.from(want, (w, i) => Math.abs(w - f32[i])))).toBeGreaterThan(1e-3);
    }
  });

  it('through the matmul launchers at --precision f16: forward (+ bias, f32 out), dinp, dweight +=', async (ctx) => {
    if (!sm) return ctx.skip();
    const opts = { precision: 'f16' as const };
    for (const [N, C, OC] of [[13, 36, 28], [70, 132, 100], [65, 64, 36]] as [number, number, number][]) {
      const x = randn(N * C, 3), w = randn(OC * C, 4), b = randn(OC, 5), dout = randn(N * OC, 6), prior = randn(OC * C, 7);
      const out = sm.tensor(N * OC, 'out');
      K.matmulForward(sm, out, put(sm, x), put(sm, w), put(sm, b), N, C, OC, OC, { ...opts, f32Out: true });
      checkTensor(`forward ${N}x${C}x${OC}`, await sm.read(out), cpu.matmulForward(half(x), half(w), b, N, C, OC), 1e-4, 1e-4);
      const dx = sm.tensor(N * C, 'dx'), dw = put(sm, prior);
      K.matmulBackward(sm, dx, dw, null, put(sm, dout), put(sm, x), put(sm, w), N, C, OC, opts);
      const ref = cpu.matmulBackward(half(dout), half(x), half(w), N, C, OC);
      checkTensor(`dinp ${N}x${C}x${OC}`, await sm.read(dx), ref.dinp, 1e-4, 1e-4);
      checkTensor(`dweight += ${N}x${C}x${OC}`, await sm.read(dw), ref.dweight.map((v, i) => v + prior[i]), 1e-4, 1e-4);
      expect(Object.entries(sm.tuner.used()).filter(([k]) => k.startsWith('matmul:')).every(([, v]) => v === 'sgmatrix')).toBe(true);
    }
  });

  it('the tuner offers it under --precision f16 only, first (the best guess), and keeps it only if it agrees with the last candidate', async (ctx) => {
    if (!sm || !base) return ctx.skip();
    const g = await createGpu({ tuneCache: { load: () => ({}), save: () => {} } });
    try {
      const [N, C, OC] = [64, 64, 96];
      const out = g.tensor(N * OC, 'out'), x = put(g, randn(N * C, 8)), w = put(g, randn(OC * C, 9));
      K.matmulForward(g, out, x, w, null, N, C, OC);
      expect(g.tuner.used()['matmul:fwd:M64:N96:K64']).not.toBe('sgmatrix');
      K.matmulForward(g, out, x, w, null, N, C, OC, OC, { precision: 'f16' });
      expect(g.tuner.used()['matmul:fwd:M64:N96:K64']).toBe('sgmatrix');
      await g.tune();
    } finally {
      g.destroy();
    }
  });
});

describe('subgroup-matrix matmul with the builtins emulated (every adapter)', () => {
  it('gemm_sm, its fused epilogues and its launchers at --precision f16 equal the float64 oracle on f16-rounded operands', async (ctx) => {
    if (!base || base.subgroupMatrix) return ctx.skip();   // where the feature exists the real one is tested above
    const real = WGSL.matmul_sgmatrix;
    WGSL.matmul_sgmatrix = emulated(real);
    const g = await createGpu({ force: { matmul: 'sgmatrix' }, tuneCache: { load: () => ({}), save: () => {} } });
    try {
      (g as { subgroupMatrix: unknown }).subgroupMatrix = { M: 16, N: 16, K: 16, lanes: g.subgroupSize?.max ?? 8 };
      for (const [M, Kd, N] of [[13, 36, 28], [70, 132, 100]] as [number, number, number][]) {
        const a = randn(M * Kd, 1), b = randn(N * Kd, 2), out = g.tensor(M * N, 'out');
        K.matmulSgmatrix(g, out, put(g, a), put(g, b), M, N, Kd);
        checkTensor(`emulated gemm_sm ${M}x${Kd}x${N}`, await g.read(out), cpu.matmulForward(half(a), half(b), null, M, Kd, N), 1e-4, 1e-4);
      }
      const opts = { precision: 'f16' as const };
      const [N, C, OC] = [65, 68, 36];
      const x = randn(N * C, 3), w = randn(OC * C, 4), bias = randn(OC, 5);
      const out = g.tensor(N * OC, 'out');
      K.matmulForward(g, out, put(g, x), put(g, w), put(g, bias), N, C, OC, OC, { ...opts, f32Out: true });
      checkTensor('emulated forward + bias', await g.read(out), cpu.matmulForward(half(x), half(w), bias, N, C, OC), 1e-4, 1e-4);
      {
        const dout = randn(N * OC, 6), prior = randn(OC * C, 7);
        const dx = g.tensor(N * C, 'dx'), dw = put(g, prior);
        K.matmulBackward(g, dx, dw, null, put(g, dout), put(g, x), put(g, w), N, C, OC, opts);
        const ref = cpu.matmulBackward(half(dout), half(x), half(w), N, C, OC);
        checkTensor('emulated launcher dinp', await g.read(dx), ref.dinp, 1e-4, 1e-4);
        checkTensor('emulated launcher dweight +=', await g.read(dw), ref.dweight.map((v, i) => v + prior[i]), 1e-4, 1e-4);
      }
      // the column layouts of dinp (B by columns) and dweight (A and B by columns, +=), one gemm each
      for (const [aCol, bCol, acc] of [[false, true, false], [true, true, true]] as const) {
        const [M, Kd, Nn] = [36, 65, 68], lda = aCol ? M : 68, ldb = bCol ? Nn : 68;
        const a = randn((aCol ? Kd : M) * lda, 9), b = randn((bCol ? Kd : Nn) * ldb, 10), c0 = randn(M * Nn, 11);
        const ha = half(a), hb = half(b);
        const A = (m: number, k: number) => ha[aCol ? k * lda + m : m * lda + k], B = (n: number, k: number) => hb[bCol ? k * ldb + n : n * ldb + k];
        const want = new Float64Array(M * Nn);
        for (let m = 0; m < M; m++) for (let n = 0; n < Nn; n++) { let t = acc ? c0[m * Nn + n] : 0; for (let k = 0; k < Kd; k++) t += A(m, k) * B(n, k); want[m * Nn + n] = t; }
        const c = put(g, c0);
        K.gemmSgmatrix(g, c, 0, Nn, put(g, a), lda, aCol, put(g, b), ldb, bCol, null, M, Nn, Kd, acc, null, { F16_IN: 1 });
        checkTensor(`emulated gemm A ${aCol ? 'columns' : 'rows'}, B ${bCol ? 'columns' : 'rows'}${acc ? ', +=' : ''}`, await g.read(c), want, 1e-4, 1e-4);
      }
      // the fused epilogues, through smC, smFlush and put(): forward + residual (EPI 5: C = x + the product),
      // forward + GELU (1: C = the pre-activation, x = its GELU), dinp + GELU backward (3: C = gelu'(x) * the product)
      {
        const [M, Kd, Nn] = [36, 68, 40];
        const a = randn(M * Kd, 12), b = randn(Nn * Kd, 13), xr = randn(M * Nn, 14);
        const prod = cpu.matmulForward(half(a), half(b), null, M, Kd, Nn);
        const epilogue = async (EPI: number, x0: Float32Array) => {
          const c = g.tensor(M * Nn, 'c'), x = put(g, x0);
          K.gemmSgmatrix(g, c, 0, Nn, put(g, a), Kd, false, put(g, b), Kd, false, null, M, Nn, Kd, false, x, { F16_IN: 1, EPI });
          return [await g.read(c), await g.read(x)];
        };
        checkTensor('emulated forward + residual', (await epilogue(5, xr))[0], prod.map((v, i) => v + xr[i]), 1e-4, 1e-4);
        const [pre, act] = await epilogue(1, new Float32Array(M * Nn));
        checkTensor('emulated forward + GELU: the pre-activation', pre, prod, 1e-4, 1e-4);
        checkTensor('emulated forward + GELU: the activation', act, cpu.geluForward(prod), 1e-4, 1e-4);
        checkTensor('emulated dinp + GELU backward', (await epilogue(3, xr))[0], cpu.geluBackward(prod, xr), 1e-4, 1e-4);
      }
      expect(new Set(Object.entries(g.tuner.used()).filter(([k]) => k.startsWith('matmul:')).map(([, v]) => v))).toEqual(new Set(['sgmatrix']));
    } finally {
      g.destroy();
      WGSL.matmul_sgmatrix = real;
    }
  });
});

describe('the tuner checks every candidate against the last one', () => {
  it('a faster first candidate that disagrees with the last is never chosen (and one that agrees can be)', async () => {
    const busy = (ms: number) => { const t = performance.now(); while (performance.now() - t < ms); };
    for (const [wrong, want] of [[true, 'ref'], [false, 'fast']] as const) {
      const t = new Tuner('test adapter');
      let last = '';
      const right = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
      const bench = () => ({
        run: (v: string) => { last = v; if (v !== 'fast') busy(3); },
        read: async () => (last === 'fast' && wrong ? right.map((x) => x + 0.5) : right),
        release: () => {},
      });
      expect(t.pick('matmul', 'k', ['fast', 'ref'], 'scalar', bench)).toBe('fast');   // the best guess, before tuning
      await t.tune(async () => {});
      expect(t.pick('matmul', 'k', ['fast', 'ref'], 'scalar', bench), wrong ? 'wrong and fast' : 'right and fast').toBe(want);
    }
  });
});

describe('the feature is requested only where the adapter offers the tile', () => {
  // a stand-in GPU whose adapter lists the given features and configs; records what the device was asked for
  const fake = (features: string[], info: Record<string, unknown>) => {
    const asked: string[][] = [];
    const gpu = {
      requestAdapter: async () => ({
        features: new Set(features), limits: {}, info,
        requestDevice: async (d: { requiredFeatures: string[] }) => { asked.push([...d.requiredFeatures]); return { features: new Set(d.requiredFeatures) }; },
      }),
    } as unknown as GPU;
    return { gpu, asked };
  };
  const f16x16 = { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 };
  const cases: [string, string[], Record<string, unknown>, boolean][] = [
    ['NVIDIA-like: the feature, shader-f16, the 16x16x16 f16 config, 32 lanes', [SUBGROUP_MATRIX, 'shader-f16', 'subgroups'], { subgroupMinSize: 32, subgroupMaxSize: 32, subgroupMatrixConfigs: [f16x16] }, true],
    ['no feature listed (an instance without allow_unsafe_apis, lavapipe)', ['shader-f16', 'subgroups'], { subgroupMinSize: 32, subgroupMaxSize: 32, subgroupMatrixConfigs: [f16x16] }, false],
    ['no shader-f16', [SUBGROUP_MATRIX, 'subgroups'], { subgroupMinSize: 32, subgroupMaxSize: 32, subgroupMatrixConfigs: [f16x16] }, false],
    ['only 8x8x8 configs (Apple-like)', [SUBGROUP_MATRIX, 'shader-f16', 'subgroups'], { subgroupMinSize: 32, subgroupMaxSize: 32, subgroupMatrixConfigs: [{ ...f16x16, M: 8, N: 8, K: 8 }] }, false],
    ['f16 results only', [SUBGROUP_MATRIX, 'shader-f16', 'subgroups'], { subgroupMinSize: 32, subgroupMaxSize: 32, subgroupMatrixConfigs: [{ ...f16x16, resultComponentType: 'f16' }] }, false],
    ['subgroups of 32 to 64 lanes (one workgroup is not surely one subgroup)', [SUBGROUP_MATRIX, 'shader-f16', 'subgroups'], { subgroupMinSize: 32, subgroupMaxSize: 64, subgroupMatrixConfigs: [f16x16] }, false],
  ];
  for (const [name, features, info, want] of cases) {
    it(name, async () => {
      const { gpu, asked } = fake(features, info);
      const d = await acquireDevice({ gpu });
      expect(asked[0].includes(SUBGROUP_MATRIX)).toBe(want);
      expect(d.subgroupMatrix).toEqual(want ? { M: 16, N: 16, K: 16, lanes: 32 } : null);
    });
  }
});
