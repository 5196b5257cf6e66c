// families: tiny random checkpoints of Llama 3 (rope_scaling llama3, decoupled head_dim), Qwen2 (q/k/v
// biases, linear RoPE scaling), Mistral, Qwen3 (q/k norms) and GPT-NeoX (parallel and sequential
// residual, partial rotary), each stored as F32 and as BF16, written with golden logits by
// test/ref/make_families_ref.py (plain torch following transformers' modeling files). Here: the logits
// of all blocks and of the first K (what `--layers K` and `inherit` keep) within 1e-4 relative, the
// residual stream after each block, `inherit` writing the same model_type back, and the gradient of
// every tensor of each new family against central finite differences in float64 (backward.test.ts
// does the same for GPT-2 and Llama).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, mkdtempSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Model, selectLayers, firstBlocks, type Gpu } from '../src/node/index.js';
import { kernels as K } from '../src/index.js';
import { readModel } from '../src/node/models.js';
import { REPO, testGpu, checkTensor } from './helpers.js';

const run = promisify(execFile);
const goldens = JSON.parse(readFileSync(resolve(REPO, 'test/ref/families_goldens.json'), 'utf8'));
const dirOf = (name: string) => resolve(REPO, 'test/ref/hf', name);
const NAMES = Object.keys(goldens);
const TYPES: Record<string, string> = { llama3: 'llama', qwen2: 'qwen2', mistral: 'mistral', qwen3: 'qwen3', neox: 'gpt_neox', neoxseq: 'gpt_neox' };

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

// |got - want| <= 1e-4 * |want| + 1e-5 element-wise (the 1e-5 for logits that are ~0)
const close = (label: string, got: ArrayLike<number>, want: number[]) => checkTensor(label, got, want, 1e-5, 1e-4);

describe('each family against its torch golden (F32 and BF16 files)', () => {
  it('covers every family in both dtypes', () => {
    expect(NAMES.length).toBe(12);
    for (const f of Object.keys(TYPES)) for (const dt of ['f32', 'bf16']) expect(NAMES).toContain(`fam-${f}-${dt}`);
  });

  for (const name of NAMES) {
    it(`${name}: all blocks, each block's residual, and the first K`, async (ctx) => {
      if (!g) return ctx.skip();
      const gold = goldens[name];
      const ck = await readModel(dirOf(name));
      expect(ck.config.hfType).toBe(TYPES[name.split('-')[1]]);
      const T = gold.ids.length, C = ck.config.dim, V = ck.config.vocabSize;
      const m = Model.create(g, ck);
      const a = m.forward(gold.ids, 1, T);
      close(`${name} logits`, await g.read(K.slice(a.logits, 0, T * V)), gold.logits.flat());
      for (let l = 0; l < ck.config.nLayers; l++) close(`${name} hidden ${l}`, await g.read(K.slice(a.residual3[l], 0, T * C)), gold.hidden[l].flat());
      m.destroy();
      const mk = Model.create(g, selectLayers(ck, firstBlocks(gold.k, ck.config.nLayers)));
      close(`${name} first ${gold.k}`, await mk.logits(gold.ids), gold.logitsFirstK.flat());
      mk.destroy();
    });
  }

  it('config switches read from each config.json', async () => {
    expect((await readModel(dirOf('fam-llama3-f32'))).config).toMatchObject({ headDim: 16, nKvHeads: 2, ropeScaling: { type: 'llama3', factor: 8, originalMaxPositions: 64 } });
    expect((await readModel(dirOf('fam-qwen2-f32'))).config).toMatchObject({ qkvBias: true, tiedEmbeddings: true, ropeTheta: 1e6, ropeScaling: { type: 'linear', factor: 2 } });
    expect((await readModel(dirOf('fam-qwen2-f32'))).config.slidingWindow).toBeUndefined(); // use_sliding_window false
    expect((await readModel(dirOf('fam-mistral-f32'))).config).toMatchObject({ slidingWindow: 4096, nKvHeads: 1 });
    expect((await readModel(dirOf('fam-qwen3-f32'))).config).toMatchObject({ qkNorm: true, headDim: 16 });
    expect((await readModel(dirOf('fam-neox-f32'))).config).toMatchObject({ family: 'neox', rotaryDim: 4, parallelResidual: true, tiedEmbeddings: false });
    expect((await readModel(dirOf('fam-neoxseq-f32'))).config).toMatchObject({ rotaryDim: 4, parallelResidual: false });
  });
});

describe('inherit writes each family back as itself', () => {
  for (const f of Object.keys(TYPES)) {
    it(`${f}: inherit --layers 2 -> same model_type, the reference's first-2 logits`, async (ctx) => {
      if (!g) return ctx.skip();
      const name = `fam-${f}-bf16`, out = join(mkdtempSync(join(tmpdir(), 'itrt-fam-')), 'k2');
      await run(process.execPath, [resolve(REPO, 'dist/cli.mjs'), 'inherit', '--from', dirOf(name), '--layers', '2', '--out', out]);
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      expect(cfg.model_type).toBe(TYPES[f]);
      expect(cfg.num_hidden_layers).toBe(2);
      const ck = await readModel(out);
      const m = Model.create(g, ck);
      close(`${name} inherited`, await m.logits(goldens[name].ids), goldens[name].logitsFirstK.flat());
      m.destroy();
    });
  }
});
