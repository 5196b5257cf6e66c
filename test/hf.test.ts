// hf: Hugging Face directories written by PyTorch (test/ref/make_hf_ref.py, an independent
// implementation of the HF modeling code) read and run here: GPT-2 (F32, un-prefixed keys, mask
// buffers to ignore), Llama (BF16, two shards), Llama with biases (F16, tied). Logits and the
// residual stream after every block match (1e-4). Also: writing a directory and reading it back,
// and clear errors for broken directories.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { Model, hfFiles, InherituneError, type Gpu } from '../src/node/index.js';
import { kernels as K } from '../src/index.js';
import { readModel } from '../src/node/models.js';
import { writeDirAtomic } from '../src/node/atomic.js';
import { REPO, testGpu, checkTensor } from './helpers.js';

const goldens = JSON.parse(readFileSync(resolve(REPO, 'test/ref/hf_goldens.json'), 'utf8'));
const dirOf = (name: string) => resolve(REPO, 'test/ref/hf', name);

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

describe('Hugging Face directories written by PyTorch', () => {
  for (const name of ['gpt2-tiny', 'llama-tiny', 'llama-bias-tiny']) {
    it(`${name}: logits and per-block hidden states match`, async (ctx) => {
      if (!g) return ctx.skip();
      const gold = goldens[name];
      const ck = await readModel(dirOf(name));
      const m = Model.create(g, ck);
      const T = gold.ids.length, C = ck.config.dim;
      const a = m.forward(gold.ids, 1, T);
      checkTensor(`${name} logits`, await g.read(K.slice(a.logits, 0, T * ck.config.vocabSize)), gold.logits.flat(), 1e-5, 0); // tiny-model logits are ~0.5, so 1e-5, not 1e-4
      for (let l = 0; l < ck.config.nLayers; l++) {
        checkTensor(`${name} hidden ${l}`, await g.read(K.slice(a.residual3[l], 0, T * C)), gold.hidden[l].flat(), 1e-5, 0);
      }
      m.destroy();
    });
  }

  it('reads the config switches of each family', async () => {
    const gpt2 = await readModel(dirOf('gpt2-tiny'));
    expect(gpt2.config).toMatchObject({ family: 'gpt2', dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 128, tiedEmbeddings: true });
    const llama = await readModel(dirOf('llama-tiny'));
    expect(llama.config).toMatchObject({ family: 'llama', nKvHeads: 2, ropeMode: 'rotate_half', tiedEmbeddings: false });
    expect(llama.tensors.wcls).toBeDefined();
    const bias = await readModel(dirOf('llama-bias-tiny'));
    expect(bias.config).toMatchObject({ attentionBias: true, mlpBias: true, tiedEmbeddings: true });
  });

  it('a directory written here reads back to the same tensors (all three families)', async () => {
    for (const name of ['gpt2-tiny', 'llama-tiny', 'llama-bias-tiny']) {
      const ck = await readModel(dirOf(name));
      const out = join(mkdtempSync(join(tmpdir(), 'itrt-hf-')), 'm');
      writeDirAtomic(out, hfFiles(ck));
      const back = await readModel(out);
      expect(back.config).toEqual(ck.config);
      for (const k of Object.keys(ck.tensors)) expect(back.tensors[k], `${name} ${k}`).toEqual(ck.tensors[k]);
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('broken directories get clear errors', () => {
  const broken = (mutate: (dir: string) => void) => {
    const dir = join(mkdtempSync(join(tmpdir(), 'itrt-bad-')), 'm');
    cpSync(dirOf('llama-tiny'), dir, { recursive: true });
    mutate(dir);
    return readModel(dir).then(() => null, (e) => e);
  };

  it('unknown model_type', async () => {
    const err = await broken((d) => writeFileSync(join(d, 'config.json'), JSON.stringify({ model_type: 'mamba' })));
    expect(err).toBeInstanceOf(InherituneError);
    expect(err.message).toMatch(/model_type "mamba" is not supported.*HINT: supported model types: "llama".*"gpt_neox"/s);
  });

  it('config.json that is not JSON, or misses a field', async () => {
    expect((await broken((d) => writeFileSync(join(d, 'config.json'), '{oops'))).message).toMatch(/config.json is not valid JSON/);
    const cfg = JSON.parse(readFileSync(join(dirOf('llama-tiny'), 'config.json'), 'utf8'));
    delete cfg.hidden_size;
    expect((await broken((d) => writeFileSync(join(d, 'config.json'), JSON.stringify(cfg)))).message).toMatch(/"hidden_size" is missing/);
  });

  it('missing tensors are listed', async () => {
    const cfg = JSON.parse(readFileSync(join(dirOf('llama-tiny'), 'config.json'), 'utf8'));
    cfg.num_hidden_layers = 3; // the weights only have 2
    const err = await broken((d) => writeFileSync(join(d, 'config.json'), JSON.stringify(cfg)));
    expect(err.message).toMatch(/missing \d+ tensor\(s\) for a llama model with 3 layers: model\.layers\.2\./);
  });

  it('a truncated shard and a missing weights file', async () => {
    const shard = 'model-00002-of-00002.safetensors';
    const err = await broken((d) => writeFileSync(join(d, shard), readFileSync(join(d, shard)).subarray(0, 1000)));
    expect(err.message).toMatch(/model-00002-of-00002.safetensors: not a valid safetensors file/);
    const err2 = await broken((d) => { rmSync(join(d, shard)); rmSync(join(d, 'model-00001-of-00002.safetensors')); rmSync(join(d, 'model.safetensors.index.json')); });
    expect(err2.message).toMatch(/no model.safetensors or model.safetensors.index.json.*HINT: save the model with safetensors/s);
  });

  it('weights whose shapes disagree with config.json', async () => {
    const cfg = JSON.parse(readFileSync(join(dirOf('llama-tiny'), 'config.json'), 'utf8'));
    cfg.intermediate_size = 90;
    const err = await broken((d) => writeFileSync(join(d, 'config.json'), JSON.stringify(cfg)));
    expect(err.message).toMatch(/tensor '[^']+' has shape \[\d+,\d+\], expected \[\d+,\d+\] from config.json/);
  });
});
