// grad: the whole-model backward pass against PyTorch. Gradients of stories260K's mean
// cross-entropy on validation window 0 (golden/grad_window0.f32) for every tensor, reported by name:
// max |diff| <= 1e-4 * max |ref| + 1e-6. Plus GPT-2 and Llama-with-GQA/biases HF models against
// float64 central finite differences of the GPU loss on a few coordinates.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseLlama2c, Model, Arena, kernels as K, Llama2cTokenizer, hfFiles, SafetensorsFile, memorySource, createGpu, type Gpu } from '../src/node/index.js';
import { MATMUL_VARIANTS, matmulCandidates, type MatmulVariant } from '../src/gpu/kernels/matmul.js';
import { ATTENTION_VARIANTS, attentionVariants, type AttentionVariant } from '../src/gpu/kernels/attention.js';
import { readModel } from '../src/node/models.js';
import { REPO, SHARED, testGpu } from './helpers.js';

const DIR = resolve(SHARED, 'stories260k');
let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

async function gradsOf(m: Model, ids: number[], B: number, T: number) {
  const grads = new Arena(m.gpu, m.config, 'grads');
  grads.clear();
  const x: number[] = [], y: number[] = [];
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) { x.push(ids[b * (T + 1) + t]); y.push(ids[b * (T + 1) + t + 1]); }
  const a = m.forward(x, B, T, y);
  m.backward(grads, 1 / (B * T));
  const losses = await m.gpu.read(K.slice(a.losses, 0, B * T));
  const out = { loss: losses.reduce((s, l) => s + l, 0) / (B * T), grads: await grads.read() };
  grads.destroy();
  return out;
}

describe('backward pass vs PyTorch', () => {
  // the default kernels, then every matmul variant (src/gpu/kernels/matmul.ts) and every attention variant
  // (src/gpu/kernels/attention.ts) forced: same bound for each
  const cases: [string, string, string][] = [['default', '', 'default kernels'], ...MATMUL_VARIANTS.map((v) => ['matmul', v, `matmul ${v}`] as [string, string, string]),
    ...ATTENTION_VARIANTS.map((v) => ['attention', v, `attention ${v}`] as [string, string, string])];
  for (const [op, variant, label] of cases) {
  it(`stories260K: gradient of every tensor on validation window 0 (golden/grad_window0.f32), ${label}`, async (ctx) => {
    if (!g) return ctx.skip();
    if (op === 'matmul' && variant !== 'scalar' && !matmulCandidates(g, 4).includes(variant as MatmulVariant)) return ctx.skip();
    if (op === 'attention' && !attentionVariants(g).includes(variant as AttentionVariant)) return ctx.skip();
    const gv = op === 'default' ? g : await createGpu({ force: { [op]: variant } });
    const golden = JSON.parse(readFileSync(resolve(DIR, 'golden/golden.json'), 'utf8'));
    const ref = new Float32Array(readFileSync(resolve(DIR, 'golden/grad_window0.f32')).buffer.slice(0));
    const tok = await Llama2cTokenizer.fromBytes(new Uint8Array(readFileSync(resolve(DIR, 'tok512.bin'))), { vocabSize: 512 });
    const text = Array.from(readFileSync(resolve(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8')).slice(0, 60000).join('');
    const ids = tok.encode(text, { bos: true }).slice(0, 257);
    expect(ids.slice(0, 16)).toEqual(golden.grad.window_ids_first16);
    const m = Model.create(gv, parseLlama2c(new Uint8Array(readFileSync(resolve(DIR, 'stories260K.bin')))));
    const { loss, grads: tensors } = await gradsOf(m, ids, 1, 256);
    if (op !== 'default') {
      const used = Object.entries(gv.tuner.used()).filter(([k]) => k.startsWith(`${op}:`));
      expect(used.length).toBeGreaterThan(0);
      expect(used.every(([, v]) => v === variant)).toBe(true);
    }
    expect(Math.abs(loss - golden.grad.loss)).toBeLessThan(1e-5);
    let off = 0;
    const report: string[] = [];
    for (const name of ['token_embedding', 'rms_att', 'wq', 'wk', 'wv', 'wo', 'rms_ffn', 'w1', 'w2', 'w3', 'rms_final']) {
      const got = tensors[name], want = ref.subarray(off, off + got.length);
      off += got.length;
      let maxRef = 0, maxDiff = 0;
      for (let i = 0; i < got.length; i++) { maxRef = Math.max(maxRef, Math.abs(want[i])); maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i])); }
      report.push(`d${name}: max|diff| ${maxDiff.toExponential(2)} (max|ref| ${maxRef.toExponential(2)})`);
      expect(maxDiff, `d${name}`).toBeLessThanOrEqual(1e-4 * maxRef + 1e-6);
    }
    expect(off).toBe(ref.length);
    console.log(`${label}\n${report.join('\n')}`);
    m.destroy();
    if (gv !== g) gv.destroy();
  });
  }

  const hfRef = JSON.parse(readFileSync(resolve(REPO, 'test/ref/hf_grads.json'), 'utf8'));
  for (const name of Object.keys(hfRef)) {
    it(`${name}: gradient of every tensor (PyTorch autograd, test/ref/hf_grads.py)`, async (ctx) => {
      if (!g) return ctx.skip();
      const gold = hfRef[name];
      const ck = await readModel(resolve(REPO, 'test/ref/hf', name));
      const m = Model.create(g, ck);
      const { loss, grads } = await gradsOf(m, gold.ids, 1, gold.ids.length - 1);
      m.destroy();
      expect(Math.abs(loss - gold.loss)).toBeLessThan(1e-5);
      // our gradients -> HF names and layouts, through the same writer that exports models
      const parts = hfFiles({ config: ck.config, tensors: grads })['model.safetensors'];
      const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
      let o = 0;
      for (const p of parts) { bytes.set(p, o); o += p.byteLength; }
      const file = await SafetensorsFile.open(memorySource(bytes));
      const ref = new Float32Array(readFileSync(resolve(REPO, `test/ref/hf_grads_${name}.f32`)).buffer.slice(0));
      let off = 0;
      for (const [key, shape] of gold.keys as [string, number[]][]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const want = ref.subarray(off, off + n);
        off += n;
        const ours = file.tensors.has(key) ? key : 'transformer.' + key;
        const got = await file.read(ours);
        let maxRef = 0, maxDiff = 0;
        for (let i = 0; i < n; i++) { maxRef = Math.max(maxRef, Math.abs(want[i])); maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i])); }
        expect(maxDiff, `d ${key}`).toBeLessThanOrEqual(1e-4 * maxRef + 1e-6);
      }
      expect(off).toBe(ref.length);
    });
  }
});
