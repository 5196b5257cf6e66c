// special_tokens: special tokens written in text (<|endoftext|>, <s>, </s>, <unk>) become their ids as Hugging Face
// tokenizers encode them, and stay text with splitSpecialTokens / --split-special-tokens (HF split_special_tokens).
// Reference: transformers.js (@huggingface/transformers' AutoTokenizer, an independent implementation) loading the same
// files from disk; for split_special_tokens, which transformers.js lacks, the same files with the special tokens taken
// out of added_tokens (then their text is ordinary text there), and tiktoken's encode_ordinary for GPT-2. Also the
// literal GPT-2 ids of the issue, the added-token flags (lstrip, rstrip, single_word, normalized, non-special), decode
// (special tokens as text unless skipped), and the CLI `tokenize`.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { getEncoding } from 'js-tiktoken';
import { env, AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { tokenizerFromFiles, type Tokenizer } from '../src/tokenizers/load.js';
import { hfTokenizerFiles } from '../src/tokenizers/export.js';
import { Packer, DocSplitter } from '../src/data/pack.js';
import { parseShard } from '../src/data/shard.js';
import { REPO, SHARED } from './helpers.js';

const run = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const shared = (f: string) => new Uint8Array(readFileSync(resolve(SHARED, f)));
const enc = new TextEncoder(), dec = new TextDecoder();
const GPT2 = () => ({ 'encoder.json': shared('gpt2-bpe/encoder.json'), 'vocab.bpe': shared('gpt2-bpe/vocab.bpe') });

const EOT = '<|endoftext|>';
const GPT2_TEXTS = [`end${EOT}start`, `${EOT}Hello world`, `Hello world${EOT}`, `${EOT}${EOT}`, `a ${EOT} b`, ` ${EOT} `, `x${EOT}\n\n${EOT}y`,
  '<|endoftext|', '|endoftext|>', `<${EOT}>`, `${EOT}<|endoftext`, `<|endo${EOT}ftext|>`, 'no specials at all', `🙂${EOT}你好`, ''];
const LLAMA_TEXTS = ['<s>Hello</s>', 'Hello <s> world', '</s><s>', '<s', '</s', '<unk>x', 'a</s>b', '  <s>  x ', '<s> </s> <unk>', 'Once upon a time</s>',
  '<<s>>', '< s>', 'x\n<s>\ny', 'Hi', ''];

let work = '';
/** a directory transformers.js loads as a local model: the given files */
function hfDir(name: string, files: Record<string, Uint8Array | string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, b] of Object.entries(files)) writeFileSync(join(dir, f), b);
  return name;
}
/** tokenizer.json without its special added tokens: transformers.js then reads their text as text (HF split_special_tokens) */
function withoutSpecials(json: Uint8Array): Uint8Array {
  const j = JSON.parse(dec.decode(json));
  j.added_tokens = j.added_tokens.filter((t: { special: boolean }) => !t.special);
  return enc.encode(JSON.stringify(j));
}
const CONFIG = (cls: string) => JSON.stringify({ tokenizer_class: cls, clean_up_tokenization_spaces: false, add_bos_token: false });
const load = (name: string) => AutoTokenizer.from_pretrained(name) as Promise<PreTrainedTokenizer>;
const theirs = (t: PreTrainedTokenizer, s: string): number[] => t.encode(s, { add_special_tokens: false });

/** our ids and text against transformers.js', with and without splitSpecialTokens */
function compare(label: string, ours: Tokenizer, ref: PreTrainedTokenizer, refSplit: PreTrainedTokenizer, texts: string[], decodes = true): void {
  for (const s of texts) {
    const ids = ours.encode(s);
    expect(ids, `${label} ${JSON.stringify(s)}`).toEqual(theirs(ref, s));
    expect(ours.encode(s, { splitSpecialTokens: true }), `${label} split ${JSON.stringify(s)}`).toEqual(theirs(refSplit, s));
    if (!decodes || !ids.length) continue;
    expect(ours.decode(ids), `${label} decode ${JSON.stringify(s)}`).toBe(ref.decode(ids, { skip_special_tokens: false }));
    expect(ours.decode(ids, { skipSpecialTokens: true }), `${label} decode, skipping specials ${JSON.stringify(s)}`).toBe(ref.decode(ids, { skip_special_tokens: true }));
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'itrt-special-'));
  env.allowRemoteModels = false;
  env.localModelPath = work;
  // GPT-2: the OpenAI files converted as transformers' GPT2Converter does (tokenizer.json, vocab.json, merges.txt)
  const gpt2 = hfTokenizerFiles(GPT2(), 1024);
  hfDir('gpt2', { 'tokenizer.json': gpt2['tokenizer.json'], 'tokenizer_config.json': CONFIG('GPT2Tokenizer') });
  hfDir('gpt2-split', { 'tokenizer.json': withoutSpecials(gpt2['tokenizer.json']), 'tokenizer_config.json': CONFIG('GPT2Tokenizer') });
  // Llama: tok512 as transformers' LlamaConverter wrote it (<unk>, <s>, </s> special added tokens, normalized false)
  const llama = new Uint8Array(readFileSync(resolve(REPO, 'test/ref/tok512_tokenizer.json')));
  hfDir('llama', { 'tokenizer.json': llama, 'tokenizer_config.json': CONFIG('LlamaTokenizer') });
  hfDir('llama-split', { 'tokenizer.json': withoutSpecials(llama), 'tokenizer_config.json': CONFIG('LlamaTokenizer') });
  // the same with the Metaspace pre-tokenizer (prepend_scheme "first": no "▁" after a special token), as newer files
  const meta = JSON.parse(dec.decode(llama));
  meta.normalizer = null;
  meta.pre_tokenizer = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: true };
  const metaJson = enc.encode(JSON.stringify(meta));
  hfDir('llama-meta', { 'tokenizer.json': metaJson, 'tokenizer_config.json': CONFIG('LlamaTokenizer') });
  hfDir('llama-meta-split', { 'tokenizer.json': withoutSpecials(metaJson), 'tokenizer_config.json': CONFIG('LlamaTokenizer') });
  // SentencePiece tok512.model, converted by the package (remove_extra_whitespaces as regex Replaces)
  const spm = hfTokenizerFiles({ 'tokenizer.model': shared('stories260k/tok512.model') }, 1024);
  hfDir('spm', { 'tokenizer.json': spm['tokenizer.json'], 'tokenizer_config.json': CONFIG('LlamaTokenizer') });
  hfDir('spm-split', { 'tokenizer.json': withoutSpecials(spm['tokenizer.json']), 'tokenizer_config.json': CONFIG('LlamaTokenizer') });
});

describe('special tokens in text, as transformers.js encodes them', () => {
  it('GPT-2 (encoder.json + vocab.bpe, and its tokenizer.json): end<|endoftext|>start is [437, 50256, 9688]', async () => {
    const [ref, refSplit] = [await load('gpt2'), await load('gpt2-split')];
    const tiktoken = getEncoding('r50k_base');
    for (const [label, files] of [['encoder.json + vocab.bpe', GPT2()], ['tokenizer.json', { 'tokenizer.json': new Uint8Array(readFileSync(join(work, 'gpt2/tokenizer.json'))) }]] as const) {
      const tok = await tokenizerFromFiles(files);
      expect(tok.encode(`end${EOT}start`), label).toEqual([437, 50256, 9688]);
      expect(tok.encode(`end${EOT}start`, { splitSpecialTokens: true }), label).toEqual([437, 27, 91, 437, 1659, 5239, 91, 29, 9688]);
      compare(label, tok, ref, refSplit, GPT2_TEXTS);
      for (const s of GPT2_TEXTS) {
        expect(tok.encode(s), `${label} tiktoken "all" ${JSON.stringify(s)}`).toEqual(tiktoken.encode(s, 'all'));
        expect(tok.encode(s, { splitSpecialTokens: true }), `${label} tiktoken ordinary ${JSON.stringify(s)}`).toEqual(tiktoken.encode(s, [], []));
      }
      // the tokenizer-wide default (readTokenizer / --split-special-tokens), and BOS/EOS around it
      const split = await tokenizerFromFiles(files, { splitSpecialTokens: true });
      expect(split.encode(`end${EOT}start`)).toEqual([437, 27, 91, 437, 1659, 5239, 91, 29, 9688]);
      expect(split.encode(`end${EOT}start`, { splitSpecialTokens: false, bos: true })).toEqual([50256, 437, 50256, 9688]);
    }
  });

  it('Llama-style tokenizer.json (normalizer Prepend + Replace, and Metaspace prepend_scheme "first"): <s>, </s>, <unk>', async () => {
    for (const name of ['llama', 'llama-meta']) {
      const tok = await tokenizerFromFiles({ 'tokenizer.json': new Uint8Array(readFileSync(join(work, name, 'tokenizer.json'))) });
      compare(name, tok, await load(name), await load(`${name}-split`), LLAMA_TEXTS);
      // each stretch of text between special tokens is normalized on its own (Prepend: a "▁" each); Metaspace "first": not after a token
      if (name === 'llama') expect(tok.encode('<s>Hello</s>')).toEqual([1, ...tok.encode('Hello'), 2]);
      else expect(tok.encode('<s>Hello</s>')).not.toEqual([1, ...tok.encode('Hello'), 2]);
      expect(tok.encode('<s>Hello</s>', { splitSpecialTokens: true })).not.toContain(1);
    }
  });

  it('SentencePiece tokenizer.model: <s>, </s>, <unk> as transformers\' LlamaTokenizer matches them (decode stays sentencepiece\'s)', async () => {
    const tok = await tokenizerFromFiles({ 'tokenizer.model': shared('stories260k/tok512.model') });
    const [ref, refSplit] = [await load('spm'), await load('spm-split')];
    // no line breaks: the converted file's remove_extra_whitespaces regex "▁+$" is read by HF tokenizers (Oniguruma) and
    // transformers.js as "before every line end", by the package (RE2) and sentencepiece as "at the end of the text"
    compare('tok512.model', tok, ref, refSplit, LLAMA_TEXTS.filter((s) => !s.includes('\n')), false);
    // decode: sentencepiece's rule, control pieces invisible (transformers writes <s> out)
    expect(tok.decode(tok.encode('<s>Hello</s>'))).toBe('Hello');
    // llama2.c's tokenizer.bin keeps run.c's rule: no special token is matched
    const bin = await tokenizerFromFiles({ 'tok512.bin': shared('stories260k/tok512.bin') });
    expect(bin.encode('<s>Hello</s>', { bos: false })).not.toContain(1);
    expect(bin.encode('<s>Hello</s>', { bos: false })).toEqual(bin.encode('<s>Hello</s>', { bos: false, splitSpecialTokens: false }));
  });

  it('added-token flags: lstrip, rstrip, non-special tokens (matched under splitSpecialTokens too) as transformers.js; single_word as HF tokenizers', async () => {
    const base = JSON.parse(readFileSync(join(work, 'gpt2/tokenizer.json'), 'utf8'));
    const add = (id: number, content: string, f: Record<string, boolean>) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...f });
    const extra = [add(50257, '<mask>', { lstrip: true }), add(50258, '<|im_start|>', { rstrip: true }), add(50259, '<|both|>', { lstrip: true, rstrip: true }),
      add(50260, 'hello world', { special: false, normalized: true }), add(50261, '[[x]]', { special: false })];
    const json = (tokens: unknown[]) => enc.encode(JSON.stringify({ ...base, added_tokens: [...base.added_tokens, ...tokens] }));
    hfDir('flags', { 'tokenizer.json': json(extra), 'tokenizer_config.json': CONFIG('GPT2Tokenizer') });
    hfDir('flags-split', { 'tokenizer.json': withoutSpecials(json(extra)), 'tokenizer_config.json': CONFIG('GPT2Tokenizer') });
    const tok = await tokenizerFromFiles({ 'tokenizer.json': json(extra) });
    const texts = ['I saw a <mask> 🙂', 'a  \t<mask>b', '<|im_start|>  user\n', 'x <|both|>  y', 'say hello world!', 'say hello  world', '[[x]][[x]] <mask>',
      `${EOT} <mask> <|im_start|> [[x]]`, '<mask><mask>', '  <mask>'];
    compare('flags', tok, await load('flags'), await load('flags-split'), texts, false);
    expect(tok.encode('I saw a <mask> 🙂').slice(2, 4)).toEqual([257, 50257]); // "Ġa", then <mask> with the space before it
    // single_word (transformers.js does not implement it): HF tokenizers' test_single_word_is_correct, on raw text
    const sw = await tokenizerFromFiles({ 'tokenizer.json': json([add(50257, '<mask>', { single_word: true, special: false })]) });
    const plain = (s: string) => sw.encode(s, { splitSpecialTokens: true }).filter((i) => i !== 50257).length;
    const ids = sw.encode('<mask> My name <mask> A<mask> <mask>ony <mask>');
    expect(ids.filter((i) => i === 50257)).toHaveLength(3);
    expect(ids[0]).toBe(50257);
    expect(ids.at(-1)).toBe(50257);
    expect(sw.encode('<mask>, <mask>- \u25cc\u0330<mask>').filter((i) => i === 50257)).toHaveLength(2); // punctuation is not a word; a combining mark is
    expect(plain('A<mask>')).toBeGreaterThan(1);
  });

  it('pack: special tokens in documents become their ids in the shards (also in the chunks a long document is cut into)', async () => {
    const doc = (sp: string) => Array.from({ length: 400 }, (_, i) => `Line ${i} of the story.${i % 7 ? '' : sp} And then`).join(' ');
    for (const [files, sp, id] of [[GPT2(), EOT, 50256], [{ 'tokenizer.model': shared('stories260k/tok512.model') }, '</s>', 2]] as const) {
      for (const split of [false, true]) {
        const tok = await tokenizerFromFiles(files, { splitSpecialTokens: split });
        const text = doc(sp), got: number[] = [];
        const q = new Packer(tok, { val: 0, chunkChars: 512 }, (_s, _i, b) => { for (const t of parseShard(b).tokens) got.push(t); });
        const d = new DocSplitter('file', q, 'text', 'doc');
        d.start();
        for (let i = 0; i < text.length; i += 300) await d.push(text.slice(i, i + 300));
        await d.finish();
        await q.finish();
        expect(got, `${tok.kind} split ${split}`).toEqual(tok.encode(text, { bos: true })); // cut in 512-character chunks, the ids of the whole
        expect(got.filter((t) => t === id).length, `${tok.kind} split ${split}`).toBe(split ? (id === 50256 ? 1 : 0) : 58 + (id === 50256 ? 1 : 0));
      }
    }
  });

  it('tokenize (CLI): the ids transformers.js gives; --split-special-tokens keeps the text', async () => {
    const text = `end${EOT}start <|endoftext| ${EOT}`;
    const ref = await load('gpt2');
    const cli = async (...a: string[]) => JSON.parse((await run(process.execPath, [CLI, 'tokenize', '--tokenizer', resolve(SHARED, 'gpt2-bpe'), '--text', text, ...a, '--json'])).stdout).ids;
    expect(await cli()).toEqual(theirs(ref, text));
    expect(await cli('--split-special-tokens')).toEqual(theirs(await load('gpt2-split'), text));
  });
});
