// onnx: the exported graphs (src/formats/onnx.ts) run by onnxruntime-web against the package's own forward pass:
// stories260K (llama2.c: interleaved RoPE, GQA, tied head; all 5 blocks and the first 3), and the
// PyTorch-written HF models gpt2-tiny, llama-tiny (GQA, untied, rotate_half, BF16 source),
// llama-bias-tiny and the family checkpoints (Llama 3, Qwen2, Mistral, Qwen3, GPT-NeoX). Reference = Model.logits on the GPU, or the committed PyTorch goldens when there
// is no adapter; the goldens are checked in either case. Then padded batches (left and right) must
// give each sequence its unpadded logits, greedy decoding through the KV cache must equal decoding
// without it, and exportOnnxDir must write the transformers.js layout.
// onnxruntime-web in Node: the package's "node" export (dist/ort.node.min.mjs) loads the wasm backend
// from the .wasm beside itself, so no ort.env.wasm.wasmPaths is needed; one thread, no workers.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as ort from 'onnxruntime-web';
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, SHARED, testGpu, checkTensor } from './helpers.js';
import { readModel } from '../src/node/models.js';
import { Model } from '../src/model/model.js';
import { selectLayers } from '../src/model/surgery.js';
import { exportOnnx } from '../src/formats/onnx.js';
import { exportOnnxDir } from '../src/node/onnx.js';
import type { Gpu } from '../src/gpu/gpu.js';
import type { Checkpoint } from '../src/model/config.js';

ort.env.wasm.numThreads = 1;

const STORIES = resolve(SHARED, 'stories260k/stories260K.bin');
const PROMPT = [1, 403, 407, 261, 378]; // "Once upon a time" with BOS (golden.json prompt_ids)
const hfGoldens = JSON.parse(readFileSync(resolve(REPO, 'test/ref/hf_goldens.json'), 'utf8'));
const famGoldens = JSON.parse(readFileSync(resolve(REPO, 'test/ref/families_goldens.json'), 'utf8'));
const hfDir = (name: string) => resolve(REPO, 'test/ref/hf', name);

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** position_ids as Hugging Face's generate() derives them: cumsum(mask) - 1, 1 on padding; the last S of each row */
function positions(mask: number[][], S: number): number[][] {
  return mask.map((m) => { let c = 0; return m.map((v) => { c += v; return v ? c - 1 : 1; }).slice(m.length - S); });
}

type Past = Record<string, ort.Tensor>;

/** the empty cache of a checkpoint: (B, KVH, 0, HS) per layer, as transformers.js passes on the first step */
function emptyPast(ck: Checkpoint, B: number): Past {
  const c = ck.config, HS = c.headDim ?? c.dim / c.nHeads, out: Past = {};
  for (let l = 0; l < c.nLayers; l++) for (const kind of ['key', 'value']) out[`past_key_values.${l}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [B, c.nKvHeads, 0, HS]);
  return out;
}

/** one run: rows (B,S) of new ids after `past` (empty when absent); mask covers past + new */
async function ortStep(s: ort.InferenceSession, ck: Checkpoint, rows: number[][], mask?: number[][], past?: Past): Promise<{ logits: Float32Array; present: Past }> {
  const B = rows.length, S = rows[0].length;
  const P = past ? past['past_key_values.0.key'].dims[2] : 0;
  mask ??= rows.map((r) => Array(P + r.length).fill(1));
  const i64 = (m: number[][]) => new ort.Tensor('int64', BigInt64Array.from(m.flat(), BigInt), [m.length, m[0].length]);
  const out = await s.run({ input_ids: i64(rows), attention_mask: i64(mask), position_ids: i64(positions(mask, S)), ...(past ?? emptyPast(ck, B)) });
  expect(out.logits.dims.slice(0, 2)).toEqual([B, S]);
  const present: Past = {};
  for (const [k, v] of Object.entries(out)) if (k.startsWith('present.')) present[k.replace('present.', 'past_key_values.')] = v;
  return { logits: out.logits.data as Float32Array, present };
}

/** logits (B*T*V) of an ONNX session for B rows of ids, with their attention mask and an empty cache */
async function ortLogits(s: ort.InferenceSession, ck: Checkpoint, rows: number[][], mask?: number[][]): Promise<Float32Array> {
  return (await ortStep(s, ck, rows, mask)).logits;
}

const session = (ck: Checkpoint, opset?: number) => ort.InferenceSession.create(exportOnnx(ck, { opset }));

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

/** the package's own logits for ids (GPU), or null without an adapter */
async function ownLogits(ck: Checkpoint, ids: number[]): Promise<Float32Array | null> {
  if (!g) return null;
  const m = Model.create(g, ck);
  try { return await m.logits(ids); } finally { m.destroy(); }
}

const cases: { name: string; load: () => Promise<Checkpoint>; ids: number[]; golden: Float32Array }[] = [
  { name: 'stories260K (5 blocks)', load: () => readModel(STORIES), ids: PROMPT,
    golden: f32(resolve(SHARED, 'stories260k/golden/prompt_logits.f32')) },
  { name: 'stories260K first 3 blocks', load: async () => selectLayers(await readModel(STORIES), [0, 1, 2]), ids: PROMPT,
    golden: f32(resolve(SHARED, 'stories260k/golden/prompt_logits_k3.f32')) },
  ...['gpt2-tiny', 'llama-tiny', 'llama-bias-tiny'].map((name) => ({
    name, load: () => readModel(hfDir(name)), ids: hfGoldens[name].ids as number[],
    golden: Float32Array.from((hfGoldens[name].logits as number[][]).flat()),
  })),
  ...Object.keys(famGoldens).filter((n) => n.endsWith('-f32')).map((name) => ({
    name, load: () => readModel(hfDir(name)), ids: famGoldens[name].ids as number[],
    golden: Float32Array.from((famGoldens[name].logits as number[][]).flat()),
  })),
  // llama2.c row order with biases (no real checkpoint has both): llama-bias-tiny's q/k rows and biases
  // moved back to interleaved pairs must give the same logits, through the exporter's permuteToHf
  { name: 'llama-bias-tiny as interleaved', load: async () => toInterleaved(await readModel(hfDir('llama-bias-tiny'))),
    ids: hfGoldens['llama-bias-tiny'].ids, golden: Float32Array.from((hfGoldens['llama-bias-tiny'].logits as number[][]).flat()) },
];

/** the inverse of permuteToHf on every layer's wq, wk, bq, bk: HF rows (i, i + HS/2) -> llama2.c pairs (2i, 2i+1) */
function toInterleaved(ck: Checkpoint): Checkpoint {
  const c = ck.config, HS = c.dim / c.nHeads, tensors = { ...ck.tensors };
  const unpermute = (w: Float32Array, heads: number, cols: number) => {
    const out = new Float32Array(w.length), n = heads * HS * cols; // one layer
    for (let o = 0; o < w.length; o += n) for (let h = 0; h < heads; h++) for (let i = 0; i < HS / 2; i++) for (let j = 0; j < 2; j++) {
      const hf = o + (h * HS + j * (HS / 2) + i) * cols, ll = o + (h * HS + 2 * i + j) * cols;
      out.set(w.subarray(hf, hf + cols), ll);
    }
    return out;
  };
  tensors.wq = unpermute(ck.tensors.wq, c.nHeads, c.dim);
  tensors.wk = unpermute(ck.tensors.wk, c.nKvHeads, c.dim);
  tensors.bq = unpermute(ck.tensors.bq, c.nHeads, 1);
  tensors.bk = unpermute(ck.tensors.bk, c.nKvHeads, 1);
  return { config: { ...c, ropeMode: 'interleaved' }, tensors };
}

describe('ONNX export run by onnxruntime-web', () => {
  for (const c of cases) {
    it(`${c.name}: logits equal the package's own and the PyTorch goldens`, async () => {
      const ck = await c.load();
      const got = await ortLogits(await session(ck), ck, [c.ids]);
      const own = await ownLogits(ck, c.ids);
      if (own) console.log(`${c.name}: ONNX vs GPU max |diff| = ${checkTensor(`${c.name} vs GPU`, got, own, 1e-4, 0).toExponential(2)}`);
      console.log(`${c.name}: ONNX vs PyTorch golden max |diff| = ${checkTensor(`${c.name} vs golden`, got, c.golden, 1e-4, 0).toExponential(2)}`);
    });
  }

  // each sequence of a padded batch must get the logits of its own unpadded run, wherever the padding is
  for (const name of ['stories260K (5 blocks)', 'gpt2-tiny', 'llama-tiny']) {
    it(`${name}: a padded batch of 2 gives each sequence its unpadded logits (left and right padding)`, async () => {
      const c = cases.find((x) => x.name === name)!;
      const ck = await c.load();
      const V = ck.config.vocabSize, s = await session(ck);
      const a = c.ids, b = c.ids.slice(1, 4).reverse(), pad = 7; // pad id: any real token, so an unmasked pad would show
      const [la, lb] = [await ortLogits(s, ck, [a]), await ortLogits(s, ck, [b])];
      const T = a.length, n = b.length;
      let md = 0;
      for (const side of ['right', 'left'] as const) {
        const padded = side === 'right' ? [...b, ...Array(T - n).fill(pad)] : [...Array(T - n).fill(pad), ...b];
        const mask = padded.map((_, t) => (side === 'right' ? t < n : t >= T - n) ? 1 : 0);
        const out = await ortLogits(s, ck, [a, padded], [a.map(() => 1), mask]);
        // 1e-4 as above: a longer T changes MatMul's blocking, so the sums round differently (measured < 1e-5)
        md = Math.max(md, checkTensor(`${name} row 0 (${side})`, out.subarray(0, T * V), la, 1e-4, 0));
        const row1 = (o: Float32Array) => o.subarray(T * V + (side === 'left' ? (T - n) * V : 0)).subarray(0, n * V);
        md = Math.max(md, checkTensor(`${name} row 1 (${side} padding)`, row1(out), lb, 1e-4, 0));
        expect(out.every(Number.isFinite), 'padded positions stay finite').toBe(true);
        if (side === 'left') {
          // the check can fail: attending to the pads (and counting positions from them) changes the logits
          const unmasked = row1(await ortLogits(s, ck, [a, padded]));
          expect(unmasked.some((v, i) => Math.abs(v - lb[i]) > 1e-3)).toBe(true);
        }
      }
      console.log(`${name}: padded batch vs single runs max |diff| = ${md.toExponential(2)}`);
    });
  }

  // greedy decoding, one token at a time through the cache, against re-running the whole sequence each step
  for (const name of ['stories260K (5 blocks)', 'gpt2-tiny', 'fam-qwen3-f32', 'fam-neox-f32', 'fam-llama3-f32']) {
    it(`${name}: greedy decoding with the KV cache equals decoding without it (12 tokens)`, async () => {
      const c = cases.find((x) => x.name === name)!;
      const ck = await c.load();
      const V = ck.config.vocabSize, s = await session(ck), N = 12;
      const argmax = (l: Float32Array, t: number) => { let b = 0; for (let i = 1; i < V; i++) if (l[t * V + i] > l[t * V + b]) b = i; return b; };
      // with the cache: the prompt once, then one id per step
      let step = await ortStep(s, ck, [c.ids]);
      const cached = [argmax(step.logits, c.ids.length - 1)];
      let md = 0;
      for (let i = 1; i < N; i++) {
        const prev = step;
        step = await ortStep(s, ck, [[cached[i - 1]]], undefined, prev.present);
        expect(step.present['past_key_values.0.key'].dims[2]).toBe(c.ids.length + i);
        // the same position without the cache
        const full = await ortLogits(s, ck, [[...c.ids, ...cached]]);
        md = Math.max(md, checkTensor(`${name} step ${i}`, step.logits, full.subarray((c.ids.length + i - 1) * V, (c.ids.length + i) * V), 1e-4, 0));
        cached.push(argmax(step.logits, 0));
      }
      const uncached: number[] = [];
      for (let i = 0; i < N; i++) {
        const seq = [...c.ids, ...uncached];
        uncached.push(argmax(await ortLogits(s, ck, [seq]), seq.length - 1));
      }
      expect(cached).toEqual(uncached);
      console.log(`${name}: cached greedy ${cached.join(',')}; cached vs full logits max |diff| ${md.toExponential(2)}`);
    });
  }

  it('opset 18 (ReduceMean axes as an input) gives the same logits as opset 17', async () => {
    const ck = await readModel(STORIES);
    const [a, b] = [await ortLogits(await session(ck, 17), ck, [PROMPT]), await ortLogits(await session(ck, 18), ck, [PROMPT])];
    checkTensor('opset 18 vs 17', b, a, 1e-6, 0);
    expect(() => exportOnnx(ck, { opset: 13 })).toThrow(/opset 13 is not supported/);
  });

  it('exportOnnxDir writes config.json, the tokenizer and onnx/model.onnx (transformers.js layout)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'itrt-onnx-'));
    try {
      const out = join(tmp, 'stories');
      const written = await exportOnnxDir(STORIES, out);
      expect(written).toContain('onnx/model.onnx');
      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      expect(config).toMatchObject({ model_type: 'llama', num_hidden_layers: 5, num_key_value_heads: 4, vocab_size: 512 });
      expect(existsSync(join(out, 'tokenizer.model'))).toBe(true);
      // transformers.js tokenizes with tokenizer.json (converted from tok512.bin) and its config
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) expect(existsSync(join(out, f)), f).toBe(true);
      const bytes = readFileSync(join(out, 'onnx/model.onnx'));
      console.log(`stories260K: onnx/model.onnx is ${bytes.length} bytes`);
      const s = await ort.InferenceSession.create(bytes);
      const kv = (p: string) => [0, 1, 2, 3, 4].flatMap((l) => [`${p}.${l}.key`, `${p}.${l}.value`]);
      expect(s.inputNames).toEqual(['input_ids', 'attention_mask', 'position_ids', ...kv('past_key_values')]);
      expect(s.outputNames).toEqual(['logits', ...kv('present')]);
      checkTensor('from the directory', await ortLogits(s, await readModel(STORIES), [PROMPT]), f32(resolve(SHARED, 'stories260k/golden/prompt_logits.f32')), 1e-4, 0);
      // an HF directory keeps its own config.json; a second export replaces the directory
      await exportOnnxDir(hfDir('gpt2-tiny'), out);
      expect(readFileSync(join(out, 'config.json'))).toEqual(readFileSync(join(hfDir('gpt2-tiny'), 'config.json')));
      expect(existsSync(join(out, 'tokenizer.model'))).toBe(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
