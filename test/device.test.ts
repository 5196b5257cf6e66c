// device: adapter acquisition errors, grid folding above maxComputeWorkgroupsPerDimension, and a
// tensor larger than maxStorageBufferBindingSize (lavapipe: 128 MiB) through the chunked matmul.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createGpu, Gpu, InherituneError } from '../src/node/index.js';
import * as K from '../src/gpu/kernels/index.js';
import * as cpu from './cpu.js';
import { testGpu, randn, checkTensor } from './helpers.js';

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

describe('device acquisition', () => {
  it('no adapter: an error that says how to get one', async () => {
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    const err = await createGpu({ gpu: noAdapter }).catch((e) => e);
    expect(err).toBeInstanceOf(InherituneError);
    expect(err.message).toMatch(/no WebGPU adapter/);
    expect(err.message).toMatch(/HINT: .*bookworm-backports.*mesa-vulkan-drivers libvulkan1/s);
  });

  it('reports adapter, features and limits, with the adapter maximum requested', async (ctx) => {
    if (!g) return ctx.skip();
    const r = g.report();
    expect(r.runtime).toBe('node');
    expect(r.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(r.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
    expect(Array.isArray(r.features)).toBe(true);
  });
});

describe('dispatch limits', () => {
  it('folds a grid above maxComputeWorkgroupsPerDimension into 2-D and covers every row', async (ctx) => {
    if (!g) return ctx.skip();
    // rmsnorm runs one workgroup per row: 70001 rows > 65535 workgroups per dimension
    const N = g.limits.maxComputeWorkgroupsPerDimension + 4466, C = 3;
    const x = randn(N * C, 21), w = randn(C, 22);
    const put = (a: Float32Array) => { const v = g!.tensor(a.length, 'in'); g!.upload(v, a); return v; };
    const out = g.tensor(N * C, 'out'), rstd = g.tensor(N, 'rstd');
    K.rmsnormForward(g, out, rstd, put(x), put(w), N, C, 1e-5);
    const ref = cpu.rmsnormForward(x, w, N, C, 1e-5);
    checkTensor('folded rmsnorm', await g.read(out), ref.out);
    checkTensor('folded rmsnorm rstd', await g.read(rstd), ref.rstd);
  });

  it('a weight larger than maxStorageBufferBindingSize runs in chunks and matches float64', async (ctx) => {
    if (!g) return ctx.skip();
    // a GPT-2-sized head: 50257 x 768 floats = 154 MB
    const [N, C, OC] = [3, 768, 50257];
    expect(OC * C * 4).toBeGreaterThan(g.limits.maxStorageBufferBindingSize);
    const x = randn(N * C, 23), w = randn(OC * C, 24, 0.02);
    const inp = g.tensor(N * C, 'inp'), wt = g.tensor(OC * C, 'w'), out = g.tensor(N * OC, 'out');
    g.upload(inp, x);
    g.upload(wt, w);
    const before = g.dispatches;
    K.matmulForward(g, out, inp, wt, null, N, C, OC);
    expect(g.dispatches - before).toBeGreaterThan(1); // it really was split
    checkTensor('oversized matmul', await g.read(out), cpu.matmulForward(x, w, null, N, C, OC));
  });

  it('binding an oversized view directly is a clear error, not a device loss', async (ctx) => {
    if (!g) return ctx.skip();
    const n = g.limits.maxStorageBufferBindingSize / 4 + 64;
    const big = g.tensor(n, 'big');
    expect(() => K.geluForward(g!, big, big, n)).toThrow(/exceeds this device's maxStorageBufferBindingSize.*HINT/s);
    big.buffer.destroy();
  });
});
