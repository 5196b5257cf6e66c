// inherit: which tensors come from the reference and which are fresh, under each preset and flag;
// and the written HF directory giving the reference's first-k logits (PyTorch goldens) on the GPU.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, mkdtempSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseLlama2c, Model, selectLayers, InherituneError, type Gpu } from '../src/node/index.js';
import { inherit } from '../src/method/inherit.js';
import { REPO, SHARED, testGpu, checkTensor } from './helpers.js';

const run = promisify(execFile);
const DIR = resolve(SHARED, 'stories260k');
const MODEL = resolve(DIR, 'stories260K.bin');
const ref = parseLlama2c(new Uint8Array(readFileSync(MODEL)));
const golden = (k: number) => { const b = readFileSync(resolve(DIR, `golden/prompt_logits_k${k}.f32`)); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const PROMPT = [1, 403, 407, 261, 378];

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

describe('inherit (CPU): what is inherited', () => {
  it('paper preset, default k = L/2: embeddings, first blocks, final norm, tied head', () => {
    const { checkpoint, record } = inherit(ref);
    expect(record.blocks).toEqual([0, 1]); // floor(5 / 2)
    expect(checkpoint.config.nLayers).toBe(2);
    expect(checkpoint.config.tiedEmbeddings).toBe(true);
    expect(checkpoint.tensors.token_embedding).toEqual(ref.tensors.token_embedding);
    expect(checkpoint.tensors.rms_final).toEqual(ref.tensors.rms_final);
    expect(checkpoint.tensors.wq).toEqual(ref.tensors.wq.subarray(0, 2 * 64 * 64));
    expect(Object.values(record.tensors).every((t) => t.source === 'reference')).toBe(true);
    expect(record.tensors['model.layers.1.self_attn.q_proj.weight']).toEqual({ source: 'reference', reference_key: 'model.layers.1.self_attn.q_proj.weight' });
  });

  it('--select keeps the given blocks in the given order', () => {
    const { checkpoint, record } = inherit(ref, { select: [4, 0] });
    const n = 64 * 172;
    expect(checkpoint.tensors.w1.subarray(0, n)).toEqual(ref.tensors.w1.subarray(4 * n, 5 * n));
    expect(checkpoint.tensors.w1.subarray(n, 2 * n)).toEqual(ref.tensors.w1.subarray(0, n));
    expect(record.tensors['model.layers.0.mlp.gate_proj.weight']).toEqual({ source: 'reference', reference_key: 'model.layers.4.mlp.gate_proj.weight' });
  });

  it('official preset (Llama): blocks and head inherited, embeddings and final norm fresh, head untied', () => {
    const { checkpoint, record } = inherit(ref, { layers: 3, preset: 'official', seed: 5 });
    expect(checkpoint.config.tiedEmbeddings).toBe(false);
    expect(checkpoint.tensors.wcls).toEqual(ref.tensors.token_embedding);          // the head is the reference's
    expect(checkpoint.tensors.token_embedding).not.toEqual(ref.tensors.token_embedding);
    expect(Array.from(checkpoint.tensors.rms_final).every((v) => v === 1)).toBe(true);
    expect(record.tensors['model.embed_tokens.weight']).toEqual({ source: 'init', init: 'normal(0, 0.02), seed 5' });
    expect(record.tensors['model.norm.weight']).toEqual({ source: 'init', init: 'ones' });
    expect(record.tensors['lm_head.weight']).toEqual({ source: 'reference', reference_key: 'model.embed_tokens.weight' });
    expect(record.notes.join(' ')).toMatch(/untied head/);
    // the fresh embedding is N(0, 0.02)
    const e = checkpoint.tensors.token_embedding;
    const std = Math.sqrt(e.reduce((s, v) => s + v * v, 0) / e.length);
    expect(Math.abs(std - 0.02)).toBeLessThan(0.001);
  });

  it('--no-head on a tied reference: embeddings kept, a fresh untied head', () => {
    const { checkpoint, record } = inherit(ref, { layers: 2, head: false });
    expect(checkpoint.config.tiedEmbeddings).toBe(false);
    expect(checkpoint.tensors.token_embedding).toEqual(ref.tensors.token_embedding);
    expect(record.tensors['lm_head.weight'].source).toBe('init');
  });

  it('bad selections are clear errors', () => {
    expect(() => inherit(ref, { layers: 6 })).toThrow(/`layers` 6: the model has 5 blocks/);
    expect(() => inherit(ref, { select: [0, 9] })).toThrow(InherituneError);
    expect(() => inherit(ref, { select: [0, 9] })).toThrow(/block 9 does not exist: the model has 5 blocks/);
    expect(() => inherit(ref, { layers: 2, select: [0] })).toThrow(/either `layers` \(K\) or `select`/);
    expect(() => inherit(ref, { preset: 'x' as 'paper' })).toThrow(/`preset` x/);
  });
});

describe('inherit (GPU): the inherited model is the reference\'s first k blocks', () => {
  it('library: inherited k=3 logits equal the PyTorch golden for the first-3-block sub-model', async (ctx) => {
    if (!g) return ctx.skip();
    const m = Model.create(g, inherit(ref, { layers: 3 }).checkpoint);
    checkTensor('inherited k=3', await m.logits(PROMPT), golden(3), 1e-4, 0);
    m.destroy();
  });

  it('CLI: the written HF directory (q/k permuted to rotate_half) gives the same logits, and carries the tokenizer', async (ctx) => {
    if (!g) return ctx.skip();
    const out = join(mkdtempSync(join(tmpdir(), 'itrt-')), 'k3');
    const cli = resolve(REPO, 'dist/cli.mjs');
    await run(process.execPath, [cli, 'inherit', '--from', MODEL, '--layers', '3', '--out', out]);
    for (const f of ['config.json', 'model.safetensors', 'inheritune.json', 'tok512.bin', 'tokenizer.model']) expect(existsSync(join(out, f)), f).toBe(true);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ model_type: 'llama', num_hidden_layers: 3, num_key_value_heads: 4, tie_word_embeddings: true });
    const { stdout } = await run(process.execPath, [cli, 'logits', '--model', out, '--ids', PROMPT.join(','), '--json']);
    checkTensor('HF dir k=3', JSON.parse(stdout).logits.flat(), golden(3), 1e-4, 0);
  });

  it('--select 0,1,4 equals the reference with those blocks kept', async (ctx) => {
    if (!g) return ctx.skip();
    const a = Model.create(g, inherit(ref, { select: [0, 1, 4] }).checkpoint);
    const b = Model.create(g, selectLayers(ref, [0, 1, 4]));
    checkTensor('select', await a.logits(PROMPT), await b.logits(PROMPT), 0, 0);
    a.destroy(); b.destroy();
  });
});
