// transformersjs: the directories `inheritune-rt export --onnx-dir` writes, loaded by transformers.js itself
// (@huggingface/transformers: AutoTokenizer, AutoModelForCausalLM with dtype fp32 on the CPU, i.e. onnxruntime-node)
// as a user would, against the package: the tokenizer ids of prompts (special tokens in them included) and greedy
// generation of 16 tokens (generate({ max_new_tokens: 16, do_sample: false }) vs src/model/generate.ts at temperature 0).
// Llama family: stories260K (llama2.c .bin; transformers.js reads the tokenizer.json converted from tok512.bin).
// GPT-2 family: a 2-block GPT-2 with the real 50257-token BPE (encoder.json + vocab.bpe), random weights (std 0.2, so
// the greedy choices are not near-ties that rounding could flip).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { env, AutoTokenizer, AutoModelForCausalLM, type PreTrainedTokenizer, type Tensor } from '@huggingface/transformers';
import { hfFiles, initCheckpoint, type Gpu, type ModelConfig } from '../src/node/index.js';
import { readTokenizer } from '../src/node/tokfiles.js';
import { loadModel } from '../src/node/models.js';
import { writeDirAtomic } from '../src/node/atomic.js';
import { exportOnnxDir } from '../src/node/onnx.js';
import { generate } from '../src/model/generate.js';
import { SHARED, testGpu } from './helpers.js';

const N = 16;
const STORIES = resolve(SHARED, 'stories260k/stories260K.bin');
let work = '', gpt2 = '', g: Gpu | null = null;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'itrt-tjs-'));
  gpt2 = join(work, 'gpt2-src');
  const config: ModelConfig = { family: 'gpt2', dim: 32, hiddenDim: 128, nLayers: 2, nHeads: 2, nKvHeads: 2, vocabSize: 50257,
    maxSeqLen: 64, normEps: 1e-5, ropeTheta: 0, ropeMode: 'interleaved', tiedEmbeddings: true };
  writeDirAtomic(gpt2, hfFiles(initCheckpoint(config, 5, 0.2)));
  for (const f of ['encoder.json', 'vocab.bpe']) copyFileSync(resolve(SHARED, 'gpt2-bpe', f), join(gpt2, f));
  await exportOnnxDir(STORIES, join(work, 'stories'));
  await exportOnnxDir(gpt2, join(work, 'gpt2'));
  env.allowRemoteModels = false;
  env.localModelPath = work;
  g = await testGpu();
});
afterAll(() => { g?.destroy(); rmSync(work, { recursive: true, force: true }); });

const CASES = [
  { name: 'stories', source: () => STORIES, prompts: ['Once upon a time', 'Lily and Tom went to the park.', 'One day, a little dog'],
    // transformers.js adds the BOS (add_bos_token); llama2.c's run.c encodes <s> as text, the converted tokenizer.json as the BOS
    specials: ['<s>Once upon a time</s>', 'Tom said "hi" </s><s> Lily'] },
  { name: 'gpt2', source: () => gpt2, prompts: ['Hello world', 'The quick brown fox', 'In 2024, the'],
    specials: ['end<|endoftext|>start', '<|endoftext|>Hello<|endoftext|>'] },
];

/** the prompt as transformers.js is given it: GPT-2's tokenizer adds no BOS, so the text carries it */
const theirPrompt = (name: string, p: string) => (name === 'gpt2' ? `<|endoftext|>${p}` : p);
const ids = (t: Tensor) => (t.tolist() as bigint[][])[0].map(Number);

describe('exported directories in transformers.js', () => {
  for (const c of CASES) {
    it(`${c.name}: transformers.js' tokenizer gives the package's ids (special tokens in the text included)`, async () => {
      const tjs = (await AutoTokenizer.from_pretrained(c.name)) as PreTrainedTokenizer;
      const ours = await readTokenizer(undefined, c.source());
      for (const p of c.prompts) {
        expect(tjs.encode(theirPrompt(c.name, p)), p).toEqual(ours.encode(p, { bos: true }));
        expect(tjs.decode(ours.encode(p), { skip_special_tokens: true })).toBe(p);
      }
      // the exported tokenizer.json read by the package matches special tokens as transformers.js does
      const exported = await readTokenizer(join(work, c.name, 'tokenizer.json'), c.source());
      for (const p of [...c.prompts, ...c.specials]) expect(exported.encode(p), p).toEqual(tjs.encode(p, { add_special_tokens: false }));
    });

    it(`${c.name}: greedy generation of ${N} tokens in transformers.js (onnxruntime-node, fp32, CPU) equals the package's`, async (ctx) => {
      if (!g) return ctx.skip();
      const tjs = (await AutoTokenizer.from_pretrained(c.name)) as PreTrainedTokenizer;
      const model = await AutoModelForCausalLM.from_pretrained(c.name, { dtype: 'fp32', device: 'cpu' });
      const tok = await readTokenizer(undefined, c.source());
      const m = await loadModel(g, c.source());
      try {
        for (const p of c.prompts) {
          const prompt = tok.encode(p, { bos: true });
          const ours = [...prompt];
          for await (const id of generate(m, prompt, { maxNewTokens: N, temperature: 0, stop: tok.eos !== null ? [tok.eos] : [] })) ours.push(id);
          const out = await model.generate({ ...tjs(theirPrompt(c.name, p)), max_new_tokens: N, do_sample: false }) as Tensor;
          expect(ids(out), p).toEqual(ours);
          console.log(`${c.name} ${JSON.stringify(p)} -> ${JSON.stringify(tok.decode(ours.slice(prompt.length)))} (${ours.length - prompt.length} tokens)`);
        }
      } finally {
        m.destroy();
        await model.dispose();
      }
    });
  }
});
