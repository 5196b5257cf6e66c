// tokenizers: GPT-2 byte-level BPE ids equal js-tiktoken r50k_base (and tiktoken's WASM build) on whole
// shared-data files and a torture text; SentencePiece ids and decodes equal python sentencepiece goldens
// (test/ref/spm_ref.py); tokenizer.json (ByteLevel and Llama-style), tokenizerFromFiles, malformed files.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { get_encoding } from 'tiktoken';
import protobuf from 'protobufjs';
import { tokenizerFromFiles, type Tokenizer } from '../src/tokenizers/load.js';
import { BpeTokenizer } from '../src/tokenizers/bpe.js';
import { SentencePieceTokenizer, parseModelProto } from '../src/tokenizers/sentencepiece.js';
import { Llama2cTokenizer } from '../src/tokenizers/llama2c.js';
import { InherituneError } from '../src/util/errors.js';

// (helpers.ts also loads the GPU layer; these tests need only paths)
const REPO = resolve(import.meta.dirname, '..');
const SHARED = resolve(REPO, '../shared/data');
const shared = (f: string) => new Uint8Array(readFileSync(resolve(SHARED, f)));
const text = (f: string) => readFileSync(resolve(SHARED, f), 'utf8');
const FILES = ['tinyshakespeare/input.txt', 'wikitext-2/valid.txt', 'wikitext-2/test.txt', 'wikitext-2/wiki.test.raw',
  'tinystories-sample/tinystories_val.txt'];
const REF = JSON.parse(readFileSync(resolve(REPO, 'test/ref/spm_ref.json'), 'utf8')) as {
  variants: Record<string, string>; torture: string[];
  cases: { torture?: number; file?: string; start?: number; length?: number; ids: Record<string, number[]> }[];
  files: { file: string; variant: string; n: number; sha256: string; head: number[] }[];
  decode: { variant: string; ids: number[]; text: string }[];
};
const caseText = (c: (typeof REF.cases)[number]) => c.torture !== undefined ? REF.torture[c.torture] :
  new TextDecoder().decode(shared(c.file!).subarray(c.start!, c.start! + c.length!));
/** what TextEncoder makes of lone surrogates: U+FFFD (String.prototype.toWellFormed, ES2024) */
const wellFormed = (s: string) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(new TextEncoder().encode(s));
const sha = (ids: number[]) => createHash('sha256').update(new Uint8Array(Int32Array.from(ids).buffer)).digest('hex');

// lone surrogates and a long word on top of the shared torture list (sentencepiece cannot take lone surrogates)
const TORTURE = [...REF.torture, '\ud83d', 'a\udc00b', '\udfff\ud800', 'x'.repeat(3000), ' ' + 'ab1'.repeat(1000),
  "'s'S'll'LL", '\r\n\r\n \r\n', '\t\t\t x', 'Ġ Ċ ĉ', REF.torture.join('\n')];

async function expectError(p: Promise<unknown> | (() => unknown), re: RegExp): Promise<void> {
  const e = typeof p === 'function' ? await Promise.resolve().then(p).then(() => null, (x) => x) : await p.then(() => null, (x) => x);
  expect(e, `expected an InherituneError matching ${re}`).toBeInstanceOf(InherituneError);
  expect((e as Error).message).toMatch(re);
  expect((e as Error).message).toContain('---> HINT:');
}

const gpt2Files = () => ({ 'encoder.json': shared('gpt2-bpe/encoder.json'), 'vocab.bpe': shared('gpt2-bpe/vocab.bpe') });

/** A HF-style GPT-2 tokenizer.json built from the OpenAI files (merges as strings or as pairs). */
function gpt2TokenizerJson(pairs: boolean): Uint8Array {
  const vocab = JSON.parse(text('gpt2-bpe/encoder.json'));
  const merges = text('gpt2-bpe/vocab.bpe').split('\n').slice(1).filter(Boolean);
  return new TextEncoder().encode(JSON.stringify({
    version: '1.0', added_tokens: [{ id: 50256, content: '<|endoftext|>', special: true }], normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel' }, decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, vocab, merges: pairs ? merges.map((m: string) => m.split(' ')) : merges },
  }));
}

describe('GPT-2 byte-level BPE', () => {
  const ref = getEncoding('r50k_base');

  it('gives ids identical to js-tiktoken r50k_base on every shared text, and decodes them back', async () => {
    const tok = await tokenizerFromFiles(gpt2Files());
    expect(tok.kind).toBe('byte-bpe');
    expect([tok.vocabSize, tok.bos, tok.eos]).toEqual([50257, 50256, 50256]);
    for (const f of FILES) {
      const s = text(f);
      const ids = tok.encode(s);
      expect(ids.length, f).toBe(ref.encode(s, [], []).length);
      expect(ids, f).toEqual(ref.encode(s, [], []));
      expect(tok.decode(ids), f).toBe(s);
    }
  });

  it('matches js-tiktoken and tiktoken (WASM) on the torture text: CRLF, tabs, spaces, digits, emoji, CJK, lone surrogates', async () => {
    const tok = await tokenizerFromFiles(gpt2Files(), { splitSpecialTokens: true }); // as tiktoken's encode_ordinary
    const wasm = get_encoding('r50k_base');
    try {
      for (const s of TORTURE) {
        const ids = tok.encode(s);
        expect(ids, JSON.stringify(s.slice(0, 40))).toEqual(ref.encode(s, [], []));
        expect(ids, JSON.stringify(s.slice(0, 40))).toEqual(Array.from(wasm.encode_ordinary(s)));
        // lossless wherever the text is well-formed UTF-16; lone surrogates come back as U+FFFD, as from tiktoken
        expect(tok.decode(ids)).toBe(wellFormed(s));
      }
    } finally {
      wasm.free();
    }
  });

  it('reads vocab.json + merges.txt and tokenizer.json (merges as strings or pairs) to the same tokenizer', async () => {
    const hf = await tokenizerFromFiles({ 'vocab.json': shared('gpt2-bpe/encoder.json'), 'merges.txt': shared('gpt2-bpe/vocab.bpe') });
    const j1 = await tokenizerFromFiles({ 'tokenizer.json': gpt2TokenizerJson(false) });
    const j2 = await tokenizerFromFiles({ 'tokenizer.json': gpt2TokenizerJson(true) });
    const s = text('tinyshakespeare/input.txt').slice(0, 50000) + REF.torture.join(' ');
    const want = ref.encode(s, [], []);
    for (const t of [hf, j1, j2]) {
      expect(t.kind).toBe('byte-bpe');
      expect([t.vocabSize, t.bos, t.eos]).toEqual([50257, 50256, 50256]);
      expect(t.encode(s, { splitSpecialTokens: true })).toEqual(want);
      expect(t.encode(s)).toEqual(ref.encode(s, 'all'));
    }
  });

  it('recognises <|endoftext|> as HF does (tiktoken allowed_special "all"), as text with splitSpecialTokens, and adds BOS/EOS when asked', async () => {
    const tok = await tokenizerFromFiles(gpt2Files());
    const s = 'Hello<|endoftext|>world <|endoftext|>';
    expect(tok.encode(s, { splitSpecialTokens: true })).toEqual(ref.encode(s, [], []));
    expect(tok.encode(s, { splitSpecialTokens: true })).not.toContain(50256);
    expect(tok.encode(s)).toEqual(ref.encode(s, 'all'));
    expect(tok.encode(s).filter((i) => i === 50256)).toHaveLength(2);
    expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.encode('Hi', { bos: true, eos: true })).toEqual([50256, 17250, 50256]);
  });

  it('does not go quadratic on a 1 MB word, and caches repeated words', async () => {
    const tok = (await tokenizerFromFiles(gpt2Files())) as BpeTokenizer;
    let seed = 1;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) % 26;
    const word = Array.from({ length: 1 << 20 }, () => String.fromCharCode(97 + rand())).join('');
    const t0 = performance.now();
    const ids = tok.encode(word);
    const s = (performance.now() - t0) / 1000;
    console.log(`1 MiB single word: ${ids.length} ids in ${(s * 1000).toFixed(0)} ms`);
    expect(s).toBeLessThan(5); // ~0.3 s; a quadratic merge loop takes minutes
    expect(tok.decode(ids)).toBe(word);
    expect(ids.slice(0, 2000)).toEqual(ref.encode(word.slice(0, 4000), [], []).slice(0, 2000));
    // the same word twice gives the same ids (second time from the cache)
    expect(tok.encode(' hello hello hello')).toEqual([23748, 23748, 23748]);
  });

  it('rejects malformed files with InherituneErrors', async () => {
    const enc = new TextEncoder();
    await expectError(tokenizerFromFiles({ 'vocab.json': enc.encode('{"a": 0,'), 'merges.txt': enc.encode('') }), /vocab.json is not valid JSON/);
    await expectError(tokenizerFromFiles({ 'vocab.json': enc.encode('[1, 2]'), 'merges.txt': enc.encode('') }), /not a JSON object of token -> id/);
    await expectError(tokenizerFromFiles({ 'vocab.json': enc.encode('{"a": -1}'), 'merges.txt': enc.encode('') }), /"a" has id -1/);
    const vocab = shared('gpt2-bpe/encoder.json');
    const merges = (extra: string) => ({ 'vocab.json': vocab, 'merges.txt': enc.encode('#version: 0.2\nĠ t\n' + extra) });
    await expectError(tokenizerFromFiles(merges('Ġ zzzunknown\n')), /merge 2 \('Ġ zzzunknown'\) names the unknown token 'zzzunknown'/);
    await expectError(tokenizerFromFiles(merges('Ġt Ġt\n')), /merge 2 \('Ġt Ġt'\) makes 'ĠtĠt', which is not in the vocab/);
    await expectError(tokenizerFromFiles(merges('a b c\n')), /merges.txt: line 3 .* is not a merge/);
    const small = enc.encode(JSON.stringify({ a: 0, b: 1 }));
    await expectError(tokenizerFromFiles({ 'vocab.json': small, 'merges.txt': enc.encode('') }), /no token for byte 0x0/);
    await expectError(tokenizerFromFiles({ 'vocab.json': vocab }), /vocab.json without merges.txt/);
    await expectError(tokenizerFromFiles({ 'README.md': enc.encode('hi') }), /no tokenizer among the files given \(README.md\)/);
    const json = gpt2TokenizerJson(false);
    await expectError(tokenizerFromFiles({ 'tokenizer.json': json.subarray(0, json.length - 10) }), /tokenizer.json is not valid JSON/);
    await expectError(tokenizerFromFiles({ 'tokenizer.json': enc.encode('{"model": {"type": "WordPiece", "vocab": {}}}') }), /model type 'WordPiece' is not BPE/);
    const j = JSON.parse(new TextDecoder().decode(json));
    j.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: 'x' } }, { type: 'ByteLevel', use_regex: false }] };
    await expectError(tokenizerFromFiles({ 'tokenizer.json': enc.encode(JSON.stringify(j)) }), /pre_tokenizer Split \+ ByteLevel is not supported/);
    j.pre_tokenizer = { type: 'ByteLevel' };
    j.model.merges[5] = 'Ġ nosuchtoken';
    await expectError(tokenizerFromFiles({ 'tokenizer.json': enc.encode(JSON.stringify(j)) }), /merge 6 .* names the unknown token 'nosuchtoken'/);
    await expectError(tokenizerFromFiles(gpt2Files(), { vocabSize: 50000 }), /has 50257 tokens but the model's vocab_size is 50000/);
    expect((await tokenizerFromFiles(gpt2Files(), { vocabSize: 50304 })).vocabSize).toBe(50257); // llm.c's padded vocab
    const tok = await tokenizerFromFiles(gpt2Files());
    expect(() => tok.decode([50257])).toThrow(/id 50257 at position 0 is not a token/);
  });
});

describe('SentencePiece BPE (tokenizer.model)', () => {
  const tok512 = shared('stories260k/tok512.model');
  const variant = (hex: string) => { const b = new Uint8Array(tok512.length + hex.length / 2); b.set(tok512); b.set(Uint8Array.from(Buffer.from(hex, 'hex')), tok512.length); return b; };
  const load = async () => {
    const toks: Record<string, SentencePieceTokenizer> = {};
    for (const [k, hex] of Object.entries(REF.variants)) toks[k] = await SentencePieceTokenizer.fromBytes(variant(hex));
    toks.shakespeare = await SentencePieceTokenizer.fromBytes(new Uint8Array(readFileSync(resolve(REPO, 'test/ref/spm_shakespeare.model'))));
    for (const t of Object.values(toks)) t.splitSpecialTokens = true; // python sentencepiece matches no <s>, </s> in text
    return toks;
  };

  it('reads tok512.model: 512 pieces, byte fallback, identity normalizer that removes extra whitespace', async () => {
    const tok = await tokenizerFromFiles({ 'tokenizer.model': tok512 }, { vocabSize: 512 });
    expect(tok).toBeInstanceOf(SentencePieceTokenizer);
    const m = (tok as SentencePieceTokenizer).model;
    expect([tok.kind, tok.vocabSize, tok.bos, tok.eos]).toEqual(['sentencepiece', 512, 1, 2]);
    expect([m.modelType, m.byteFallback, m.normalizerName, m.addDummyPrefix, m.removeExtraWhitespaces, m.escapeWhitespaces])
      .toEqual([2, true, 'identity', true, true, true]);
    expect(tok.encode('Once upon a time', { bos: true })).toEqual([1, 403, 407, 261, 378]);
    expect(tok.encode('  a  b  ')).toEqual([261, 268]); // remove_extra_whitespaces
    expect((tok as SentencePieceTokenizer).wordMode).toBe(true);
  });

  it('gives ids identical to python sentencepiece on the torture text and on excerpts, for every variant', async () => {
    const toks = await load();
    expect(toks.shakespeare.wordMode).toBe(false); // it has pieces like "▁the▁p": whole-text merges
    let n = 0;
    for (const c of REF.cases) {
      const s = caseText(c);
      for (const [k, ids] of Object.entries(c.ids)) { expect(toks[k].encode(s), `${k} ${JSON.stringify(s.slice(0, 40))}`).toEqual(ids); n++; }
    }
    expect(n).toBeGreaterThan(150);
  });

  it('gives ids identical to python sentencepiece on every whole shared file (count + sha256)', async () => {
    const toks = await load();
    for (const f of REF.files) {
      const ids = toks[f.variant].encode(text(f.file));
      expect(ids.slice(0, 32), `${f.variant} ${f.file}`).toEqual(f.head);
      expect([ids.length, sha(ids)], `${f.variant} ${f.file}`).toEqual([f.n, f.sha256]);
    }
  });

  it('decodes as sentencepiece does (random id sequences: control, <unk>, byte pieces, invalid UTF-8)', async () => {
    const toks = await load();
    for (const d of REF.decode) expect(toks[d.variant].decode(d.ids), `${d.variant} ${d.ids}`).toBe(d.text);
    // and round-trips wherever the normalizer keeps the text (no literal "▁", no extra spaces to remove)
    const keep = toks.keep_spaces;
    for (const s of [...TORTURE, text('tinystories-sample/tinystories_val.txt')]) {
      if (s.includes('\u2581')) continue;
      expect(keep.decode(keep.encode(s)), JSON.stringify(s.slice(0, 40))).toBe(wellFormed(s));
    }
    expect(toks.tok512.decode(toks.tok512.encode('  a  b  '))).toBe('a b'); // tok512 removes extra whitespace
  });

  it('reads the model with the same result as protobufjs', async () => {
    const root = protobuf.parse(`syntax = "proto2";
      message SentencePiece { optional string piece = 1; optional float score = 2; optional int32 type = 3 [default = 1]; }
      message TrainerSpec { optional int32 model_type = 3 [default = 1]; optional bool treat_whitespace_as_suffix = 24;
        optional bool byte_fallback = 35; optional int32 unk_id = 40; optional int32 bos_id = 41 [default = 1];
        optional int32 eos_id = 42 [default = 2]; optional int32 pad_id = 43 [default = -1];
        optional string unk_surface = 44 [default = " \\342\\201\\207 "]; }
      message NormalizerSpec { optional string name = 1; optional bytes precompiled_charsmap = 2;
        optional bool add_dummy_prefix = 3 [default = true]; optional bool remove_extra_whitespaces = 4 [default = true];
        optional bool escape_whitespaces = 5 [default = true]; }
      message ModelProto { repeated SentencePiece pieces = 1; optional TrainerSpec trainer_spec = 2;
        optional NormalizerSpec normalizer_spec = 3; }`, { keepCase: true }).root;
    const ModelProto = root.lookupType('ModelProto');
    for (const bytes of [tok512, variant(REF.variants.keep_spaces), new Uint8Array(readFileSync(resolve(REPO, 'test/ref/spm_shakespeare.model')))]) {
      const want = ModelProto.toObject(ModelProto.decode(bytes), { defaults: true }) as any;
      const got = parseModelProto(bytes);
      expect(got.pieces).toEqual(want.pieces.map((p: any) => p.piece));
      expect(Array.from(got.scores)).toEqual(want.pieces.map((p: any) => p.score));
      expect(Array.from(got.types)).toEqual(want.pieces.map((p: any) => p.type));
      const t = want.trainer_spec, n = want.normalizer_spec;
      expect([got.modelType, got.byteFallback, got.treatWhitespaceAsSuffix, got.unkId, got.bosId, got.eosId, got.padId])
        .toEqual([t.model_type, t.byte_fallback, t.treat_whitespace_as_suffix, t.unk_id, t.bos_id, t.eos_id, t.pad_id]);
      // (protobufjs reads the octal escapes of the .proto default as Latin-1: compare only a stored unk_surface)
      const msg = ModelProto.decode(bytes) as any;
      expect(got.unkSurface).toBe(Object.hasOwn(msg.trainer_spec, 'unk_surface') ? msg.trainer_spec.unk_surface : ' \u2047 ');
      expect([got.normalizerName, got.charsmapBytes, got.addDummyPrefix, got.removeExtraWhitespaces, got.escapeWhitespaces])
        .toEqual([n.name, n.precompiled_charsmap.length, n.add_dummy_prefix, n.remove_extra_whitespaces, n.escape_whitespaces]);
    }
  });

  it('rejects truncated or unsupported models with InherituneErrors', async () => {
    // every truncation either parses (cut between pieces) or fails with an InherituneError, never anything else
    let failed = 0;
    for (let n = 0; n < tok512.length; n += 7) {
      try { parseModelProto(tok512.subarray(0, n)); } catch (e) { expect(e).toBeInstanceOf(InherituneError); failed++; }
    }
    expect(failed).toBeGreaterThan(500);
    await expectError(SentencePieceTokenizer.fromBytes(tok512.subarray(0, 7000)), /truncated or malformed: .* runs past the end/);
    await expectError(SentencePieceTokenizer.fromBytes(tok512.subarray(0, 100)), /truncated|no pieces|unk_id/);
    await expectError(SentencePieceTokenizer.fromBytes(new TextEncoder().encode('{"model": 1}')), /tokenizer.model/);
    await expectError(SentencePieceTokenizer.fromBytes(variant('12021801')), /SentencePiece Unigram model; only BPE/); // model_type = 1
    await expectError(SentencePieceTokenizer.fromBytes(variant('1a03120178')), /'identity' normalizer \(a 1-byte precompiled_charsmap\)/);
    await expectError(SentencePieceTokenizer.fromBytes(variant('1203c00101')), /treat_whitespace_as_suffix/); // field 24
    await expectError(SentencePieceTokenizer.fromBytes(variant('0a050a033c733e')), /piece "<s>" is defined twice \(ids 1 and 512\)/);
    await expectError(SentencePieceTokenizer.fromBytes(variant('0a')), /truncated or malformed/);
    await expectError(tokenizerFromFiles({ 'tokenizer.model': tok512 }, { vocabSize: 256 }), /has 512 tokens but the model's vocab_size is 256/);
    const tok = await SentencePieceTokenizer.fromBytes(tok512);
    expect(() => tok.decode([512])).toThrow(/id 512 at position 0 is not a piece/);
  });
});

describe('tokenizer.json, Llama style (tok512 as transformers LlamaConverter writes it)', () => {
  const json = new Uint8Array(readFileSync(resolve(REPO, 'test/ref/tok512_tokenizer.json')));
  const withMetaspace = (split: boolean) => {
    const j = JSON.parse(new TextDecoder().decode(json));
    j.normalizer = null;
    j.pre_tokenizer = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split };
    return new TextEncoder().encode(JSON.stringify(j));
  };

  const c0 = (tok: Tokenizer) => tok.encode('\u2581<s>Hi</s>', { splitSpecialTokens: true }).slice(1); // "<s>Hi</s>" as plain text

  it('gives the ids of sentencepiece with remove_extra_whitespaces off, and decodes them back', async () => {
    const tok = await tokenizerFromFiles({ 'tokenizer.json': json }, { splitSpecialTokens: true }); // as python sentencepiece
    expect([tok.kind, tok.vocabSize, tok.bos, tok.eos]).toEqual(['metaspace-bpe', 512, 1, 2]);
    for (const c of REF.cases) {
      const s = caseText(c);
      expect(tok.encode(s), JSON.stringify(s.slice(0, 40))).toEqual(c.ids.keep_spaces);
      if (!s.includes('\u2581')) expect(tok.decode(tok.encode(s))).toBe(wellFormed(s));
    }
    for (const f of REF.files.filter((x) => x.variant === 'keep_spaces')) expect(sha(tok.encode(text(f.file))), f.file).toBe(f.sha256);
    // each segment between special tokens is normalized on its own (HF: added tokens are split off first)
    expect(tok.encode('<s>Hi</s>', { splitSpecialTokens: false })).toEqual([1, ...tok.encode('Hi'), 2]);
    expect(tok.encode('<s>Hi</s>')).toEqual(c0(tok));
    expect(tok.decode([1, ...tok.encode('Hi'), 2])).toBe('<s> Hi</s>'); // HF decode: special tokens as their text
    expect(tok.decode([1, ...tok.encode('Hi'), 2], { skipSpecialTokens: true })).toBe('Hi');
  });

  it('with the Metaspace pre-tokenizer (split or not): the same ids, except that a leading space is not doubled', async () => {
    for (const split of [false, true]) {
      const tok = await tokenizerFromFiles({ 'tokenizer.json': withMetaspace(split) }, { splitSpecialTokens: true });
      for (const c of REF.cases) {
        const s = caseText(c);
        if (!s.startsWith(' ') && !s.startsWith('\u2581')) expect(tok.encode(s), JSON.stringify(s.slice(0, 40))).toEqual(c.ids.keep_spaces);
      }
      expect(tok.encode(' a')).toEqual([261]); // HF Metaspace: "▁a" already starts with "▁"; sentencepiece: [410, 261]
    }
  });
});

describe('tokenizerFromFiles', () => {
  it('picks the format by file name, and every tokenizer satisfies the Tokenizer interface', async () => {
    const all: Tokenizer[] = [
      await tokenizerFromFiles({ 'model/tok512.bin': shared('stories260k/tok512.bin') }, { vocabSize: 512 }),
      await tokenizerFromFiles({ 'tokenizer.model': shared('stories260k/tok512.model'), 'tokenizer.bin': shared('stories260k/tok512.bin') }),
      await tokenizerFromFiles(gpt2Files()),
    ];
    expect(all.map((t) => t.kind)).toEqual(['llama2c', 'sentencepiece', 'byte-bpe']);
    expect(all[0]).toBeInstanceOf(Llama2cTokenizer);
    for (const t of all) expect(t.decode(t.encode('Once upon a time'))).toBe('Once upon a time');
    // llama2.c's run.c and sentencepiece agree on tok512 where no extra whitespace is removed
    const s = text('tinystories-sample/tinystories_val.txt').slice(0, 20000).trimEnd();
    expect(all[0].encode(s)).toEqual(all[1].encode(s, { bos: true }));
    await expectError(tokenizerFromFiles({ 'tok512.bin': shared('stories260k/tok512.bin') }, { vocabSize: 1000 }), /vocab_size is 1000/);
  });

  it('takes BOS/EOS from tokenizer_config.json when given', async () => {
    const cfg = new TextEncoder().encode(JSON.stringify({ bos_token: { content: '<|endoftext|>' }, eos_token: 'Ġthe' }));
    const tok = await tokenizerFromFiles({ ...gpt2Files(), 'tokenizer_config.json': cfg });
    expect([tok.bos, tok.eos]).toEqual([50256, 262]);
    await expectError(tokenizerFromFiles({ ...gpt2Files(), 'tokenizer_config.json': new TextEncoder().encode('{') }), /tokenizer_config.json is not valid JSON/);
  });
});

describe('the built-in byte tokenizer', () => {
  it('its tokenizer.json loads through tokenizerFromFiles and encodes to exactly the UTF-8 bytes', async () => {
    const { tokenizerFromFiles: load } = await import('../src/tokenizers/load.js');
    const { ByteTokenizer, byteTokenizerJson } = await import('../src/tokenizers/bytes.js');
    const tok = await load({ 'tokenizer.json': new TextEncoder().encode(byteTokenizerJson()) });
    const text = 'Fulton County, "no evidence" — café 🙂\r\n\t  x';
    expect(tok.encode(text)).toEqual(new ByteTokenizer().encode(text));
    expect(tok.encode(text)).toEqual(Array.from(new TextEncoder().encode(text)));
    expect(tok.decode(tok.encode(text))).toBe(text);
  });
});
