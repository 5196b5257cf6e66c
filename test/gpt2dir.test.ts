// gpt2dir: `eval` and `train` on a GPT-2 Hugging Face directory with its tokenizer files beside it
// (encoder.json + vocab.bpe, the real 50257-token GPT-2 BPE): the text is tokenized with that BPE and
// BOS = <|endoftext|> (50256) starts it.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { hfFiles, initCheckpoint, type ModelConfig } from '../src/node/index.js';
import { readTokenizer } from '../src/node/tokfiles.js';
import { readTokens } from '../src/node/textdata.js';
import { writeDirAtomic } from '../src/node/atomic.js';
import { REPO, SHARED, testGpu } from './helpers.js';

const run = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
let dir = '', text = '';

beforeAll(() => {
  const work = mkdtempSync(join(tmpdir(), 'itrt-gpt2dir-'));
  dir = join(work, 'gpt2-small-vocab');
  const config: ModelConfig = { family: 'gpt2', dim: 32, hiddenDim: 128, nLayers: 1, nHeads: 2, nKvHeads: 2, vocabSize: 50257,
    maxSeqLen: 64, normEps: 1e-5, ropeTheta: 0, ropeMode: 'interleaved', tiedEmbeddings: true };
  writeDirAtomic(dir, hfFiles(initCheckpoint(config, 3)));
  for (const f of ['encoder.json', 'vocab.bpe']) copyFileSync(resolve(SHARED, 'gpt2-bpe', f), join(dir, f));
  text = join(work, 'shakespeare.txt');
  writeFileSync(text, readFileSync(resolve(SHARED, 'tinyshakespeare/input.txt'), 'utf8').slice(0, 20000));
});

describe('a GPT-2 HF directory with its tokenizer files', () => {
  it('tokenizes with the GPT-2 BPE and BOS = <|endoftext|>', async () => {
    const tok = await readTokenizer(undefined, dir, 50257);
    expect(tok.kind).toBe('byte-bpe');
    expect(tok.bos).toBe(50256);
    const ids = await readTokens(text, async () => tok, 'train');
    expect(ids[0]).toBe(50256);
    expect(ids.slice(1, 3)).toEqual(tok.encode('First Citizen', { bos: false }));
  });

  it('eval and train run on it', async (ctx) => {
    const g = await testGpu();
    if (!g) return ctx.skip();
    g.destroy();
    const ev = JSON.parse((await run(process.execPath, [CLI, 'eval', '--model', dir, '--text', text, '--seq', '32', '--windows', '4', '--json'])).stdout);
    expect(ev.windows).toBe(4);
    expect(Math.abs(ev.loss - Math.log(50257))).toBeLessThan(0.5); // random init: about uniform over the vocabulary
    const out = join(dir, '..', 'run');
    const tr = JSON.parse((await run(process.execPath, [CLI, 'train', '--model', dir, '--text', text, '--steps', '3', '--batch', '2',
      '--seq', '32', '--lr', '1e-2', '--val-windows', '2', '--out', out, '--json'])).stdout);
    expect(tr.losses.length).toBe(3);
    expect(tr.losses[2]).toBeLessThan(tr.losses[0]);
    // the trained checkpoint carries the tokenizer files
    expect(readFileSync(join(out, 'checkpoint/vocab.bpe'), 'utf8').length).toBeGreaterThan(1000);
  });
});
