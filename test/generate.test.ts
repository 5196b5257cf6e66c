// generate: decoding with the GPU KV cache (src/model/generate.ts). Each step's logits through the
// cache equal a full forward pass over the whole sequence so far (every family: llama2.c, GPT-2,
// Llama 3, Qwen3, GPT-NeoX), so greedy decoding through the cache is greedy argmax decoding of the
// GPU logits; `inheritune-rt generate --temperature 0 --json` prints exactly those 20 ids. The
// sampler against the softmax it should draw from, top-k / top-p cut-offs, and seeds.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Model, type Gpu } from '../src/node/index.js';
import { readModel } from '../src/node/models.js';
import { readTokenizer } from '../src/node/tokfiles.js';
import { generate, createCache, releaseCache, extend, sampleNext } from '../src/model/generate.js';
import { mulberry32 } from '../src/model/init.js';
import { REPO, SHARED, testGpu, checkTensor } from './helpers.js';

const run = promisify(execFile);
const STORIES = resolve(SHARED, 'stories260k/stories260K.bin');
const PROMPT = [1, 403, 407, 261, 378];
const fam = (n: string) => resolve(REPO, 'test/ref/hf', n);
const N = 20;

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

const argmax = (row: ArrayLike<number>) => { let b = 0; for (let i = 1; i < row.length; i++) if (row[i] > row[b]) b = i; return b; };

/** greedy decoding by full forward passes (no cache): the reference */
async function greedyFull(m: Model, prompt: number[], n: number): Promise<{ ids: number[]; rows: Float32Array[] }> {
  const V = m.config.vocabSize, seq = [...prompt], ids: number[] = [], rows: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const all = await m.logits(seq);
    const row = all.slice((seq.length - 1) * V, seq.length * V);
    rows.push(row);
    ids.push(argmax(row));
    seq.push(ids[i]);
  }
  return { ids, rows };
}

describe('KV-cache decoding on the GPU', () => {
  const cases: [string, string, number[]][] = [
    ['stories260K', STORIES, PROMPT], ['gpt2-tiny', fam('gpt2-tiny'), [1, 5, 17]],
    ['fam-llama3-f32', fam('fam-llama3-f32'), [1, 5, 17]], ['fam-qwen3-f32', fam('fam-qwen3-f32'), [1, 5, 17]],
    ['fam-neox-f32', fam('fam-neox-f32'), [1, 5, 17]], ['fam-neoxseq-f32', fam('fam-neoxseq-f32'), [3, 9]],
  ];
  for (const [name, path, prompt] of cases) {
    it(`${name}: every cached step's logits = the full forward's; greedy generate = greedy argmax of full forwards (${N} tokens)`, async (ctx) => {
      if (!g) return ctx.skip();
      const m = Model.create(g, await readModel(path));
      const ref = await greedyFull(m, prompt, N);
      // step by step through the cache, feeding the reference's ids
      const cache = createCache(m, prompt.length + N);
      let md = 0;
      try {
        let row = await extend(m, cache, prompt);
        for (let i = 0; i < N; i++) {
          md = Math.max(md, checkTensor(`${name} step ${i}`, row, ref.rows[i], 1e-4, 0));
          if (i < N - 1) row = await extend(m, cache, [ref.ids[i]]);
        }
        expect(cache.past).toBe(prompt.length + N - 1);
      } finally {
        releaseCache(m, cache);
      }
      const got: number[] = [];
      for await (const id of generate(m, prompt, { maxNewTokens: N, temperature: 0 })) got.push(id);
      expect(got).toEqual(ref.ids);
      console.log(`${name}: greedy ${got.join(',')}; cached vs full logits max |diff| ${md.toExponential(2)}`);
      m.destroy();
    });
  }

  it('`generate --temperature 0 --json` prints the greedy ids of the GPU logits (20 tokens) and their text', async (ctx) => {
    if (!g) return ctx.skip();
    const m = Model.create(g, await readModel(STORIES));
    const tok = await readTokenizer(undefined, STORIES, 512);
    const prompt = 'Once upon a time';
    const ref = await greedyFull(m, tok.encode(prompt), N);
    m.destroy();
    const { stdout } = await run(process.execPath, [resolve(REPO, 'dist/cli.mjs'), 'generate', '--model', STORIES, '--prompt', prompt,
      '--max-new-tokens', String(N), '--temperature', '0', '--json']);
    const out = JSON.parse(stdout);
    expect(out.ids).toEqual(ref.ids);
    expect(out.text).toBe(tok.decode(ref.ids));
    // streamed (no --json): the prompt, then the same text
    const plain = await run(process.execPath, [resolve(REPO, 'dist/cli.mjs'), 'generate', '--model', STORIES, '--prompt', prompt,
      '--max-new-tokens', String(N), '--temperature', '0']);
    expect(plain.stdout).toBe(prompt + out.text + '\n');
  });

  it('stops at the EOS id and at the model\'s last position', async (ctx) => {
    if (!g) return ctx.skip();
    const m = Model.create(g, await readModel(fam('gpt2-tiny')));  // 32 positions
    const ids: number[] = [];
    for await (const id of generate(m, [1, 5, 17], { maxNewTokens: 100, temperature: 0 })) ids.push(id);
    expect(ids.length).toBe(32 - 3);
    const first = ids[0], stopped: number[] = [];
    for await (const id of generate(m, [1, 5, 17], { maxNewTokens: 100, temperature: 0, stop: [first] })) stopped.push(id);
    expect(stopped).toEqual([first]);
    m.destroy();
  });
});

describe('sampling (CPU)', () => {
  const logits = Float32Array.from([1.5, -0.5, 0.25, 2.0, 0.0, -3]);
  const softmax = (x: Float32Array, t: number) => { const e = Array.from(x, (v) => Math.exp(v / t)); const s = e.reduce((a, b) => a + b); return e.map((v) => v / s); };

  it('temperature 0 and top-k 1 are argmax', () => {
    const r = mulberry32(1);
    expect(sampleNext(logits, { temperature: 0 }, r)).toBe(3);
    for (let i = 0; i < 50; i++) expect(sampleNext(logits, { temperature: 1.3, topK: 1 }, r)).toBe(3);
  });

  it('draws follow softmax(logits / T)', () => {
    for (const t of [1, 0.5]) {
      const r = mulberry32(7), n = 40000, counts = new Array(logits.length).fill(0);
      for (let i = 0; i < n; i++) counts[sampleNext(logits, { temperature: t }, r)]++;
      const p = softmax(logits, t);
      // 5 standard errors of a binomial proportion
      counts.forEach((c, i) => expect(Math.abs(c / n - p[i]), `T ${t} id ${i}`).toBeLessThan(5 * Math.sqrt(p[i] * (1 - p[i]) / n) + 1e-4));
    }
  });

  it('top-k and top-p keep only their candidates, renormalized', () => {
    const r = mulberry32(3), n = 20000;
    const seen = new Map<number, number>();
    for (let i = 0; i < n; i++) { const id = sampleNext(logits, { temperature: 1, topK: 2 }, r); seen.set(id, (seen.get(id) ?? 0) + 1); }
    expect([...seen.keys()].sort()).toEqual([0, 3]);
    const p = softmax(logits, 1), p2 = p[3] / (p[0] + p[3]);
    expect(Math.abs(seen.get(3)! / n - p2)).toBeLessThan(0.015);
    // top-p: the smallest set of most likely ids whose probabilities reach p
    const nucleus = (q: number) => { const order = [0, 1, 2, 3, 4, 5].sort((a, b) => p[b] - p[a]); let acc = 0; const keep: number[] = []; for (const i of order) { if (acc >= q) break; keep.push(i); acc += p[i]; } return keep; };
    expect(nucleus(0.45)).toEqual([3]);
    expect(nucleus(0.85)).toEqual([3, 0, 2]);
    for (let i = 0; i < 100; i++) expect(sampleNext(logits, { temperature: 1, topP: 0.45 }, r)).toBe(3);
    const got = new Set(Array.from({ length: 3000 }, () => sampleNext(logits, { temperature: 1, topP: 0.85 }, r)));
    expect([...got].sort()).toEqual([0, 2, 3]);
  });

  it('a seed fixes the draws', () => {
    const draw = (seed: number) => { const r = mulberry32(seed); return Array.from({ length: 30 }, () => sampleNext(logits, { temperature: 1 }, r)); };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });

  it('bad options are refused by name', async () => {
    const none = { config: { maxSeqLen: 8 } } as unknown as Model;
    await expect(generate(none, [1], { maxNewTokens: 4, temperature: -1 }).next()).rejects.toThrow(/temperature -1 is not a number >= 0/);
    await expect(generate(none, [1], { maxNewTokens: 4, topP: 0 }).next()).rejects.toThrow(/top-p 0 is not in \(0, 1\]/);
    await expect(generate(none, [1], { maxNewTokens: 4, topK: 1.5 }).next()).rejects.toThrow(/top-k 1.5 is not an integer/);
  });
});
