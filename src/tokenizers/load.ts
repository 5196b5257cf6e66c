// tokenizers/load: one interface over every tokenizer format, and tokenizerFromFiles choosing the format by the
// names of the files given (a model directory's tokenizer files, as { name: bytes }):
//   tokenizer.json              HF: BPE with ByteLevel (GPT-2 style) or Llama-style Metaspace / byte fallback
//   tokenizer.model             SentencePiece BPE ModelProto (sentencepiece.ts)
//   vocab.json + merges.txt     HF GPT-2 byte-level BPE
//   encoder.json + vocab.bpe    OpenAI GPT-2 byte-level BPE (same vocabulary, OpenAI's file names)
//   tokenizer.bin / tok*.bin    llama2.c (llama2c.ts)
// tokenizer_config.json, when given, names the BOS/EOS tokens (bos_token, eos_token); with vocab.json + merges.txt
// its bos/eos/unk/pad tokens and added_tokens_decoder are the added tokens, as transformers' GPT2Tokenizer reads
// them (<|endoftext|> when there is no config). Special tokens in text become their ids (added.ts) unless
// splitSpecialTokens; llama2.c's tokenizer.bin matches none (run.c).
import { fail } from '../util/errors.js';
import { bad, int, isObject, obj, optBool, show, str, type Src } from '../util/check.js';
import { Llama2cTokenizer } from './llama2c.js';
import { BpeTokenizer, parseJson, vocabFromJson, mergesFromText } from './bpe.js';
import { SentencePieceTokenizer } from './sentencepiece.js';
import { ENDOFTEXT } from './encoding.js';
import { bpeFromTokenizerJson } from './hfjson.js';
import type { AddedToken } from './added.js';

export type { EncodeOptions, DecodeOptions, Tokenizer } from './types.js';
export type { AddedToken } from './added.js';
import type { Tokenizer } from './types.js';
export { ENDOFTEXT } from './encoding.js';

/** the file names tokenizerFromFiles reads; tok<V>.bin / tokenizer.bin are llama2.c's */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer.model', 'vocab.json', 'merges.txt', 'encoder.json', 'vocab.bpe',
  'tokenizer_config.json', 'tokenizer.bin'];
export const isTokenizerBin = (f: string) => f === 'tokenizer.bin' || /^tok.*\.bin$/.test(f);
export const isTokenizerFile = (f: string) => TOKENIZER_FILES.includes(f) || isTokenizerBin(f);

const FILES_HINT = 'pass the tokenizer files of a model directory: tokenizer.json, tokenizer.model, ' +
  'vocab.json + merges.txt, encoder.json + vocab.bpe, or a llama2.c tokenizer.bin';

interface ConfigTokens { bos?: string; eos?: string; from?: string; named: (string | null | undefined)[]; decoder: AddedToken[] }

/**
 * bos_token / eos_token (and unk/pad) of a tokenizer_config.json: a string, an AddedToken object ({content}),
 * or null; and its added_tokens_decoder ({"id": {content, special, lstrip, rstrip, single_word, normalized}}).
 */
function configTokens(files: Record<string, Uint8Array>): ConfigTokens {
  const bytes = files['tokenizer_config.json'];
  if (!bytes) return { named: [], decoder: [] };
  const src: Src = { file: 'tokenizer_config.json', hint: 'pass the tokenizer_config.json of the same model, or leave it out' };
  const cfg = obj(src, 'the top level', parseJson(bytes, src.file, src.hint));
  const name = (k: string): string | undefined => {
    const v = cfg[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (isObject(v)) return str(src, `${k}.content`, v.content);
    return bad(src, k, v, 'a token string, an object with a string "content", or null');
  };
  const named = ['bos_token', 'eos_token', 'unk_token', 'pad_token'].map((k) => cfg[k] === null ? null : name(k));
  const decoder: ConfigTokens['decoder'] = [];
  const dec = cfg.added_tokens_decoder === undefined || cfg.added_tokens_decoder === null ? {} : obj(src, 'added_tokens_decoder', cfg.added_tokens_decoder);
  for (const [k, v] of Object.entries(dec)) {
    const f = `added_tokens_decoder.${k}`, t = obj(src, f, v);
    const id = int(src, f, /^\d+$/.test(k) ? Number(k) : k, 0, 1 << 24, 'a token id (a key of digits)');
    const flag = (n: string) => optBool(src, `${f}.${n}`, t[n]);
    const special = flag('special') === true;
    decoder.push({ id, content: str(src, `${f}.content`, t.content), special, lstrip: flag('lstrip') === true, rstrip: flag('rstrip') === true,
      singleWord: flag('single_word') === true, normalized: flag('normalized') ?? !special });
  }
  return { bos: name('bos_token'), eos: name('eos_token'), from: src.file, named, decoder };
}

function checkVocabSize(tok: Tokenizer, vocabSize: number | undefined, name: string): Tokenizer {
  if (vocabSize !== undefined && tok.vocabSize > vocabSize) {
    fail(`${name} has ${tok.vocabSize} tokens but the model's vocab_size is ${vocabSize}`,
      "use the tokenizer of this model (a model's vocab_size may be padded above the tokenizer's, never below)");
  }
  return tok;
}

/**
 * A tokenizer from a model's tokenizer files ({ file name: bytes }; directories are stripped from names).
 * With vocabSize (the model's vocab_size) it checks that every id fits the model (llama2.c: exactly).
 */
export async function tokenizerFromFiles(files: Record<string, Uint8Array>,
  opts: { vocabSize?: number; splitSpecialTokens?: boolean } = {}): Promise<Tokenizer> {
  const byName: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(files)) byName[k.slice(k.lastIndexOf('/') + 1)] = v;
  const names = Object.keys(byName);
  const want = configTokens(byName);
  if (byName['tokenizer.json']) {
    const tok = await bpeFromTokenizerJson(byName['tokenizer.json'], 'tokenizer.json', { ...want, splitSpecialTokens: opts.splitSpecialTokens });
    return checkVocabSize(tok, opts.vocabSize, 'tokenizer.json');
  }
  if (byName['tokenizer.model']) {
    const tok = await SentencePieceTokenizer.fromBytes(byName['tokenizer.model'], 'tokenizer.model');
    tok.splitSpecialTokens = opts.splitSpecialTokens ?? false;
    return checkVocabSize(tok, opts.vocabSize, 'tokenizer.model');
  }
  const pair = byName['vocab.json'] && byName['merges.txt'] ? ['vocab.json', 'merges.txt'] :
    byName['encoder.json'] && byName['vocab.bpe'] ? ['encoder.json', 'vocab.bpe'] : null;
  if (pair) {
    const [v, m] = pair;
    const name = `${v} + ${m}`;
    const vocab = vocabFromJson(parseJson(byName[v], v, `pass the ${v} of a GPT-2 style BPE tokenizer`), v);
    const merges = mergesFromText(byName[m], m);
    const id = (t: string | undefined) => t !== undefined && vocab.has(t) ? vocab.get(t)! : null;
    // added tokens: transformers' GPT2Tokenizer makes <|endoftext|> its unk/bos/eos (special) unless the config names
    // others; the config's added_tokens_decoder adds its own, with their flags
    const added = new Map<string, AddedToken>();
    for (const t of want.decoder) {
      if (vocab.has(t.content) && vocab.get(t.content) !== t.id) {
        fail(`tokenizer_config.json: added_tokens_decoder gives ${show(t.content)} the id ${t.id}, but ${v} gives it ${vocab.get(t.content)}`,
          `pass the tokenizer_config.json of the same model`);
      }
      added.set(t.content, t);
    }
    // bos/eos/unk left out of the config: GPT2Tokenizer's default <|endoftext|>; null: none
    for (const t of want.named.length ? want.named.map((n, i) => n === undefined && i < 3 ? ENDOFTEXT : n) : [ENDOFTEXT]) {
      if (t && !added.has(t) && vocab.has(t)) added.set(t, { content: t, id: vocab.get(t)!, special: true });
    }
    for (const k of ['bos', 'eos'] as const) {
      if (want[k] !== undefined && id(want[k]) === null) {
        fail(`tokenizer_config.json: ${k}_token ${show(want[k])} is not a token of ${v}`,
          `pass the tokenizer_config.json of the same model (or set ${k}_token to a token of its vocabulary, or to null)`);
      }
    }
    const tok = await BpeTokenizer.create({
      name, vocab, merges, byteLevel: true, added: [...added.values()], splitSpecialTokens: opts.splitSpecialTokens,
      bos: id(want.bos) ?? id(ENDOFTEXT), eos: id(want.eos) ?? id(ENDOFTEXT),
    });
    return checkVocabSize(tok, opts.vocabSize, name);
  }
  const bin = names.find((n) => n === 'tokenizer.bin') ?? names.find(isTokenizerBin);
  if (bin) return Llama2cTokenizer.fromBytes(byName[bin], { vocabSize: opts.vocabSize, name: bin });
  const half = byName['vocab.json'] ? 'vocab.json without merges.txt' : byName['merges.txt'] ? 'merges.txt without vocab.json' :
    byName['encoder.json'] ? 'encoder.json without vocab.bpe' : byName['vocab.bpe'] ? 'vocab.bpe without encoder.json' : null;
  fail(half ? `tokenizer files: ${half}` : `no tokenizer among the files given (${names.join(', ') || 'none'})`, FILES_HINT);
}
