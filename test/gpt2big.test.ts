// gpt2big: a GPT-2 whose vocabulary head (50257 x 768 floats = 154 MB) exceeds lavapipe's 128 MiB
// storage-binding limit, written as an HF directory, read back lazily and run on the GPU; logits
// match PyTorch (test/ref/make_hf_ref.py). Neither side stores the weights: both regenerate them
// from the same counter-based hash (mulberry32's i-th output), so only the logits are committed.
import { describe, it, expect } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { Model, serializeSafetensors } from '../src/node/index.js';
import { readModel } from '../src/node/models.js';
import { REPO, testGpu, checkTensor } from './helpers.js';

const ref = JSON.parse(readFileSync(resolve(REPO, 'test/ref/gpt2_big_logits.json'), 'utf8'));
const [V, C, L, P] = [50257, 768, 2, 1024];

/** the i-th output of mulberry32 seeded with `seed`, for i = 0..n-1 */
function counterUniform(seed: number, n: number, f: (u: number) => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = (seed + Math.imul(i + 1, 0x6d2b79f5)) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = f(((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

function bigGpt2Tensors() {
  const mat = (u: number) => (2 * u - 1) * 0.02 * Math.sqrt(3);
  const lnw = (u: number) => 1 + (2 * u - 1) * 0.1;
  const small = (u: number) => (2 * u - 1) * 0.02;
  const list: [string, number[], (u: number) => number][] = [['wte.weight', [V, C], mat], ['wpe.weight', [P, C], mat]];
  for (let l = 0; l < L; l++) {
    const h = `h.${l}.`;
    list.push([h + 'ln_1.weight', [C], lnw], [h + 'ln_1.bias', [C], small], [h + 'attn.c_attn.weight', [C, 3 * C], mat],
      [h + 'attn.c_attn.bias', [3 * C], small], [h + 'attn.c_proj.weight', [C, C], mat], [h + 'attn.c_proj.bias', [C], small],
      [h + 'ln_2.weight', [C], lnw], [h + 'ln_2.bias', [C], small], [h + 'mlp.c_fc.weight', [C, 4 * C], mat],
      [h + 'mlp.c_fc.bias', [4 * C], small], [h + 'mlp.c_proj.weight', [4 * C, C], mat], [h + 'mlp.c_proj.bias', [C], small]);
  }
  list.push(['ln_f.weight', [C], lnw], ['ln_f.bias', [C], small]);
  return list.map(([name, shape, f], k) => ({ name, shape, data: counterUniform(1000 + k, shape.reduce((a, b) => a * b, 1), f) }));
}

describe('GPT-2 with a head larger than maxStorageBufferBindingSize', () => {
  it('the TypeScript port of the weight hash equals the Python one', () => {
    expect(Array.from(counterUniform(1000, 5, (u) => u))).toEqual(ref.u_first5.map((x: number) => Math.fround(x)));
  });

  it('reads its HF directory lazily and matches PyTorch logits (1e-4)', async (ctx) => {
    const g = await testGpu();
    if (!g) return ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'itrt-gpt2big-'));
    try {
      const config = { model_type: 'gpt2', vocab_size: V, n_embd: C, n_head: 12, n_layer: L, n_positions: P, layer_norm_epsilon: 1e-5,
        activation_function: 'gelu_new', tie_word_embeddings: true };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      const parts = serializeSafetensors(bigGpt2Tensors()); // un-prefixed keys, as the original GPT-2 checkpoints
      writeFileSync(join(dir, 'model.safetensors'), Buffer.concat(parts));
      const ck = await readModel(dir);
      expect(ck.tensors.wte.length * 4).toBeGreaterThan(g.limits.maxStorageBufferBindingSize);
      const m = Model.create(g, ck);
      const logits = await m.logits(ref.ids);
      m.destroy();
      g.destroy();
      const T = ref.ids.length;
      const got: number[] = [];
      for (let t = 0; t < T; t++) for (const j of ref.columns) got.push(logits[t * V + j]);
      checkTensor('gpt2-big logits (sampled columns)', got, ref.logits.flat(), 1e-4, 0);
      for (let t = 0; t < T; t++) {
        const row = logits.subarray(t * V, (t + 1) * V);
        let am = 0;
        for (let j = 1; j < V; j++) if (row[j] > row[am]) am = j;
        expect(am).toBe(ref.argmax[t]);
        expect(Math.abs(row[am] - ref.max[t])).toBeLessThan(1e-4);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
