// tokenizer_export: the tokenizer.json written for each kind of source tokenizer (src/tokenizers/export.ts)
// encodes id-for-id like the source (a llama2.c tokenizer.bin, SentencePiece tokenizer.models with and
// without remove_extra_whitespaces / byte fallback / user-defined pieces, GPT-2's OpenAI files) on the
// torture texts and on excerpts of every shared text, and decodes back alike; the config files name the
// right tokens; a directory inherited from stories260K.bin and one from a GPT-2 directory carry them all.
import { describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tokenizerFromFiles, type Tokenizer } from '../src/tokenizers/load.js';
import { hfTokenizerFiles } from '../src/tokenizers/export.js';
import { parseModelProto, PieceType } from '../src/tokenizers/sentencepiece.js';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..');
const SHARED = resolve(REPO, '../shared/data');
const shared = (f: string) => new Uint8Array(readFileSync(resolve(SHARED, f)));
const REF = JSON.parse(readFileSync(resolve(REPO, 'test/ref/spm_ref.json'), 'utf8')) as { torture: string[] };
const EXCERPTS = ['tinyshakespeare/input.txt', 'wikitext-2/wiki.test.raw', 'tinystories-sample/tinystories_val.txt']
  .map((f) => readFileSync(resolve(SHARED, f), 'utf8').slice(0, 30_000));
const TEXTS = [...REF.torture, '', ' ', '  ', 'a  b   c ', '\ud83d', 'a\udc00b', 'x'.repeat(3000), ' ' + 'ab1'.repeat(300),
  '\r\n\r\n \r\n', '\t\t\t x', '<s> </s> <unk> <|endoftext|>', 'Ġ Ċ ĉ ▁▁x', REF.torture.join('\n'), ...EXCERPTS];
const dec = new TextDecoder();

const userPieces = (b: Uint8Array) => { const m = parseModelProto(b); return m.pieces.filter((_, i) => m.types[i] === PieceType.USER_DEFINED); };
const UNK: Record<string, number> = { 'SentencePiece spm_shakespeare.model (no byte fallback, user-defined pieces)': 0 };
const SOURCES: Record<string, () => Record<string, Uint8Array>> = {
  'llama2.c tok512.bin': () => ({ 'tok512.bin': shared('stories260k/tok512.bin') }),
  'SentencePiece tok512.model (byte fallback, remove_extra_whitespaces)': () => ({ 'tokenizer.model': shared('stories260k/tok512.model') }),
  'SentencePiece spm_shakespeare.model (no byte fallback, user-defined pieces)': () => ({ 'tokenizer.model': new Uint8Array(readFileSync(resolve(REPO, 'test/ref/spm_shakespeare.model'))) }),
  'GPT-2 encoder.json + vocab.bpe': () => ({ 'encoder.json': shared('gpt2-bpe/encoder.json'), 'vocab.bpe': shared('gpt2-bpe/vocab.bpe') }),
};

/** the same ids on every text (with the BOS, when there is one, as the package encodes files); the same
 *  text back, except where an <unk> id is (SentencePiece prints its unk_surface " ⁇ ", HF the token) */
function sameIds(label: string, a: Tokenizer, b: Tokenizer, unk = -1, user: string[] = []): number {
  let n = 0;
  for (const [i, s] of TEXTS.entries()) {
    // SentencePiece normalizes the whole text, then cuts out user-defined pieces; HF cuts them out first and
    // normalizes each stretch between them (a "▁" after each): the difference transformers' converter has too
    if (user.some((u) => s.includes(u))) continue;
    // special tokens in the text: their ids on both sides (HF), except from a llama2.c .bin (run.c matches none)
    const want = a.encode(s, { bos: a.bos !== null }), got = b.encode(s, { bos: b.bos !== null, splitSpecialTokens: a.kind === 'llama2c' });
    expect(got, `${label}: text ${i} ${JSON.stringify(s.slice(0, 40))}`).toEqual(want);
    // decode: special tokens left out (llama2.c and sentencepiece never print BOS/EOS; HF does unless skipped)
    if (!want.includes(unk)) expect(b.decode(got, { skipSpecialTokens: true }), `${label}: decode of text ${i}`).toBe(a.decode(want, { skipSpecialTokens: true }));
    n += want.length;
  }
  return n;
}

describe('tokenizer.json written from each source tokenizer', () => {
  for (const [label, files] of Object.entries(SOURCES)) {
    it(`${label}: the package reads it back to the same ids and text`, async () => {
      const src = files(), source = await tokenizerFromFiles(src);
      const out = hfTokenizerFiles(src, 1024);
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) expect(out, f).toHaveProperty([f]);
      const back = await tokenizerFromFiles({ 'tokenizer.json': out['tokenizer.json'], 'tokenizer_config.json': out['tokenizer_config.json'] });
      expect([back.bos, back.eos]).toEqual([source.bos, source.eos]);
      const user = src['tokenizer.model'] ? userPieces(src['tokenizer.model']) : [];
      const n = sameIds(label, source, back, UNK[label], user);
      const cfg = JSON.parse(dec.decode(out['tokenizer_config.json'])), gen = JSON.parse(dec.decode(out['generation_config.json']));
      expect(cfg.model_max_length).toBe(1024);
      expect([gen.bos_token_id, gen.eos_token_id]).toEqual([source.bos, source.eos]);
      console.log(`${label}: ${TEXTS.length} texts, ${n} ids equal; tokenizer_class ${cfg.tokenizer_class}`);
    });
  }

  it('GPT-2: vocab.json + merges.txt beside it, read back to the same tokenizer', async () => {
    const src = SOURCES['GPT-2 encoder.json + vocab.bpe']();
    const out = hfTokenizerFiles(src, 1024);
    expect(JSON.parse(dec.decode(out['vocab.json']))).toEqual(JSON.parse(dec.decode(src['encoder.json'])));
    expect(dec.decode(out['merges.txt']).split('\n')[0]).toBe('#version: 0.2');
    const viaFiles = await tokenizerFromFiles({ 'vocab.json': out['vocab.json'], 'merges.txt': out['merges.txt'] });
    sameIds('vocab.json + merges.txt', await tokenizerFromFiles(src), viaFiles);
    expect(JSON.parse(dec.decode(out['tokenizer_config.json']))).toMatchObject({ tokenizer_class: 'GPT2Tokenizer', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>' });
  });

  it('llama2.c: a literal "▁" stays a character (its three byte pieces, as run.c), since the pieces keep " " for spaces', async () => {
    const src = SOURCES['llama2.c tok512.bin'](), a = await tokenizerFromFiles(src);
    const out = hfTokenizerFiles(src, 8), b = await tokenizerFromFiles({ 'tokenizer.json': out['tokenizer.json'] });
    expect(b.encode('a\u2581b', { bos: true })).toEqual(a.encode('a\u2581b'));
    expect(b.encode('a\u2581b', { bos: true })).not.toEqual(b.encode('a b', { bos: true }));
    expect(JSON.parse(dec.decode(out['tokenizer.json'])).model.merges.some((m: unknown) => Array.isArray(m) && m.join('').includes(' '))).toBe(true);
  });

  it('SentencePiece user-defined pieces: always matched; the text after one starts a new word (HF) or not (sentencepiece)', async () => {
    const src = SOURCES['SentencePiece spm_shakespeare.model (no byte fallback, user-defined pieces)'](), a = await tokenizerFromFiles(src);
    const user = userPieces(src['tokenizer.model']);
    expect(user.length).toBeGreaterThan(0);
    const b = await tokenizerFromFiles({ 'tokenizer.json': hfTokenizerFiles(src, 8)['tokenizer.json'] });
    const u = user[0], id = (a as any).pieces.indexOf(u);
    expect(b.encode(`Romeo${u}Juliet`)).toContain(id);
    expect(b.encode(`Romeo${u}Juliet`)).toEqual([...b.encode('Romeo'), id, ...b.encode('Juliet')]);
    expect(a.encode(`Romeo${u}Juliet`, { bos: false })).not.toEqual(b.encode(`Romeo${u}Juliet`));
  });

  it('keeps what the source has, and adds nothing without a tokenizer', () => {
    const tj = new TextEncoder().encode('{"model": {}}');
    expect(hfTokenizerFiles({}, 8)).toEqual({});
    const cfg = new TextEncoder().encode('{"tokenizer_class": "X"}');
    const out = hfTokenizerFiles({ 'tok512.bin': shared('stories260k/tok512.bin'), 'tokenizer_config.json': cfg, 'tokenizer.json': tj }, 8);
    expect(out['tokenizer_config.json']).toBe(cfg);
    expect(out['tokenizer.json']).toBe(tj);
  });
});

describe('directories the CLI writes carry the HF tokenizer files', () => {
  const cli = resolve(REPO, 'dist/cli.mjs');
  const HF = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'];

  it('inherit from stories260K.bin and from a GPT-2 directory', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'itrt-tokexp-'));
    const s = join(tmp, 's'), gdir = join(tmp, 'g');
    await run(process.execPath, [cli, 'inherit', '--from', resolve(SHARED, 'stories260k/stories260K.bin'), '--layers', '2', '--out', s]);
    for (const f of HF) expect(existsSync(join(s, f)), `stories: ${f}`).toBe(true);
    const tok = await tokenizerFromFiles({ 'tokenizer.json': new Uint8Array(readFileSync(join(s, 'tokenizer.json'))) });
    sameIds('inherited stories260K tokenizer.json', await tokenizerFromFiles({ 'tok512.bin': shared('stories260k/tok512.bin') }), tok);
    // gpt2-tiny has no tokenizer of its own: give its copy GPT-2's files
    const src = join(tmp, 'gpt2src');
    await run('cp', ['-r', resolve(REPO, 'test/ref/hf/gpt2-tiny'), src]);
    await run('cp', [resolve(SHARED, 'gpt2-bpe/encoder.json'), resolve(SHARED, 'gpt2-bpe/vocab.bpe'), src]);
    await run(process.execPath, [cli, 'inherit', '--from', src, '--layers', '1', '--out', gdir]);
    for (const f of [...HF, 'vocab.json', 'merges.txt']) expect(existsSync(join(gdir, f)), `gpt2: ${f}`).toBe(true);
    const gtok = await tokenizerFromFiles({ 'tokenizer.json': new Uint8Array(readFileSync(join(gdir, 'tokenizer.json'))) });
    sameIds('inherited GPT-2 tokenizer.json', await tokenizerFromFiles(SOURCES['GPT-2 encoder.json + vocab.bpe']()), gtok);
    expect(JSON.parse(readFileSync(join(gdir, 'generation_config.json'), 'utf8'))).toEqual({ bos_token_id: 50256, eos_token_id: 50256 });
    // a training run's checkpoint (and so every round of `run`) carries them too
    const t = join(tmp, 't'), txt = join(tmp, 'train.txt');
    await run('sh', ['-c', `head -c 20000 ${resolve(SHARED, 'tinystories-sample/tinystories_val.txt')} > ${txt}`]);
    await run(process.execPath, [cli, 'train', '--model', s, '--text', txt, '--steps', '1', '--batch', '1', '--seq', '16', '--val-windows', '1', '--out', t]);
    for (const f of HF) expect(existsSync(join(t, 'checkpoint', f)), `checkpoint: ${f}`).toBe(true);
  });
});
