// hardening: crafted config.json files, index and tokenizer files that reach outside the model
// directory, non-finite weights and logits, and GPU errors, each a clear InherituneError (or, where the
// input is valid, the right result); stdout carries nothing but the command's own output.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync, symlinkSync, readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configFromHf, hfFiles, initCheckpoint, InherituneError, type ModelConfig } from '../src/node/index.js';
import { readModel } from '../src/node/models.js';
import { tokenizerFiles } from '../src/node/tokfiles.js';
import { REPO } from './helpers.js';

const CLI = resolve(REPO, 'dist/cli.mjs');
const LLAMA = { model_type: 'llama', hidden_size: 64, intermediate_size: 172, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, vocab_size: 100, max_position_embeddings: 128, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false };
const GPT2 = { model_type: 'gpt2', n_embd: 32, n_layer: 2, n_head: 4, vocab_size: 100, n_positions: 64, layer_norm_epsilon: 1e-5 };
const bad = (cfg: unknown) => { try { configFromHf(cfg, 'x/config.json'); return null; } catch (e) { return e; } };
const work = mkdtempSync(join(tmpdir(), 'itrt-hard-'));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

/** an HF directory for cfg with the weights of its ModelConfig, written by the package */
function hfDir(name: string, config: ModelConfig, extra: Record<string, string> = {}): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, parts] of Object.entries(hfFiles(initCheckpoint(config, 1)))) writeFileSync(join(dir, f), Buffer.concat(parts));
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(dir, f), text);
  return dir;
}

describe('config.json: exact types, ranges and cross-field rules', () => {
  it('accepts the valid configs', () => {
    expect(configFromHf(LLAMA)).toMatchObject({ family: 'llama', dim: 64, nKvHeads: 2, tiedEmbeddings: false });
    expect(configFromHf(GPT2)).toMatchObject({ family: 'gpt2', dim: 32, hiddenDim: 128, tiedEmbeddings: true });
  });

  const cases: [string, unknown, RegExp][] = [
    ['tie_word_embeddings "false" (a string)', { ...LLAMA, tie_word_embeddings: 'false' }, /"tie_word_embeddings" is "false", not true or false/],
    ['rope_theta 0', { ...LLAMA, rope_theta: 0 }, /"rope_theta" is 0, not a finite number/],
    ['rope_theta negative', { ...LLAMA, rope_theta: -5 }, /"rope_theta" is -5/],
    ['rope_theta "abc"', { ...LLAMA, rope_theta: 'abc' }, /"rope_theta" is "abc"/],
    ['rms_norm_eps "abc"', { ...LLAMA, rms_norm_eps: 'abc' }, /"rms_norm_eps" is "abc"/],
    ['rms_norm_eps negative', { ...LLAMA, rms_norm_eps: -1e-5 }, /"rms_norm_eps" is -0.00001/],
    ['hidden_size true (no coercion to 1)', { ...LLAMA, hidden_size: true }, /"hidden_size" is true, not an integer/],
    ['vocab_size 2^31', { ...LLAMA, vocab_size: 2 ** 31 }, /"vocab_size" is 2147483648, not an integer in \[1, 16777216\]/],
    ['intermediate_size 1e308', { ...LLAMA, intermediate_size: 1e308 }, /"intermediate_size" is 1e\+308/],
    ['config.json of null', null, /config\.json is null, not a JSON object/],
    ['config.json of an array', [1, 2], /is an array, not a JSON object/],
    ['head size 1 (hidden 4, 4 heads)', { ...LLAMA, hidden_size: 4, num_attention_heads: 4, num_key_value_heads: 4 }, /head size 1 must be even/],
    ['heads that do not divide the width', { ...LLAMA, num_attention_heads: 5 }, /dim 64 is not a multiple of nHeads 5/],
    ['kv heads that do not divide the heads', { ...LLAMA, num_key_value_heads: 3 }, /nHeads 4 is not a multiple of nKvHeads 3/],
    ['a head size over the kernels\' 128', { ...LLAMA, hidden_size: 512, num_attention_heads: 2, num_key_value_heads: 2 }, /head size 256 .* is over 128/],
    ['a tensor over 2^31 values', { ...LLAMA, vocab_size: 2 ** 24, hidden_size: 65536, num_attention_heads: 1024, num_key_value_heads: 1024 }, /would hold \d+ values, over 2\^31/],
    ['gpt2 n_head "4"', { ...GPT2, n_head: '4' }, /"n_head" is "4"/],
    ['an unknown model_type', { ...LLAMA, model_type: 'bert' }, /model_type "bert" is not supported/],
  ];
  for (const [what, cfg, msg] of cases) {
    it(`${what}: a clear error`, () => {
      const e = bad(cfg);
      expect(e).toBeInstanceOf(InherituneError);
      expect((e as Error).message).toMatch(msg);
      expect((e as Error).message).toMatch(/x\/config\.json/);
      expect((e as Error).message).toMatch(/HINT/);
    });
  }

  it('the CLI: a bad config.json exits 1 with the message on stderr and nothing on stdout', () => {
    const dir = hfDir('bad-tie', configFromHf(LLAMA));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...LLAMA, tie_word_embeddings: 'false' }));
    const r = cli('logits', '--model', dir, '--ids', '1,2', '--json');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/"tie_word_embeddings" is "false", not true or false/);
  });
});

describe('files stay inside their model directory', () => {
  beforeAll(() => {
    mkdirSync(join(work, 'outside'), { recursive: true });
    writeFileSync(join(work, 'outside/x.safetensors'), 'not a model');
  });

  for (const [what, target] of [['../outside/x.safetensors', '../outside/x.safetensors'], ['/etc/passwd', '/etc/passwd'], ['a subfolder', 'sub/model.safetensors']]) {
    it(`an index naming ${what} is refused before the file is opened`, async () => {
      const dir = hfDir(`index-${what.replace(/\W/g, '')}`, configFromHf(LLAMA));
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.embed_tokens.weight': target } }));
      const e = await readModel(dir).catch((x) => x);
      expect(e).toBeInstanceOf(InherituneError);
      expect(e.message).toMatch(/not a \.safetensors file name in the directory/);
      expect(e.message).not.toMatch(/root:|not a model/); // nothing of the file's content leaks
    });
  }

  it('a symlinked tokenizer_config.json that leaves the directory is refused, and inherit does not copy it', () => {
    const dir = hfDir('link-tok', configFromHf(LLAMA));
    symlinkSync('/etc/hostname', join(dir, 'tokenizer_config.json'));
    expect(() => tokenizerFiles(dir)).toThrow(/is a link that leaves .* \(it points at \/etc\/hostname\)/);
    const r = cli('inherit', '--from', dir, '--layers', '1', '--out', join(work, 'link-tok-k1'), '--json');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is a link that leaves/);
    expect(existsSync(join(work, 'link-tok-k1', 'tokenizer_config.json'))).toBe(false);
  });

  it('a link that stays inside the directory is fine', () => {
    const dir = hfDir('link-in', configFromHf(LLAMA), { 'real_config.json': '{"bos_token": "<s>"}' });
    symlinkSync('real_config.json', join(dir, 'tokenizer_config.json'));
    expect(new TextDecoder().decode(tokenizerFiles(dir)['tokenizer_config.json'][0])).toBe('{"bos_token": "<s>"}');
  });
});

describe('no silent garbage', () => {
  it('non-finite logits are an error, never nulls with exit 0', () => {
    const dir = hfDir('nan-logits', configFromHf(LLAMA), {});
    // finite weights, infinite logits: the blocks add nothing (zero weights), every normalized
    // activation is 1 and the head's rows of 3e38 sum 64 of them past the float range
    const big = initCheckpoint(configFromHf(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))), 1);
    for (const name of ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3']) big.tensors[name].fill(0);
    big.tensors.token_embedding.fill(1);
    big.tensors.wcls.fill(3e38);
    for (const [f, parts] of Object.entries(hfFiles(big))) writeFileSync(join(dir, f), Buffer.concat(parts));
    const r = cli('logits', '--model', dir, '--ids', '1,2', '--json');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/non-finite logit/);
  });

  it('a GPU validation error becomes an InherituneError and never reaches stdout', () => {
    const script = `import { createGpu } from ${JSON.stringify(resolve(REPO, 'dist/node.mjs'))};
      const g = await createGpu(); const v = g.tensor(64, 'x'); g.copy(v, v);
      try { await g.read(v); } catch (e) { process.stderr.write(e.name + ': ' + e.message.split('\\n')[0] + '\\n'); }
      g.destroy();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/InherituneError: GPU error: Source and destination are the same buffer/);
  });
});

