// hfjson: a Hugging Face tokenizer.json of BPE type, as a BpeTokenizer (bpe.ts). Two families are read:
//   ByteLevel (GPT-2, GPT-NeoX, ...): pre_tokenizer ByteLevel with use_regex (GPT-2's regex), no normalizer.
//   Llama-style (SentencePiece converted by transformers' LlamaConverter): no pre-tokenizer and the normalizer
//     Sequence[Prepend("▁"), Replace(" ", "▁")] (legacy), or pre_tokenizer Metaspace (prepend_scheme, split);
//     model.byte_fallback, unk_token, fuse_unk; decoder Replace("▁", " ") + ByteFallback + Fuse + Strip(" ", 1).
// added_tokens (special or not, with their lstrip/rstrip/single_word/normalized flags) are found in the text first,
// as HF does (added.ts), and the normalizer runs on the text between them; encode's splitSpecialTokens leaves the
// special ones as text. Anything else (WordPiece, Unigram, Split regexes, ...) is refused with a hint.
// Every field read is checked for its type and range first (src/util/check.ts), before anything is allocated
// for the vocabulary; normalizer regexes run on RE2 (normalizers.ts).
import { fail } from '../util/errors.js';
import { arr, bad, int, obj, oneOf, optBool, optObj, optStr, show, str, type Src } from '../util/check.js';
import { BpeTokenizer, MAX_VOCAB, parseJson, vocabFromJson } from './bpe.js';
import { ENDOFTEXT } from './encoding.js';
import { normalizerFn } from './normalizers.js';
import type { AddedToken } from './added.js';

type Json = Record<string, unknown>;
const HINT = 'tokenizer.json files of BPE models with the ByteLevel (GPT-2 style) or Metaspace/byte-fallback ' +
  '(Llama style) pipeline are supported; pass vocab.json + merges.txt or tokenizer.model instead if the model has them';
/** the fix for a field of the wrong type or out of range: the file is damaged */
const FIX = 'the file is corrupt or was edited by hand: fetch the model\'s tokenizer.json again, or write it anew with ' +
  'Hugging Face tokenizers (tokenizer.save("tokenizer.json"))';

/** Word ends (UTF-16) of Metaspace's split: each "▁" starts a new word (SplitDelimiterBehavior::MergedWithNext). */
function metaspaceEnds(s: string, rep: string): number[] {
  const ends: number[] = [];
  for (let i = s.indexOf(rep, 1); i > 0; i = s.indexOf(rep, i + 1)) ends.push(i);
  ends.push(s.length);
  return ends;
}

/** model.merges: "left right" strings or [left, right] pairs, both sides non-empty */
function readMerges(src: Src, v: unknown): [string, string][] {
  return arr(src, 'model.merges', v).map((m, i): [string, string] => {
    const parts = typeof m === 'string' ? m.split(' ') : m;
    if (!Array.isArray(parts) || parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string' ||
      !parts[0] || !parts[1]) bad(src, `model.merges[${i}]`, m, 'a merge "left right" or [left, right]');
    return [parts[0], parts[1]];
  });
}

/**
 * added_tokens: [{id, content, ...}]. HF gives an added token that is in the vocabulary the vocabulary's id, and
 * a new one the next id after the vocabulary: so an id must agree with model.vocab and lie below
 * (vocabulary size + number of added tokens).
 */
function readAddedTokens(src: Src, v: unknown, vocab: Map<string, number>): { specials: Map<string, number>; added: AddedToken[] } {
  const list = v === undefined || v === null ? [] : arr(src, 'added_tokens', v);
  let space = vocab.size;
  for (const id of vocab.values()) space = Math.max(space, id + 1);
  const limit = Math.min(MAX_VOCAB, space + list.length);
  const byId = new Map<number, string>();
  for (const [t, id] of vocab) byId.set(id, t);
  const specials = new Map<string, number>(), taken = new Map<number, string>(), added: AddedToken[] = [];
  list.forEach((x, i) => {
    const f = `added_tokens[${i}]`;
    const t = obj(src, f, x);
    const content = str(src, `${f}.content`, t.content, true);
    const id = int(src, `${f}.id`, t.id, 0, limit, `a token id in 0..${limit - 1} (the vocabulary has ${space} ids, plus ${list.length} added tokens)`);
    const [special, singleWord, lstrip, rstrip, normalized] = ['special', 'single_word', 'lstrip', 'rstrip', 'normalized'].map((k) => optBool(src, `${f}.${k}`, t[k]));
    const inVocab = vocab.get(content), other = byId.get(id);
    if (inVocab !== undefined && inVocab !== id) fail(`${src.file}: ${f} gives ${show(content)} the id ${id}, but model.vocab gives it ${inVocab}`, src.hint);
    if (other !== undefined && other !== content) fail(`${src.file}: ${f} (${show(content)}) has the id ${id}, which model.vocab gives to ${show(other)}`, src.hint);
    if (specials.has(content) && specials.get(content) !== id) fail(`${src.file}: ${f}: ${show(content)} is added twice, with ids ${specials.get(content)} and ${id}`, src.hint);
    if (taken.has(id) && taken.get(id) !== content) fail(`${src.file}: ${f}: the id ${id} is given to ${show(taken.get(id))} and to ${show(content)}`, src.hint);
    if (!specials.has(content)) {
      // HF's defaults for a field left out (transformers.js: special false, normalized = !special)
      added.push({ content, id, special: special === true, lstrip: lstrip === true, rstrip: rstrip === true, singleWord: singleWord === true,
        normalized: normalized ?? special !== true });
    }
    specials.set(content, id);
    taken.set(id, content);
  });
  return { specials, added };
}

/** the pre-tokenizers, alone or in a Sequence (of objects) */
function readPreTokenizers(src: Src, v: unknown): Json[] {
  const pre = optObj(src, 'pre_tokenizer', v);
  if (!pre) return [];
  const type = str(src, 'pre_tokenizer.type', pre.type);
  if (type !== 'Sequence') return [pre];
  return arr(src, 'pre_tokenizer.pretokenizers', pre.pretokenizers).map((p, i) => {
    const o = obj(src, `pre_tokenizer.pretokenizers[${i}]`, p);
    str(src, `pre_tokenizer.pretokenizers[${i}].type`, o.type);
    return o;
  });
}

export async function bpeFromTokenizerJson(bytes: Uint8Array, name = 'tokenizer.json',
  want: { bos?: string; eos?: string; from?: string; splitSpecialTokens?: boolean } = {}): Promise<BpeTokenizer> {
  const src: Src = { file: name, hint: FIX };
  const j = parseJson(bytes, name, `pass the ${name} of a Hugging Face tokenizer (it may be truncated)`);
  if (!j || typeof j !== 'object' || Array.isArray(j) || !(j as Json).model || typeof (j as Json).model !== 'object') {
    fail(`${name} has no "model" object: not a Hugging Face tokenizer.json`, HINT);
  }
  const model = obj(src, 'model', (j as Json).model);
  const type = model.type === undefined ? 'BPE' : str(src, 'model.type', model.type);
  if (type !== 'BPE') fail(`${name}: model type '${type.slice(0, 40)}' is not BPE`, HINT);
  for (const k of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (optStr(src, `model.${k}`, model[k])) fail(`${name}: BPE with continuing_subword_prefix/end_of_word_suffix is not supported`, HINT);
  }
  if (model.dropout !== undefined && model.dropout !== null) {
    const d = model.dropout;
    if (typeof d !== 'number' || !(d >= 0 && d <= 1)) bad(src, 'model.dropout', d, 'null or a number in 0..1');
    if (d > 0) fail(`${name}: model.dropout is ${d}: BPE dropout (random merges) is not supported`, 'set model.dropout to null for inference');
  }
  if (optBool(src, 'model.ignore_merges', model.ignore_merges)) fail(`${name}: model.ignore_merges = true is not supported`, HINT);
  const byteFallback = optBool(src, 'model.byte_fallback', model.byte_fallback) === true;
  const fuseUnk = optBool(src, 'model.fuse_unk', model.fuse_unk) === true;
  const unkToken = optStr(src, 'model.unk_token', model.unk_token);
  const vocab = vocabFromJson(obj(src, 'model.vocab', model.vocab), `${name} model.vocab`);
  const merges = readMerges(src, model.merges);
  const { specials, added } = readAddedTokens(src, (j as Json).added_tokens, vocab);
  const idOf = (t: string | null | undefined) => t === undefined || t === null ? null : specials.get(t) ?? vocab.get(t) ?? null;
  // tokenizer_config.json's bos_token/eos_token must name tokens of this file
  for (const k of ['bos', 'eos'] as const) {
    if (want[k] !== undefined && idOf(want[k]) === null) {
      fail(`${want.from ?? 'tokenizer_config.json'}: ${k}_token ${show(want[k])} is not a token of ${name}`,
        `pass the tokenizer_config.json of the same model (or set ${k}_token to a token of its vocabulary, or to null)`);
    }
  }
  if (unkToken !== null && idOf(unkToken) === null) fail(`${name}: model.unk_token ${show(unkToken)} is not in model.vocab or added_tokens`, HINT);

  const pres = readPreTokenizers(src, (j as Json).pre_tokenizer);
  const byteLevel = pres.find((p) => p.type === 'ByteLevel');
  if (byteLevel) {
    if (pres.length !== 1) fail(`${name}: pre_tokenizer ${pres.map((p) => p.type).join(' + ')} is not supported`, HINT);
    const f = 'pre_tokenizer' + ((j as Json).pre_tokenizer === byteLevel ? '' : '.pretokenizers[0]');
    const addPrefixSpace = optBool(src, `${f}.add_prefix_space`, byteLevel.add_prefix_space) === true;
    optBool(src, `${f}.trim_offsets`, byteLevel.trim_offsets);
    if (optBool(src, `${f}.use_regex`, byteLevel.use_regex) === false) fail(`${name}: ByteLevel without its regex (use_regex: false) is not supported`, HINT);
    const norm = optObj(src, 'normalizer', (j as Json).normalizer);
    if (norm) fail(`${name}: a normalizer (${show(norm.type)}) before ByteLevel is not supported`, HINT);
    return BpeTokenizer.create({
      name, vocab, merges, byteLevel: true, added, addPrefixSpace, splitSpecialTokens: want.splitSpecialTokens,
      bos: idOf(want.bos) ?? idOf(ENDOFTEXT), eos: idOf(want.eos) ?? idOf(ENDOFTEXT),
    });
  }
  // Llama style: characters, "▁" for spaces, byte fallback
  if (pres.length > 1 || (pres.length === 1 && pres[0].type !== 'Metaspace')) {
    fail(`${name}: pre_tokenizer ${pres.map((p) => String(p.type).slice(0, 40)).join(' + ')} is not supported`, HINT);
  }
  const norm = normalizerFn(src, 'normalizer', (j as Json).normalizer);
  const meta = pres[0];
  const mf = 'pre_tokenizer' + ((j as Json).pre_tokenizer === meta ? '' : '.pretokenizers[0]');
  const rep = meta?.replacement === undefined ? '\u2581' : str(src, `${mf}.replacement`, meta.replacement);
  if ([...rep].length !== 1 || /^[\ud800-\udfff]$/.test(rep)) bad(src, `${mf}.replacement`, rep, 'one character (HF: a char), such as "▁"');
  let scheme: 'always' | 'never' | 'first' = 'never';
  if (meta) {
    const aps = optBool(src, `${mf}.add_prefix_space`, meta.add_prefix_space);
    scheme = meta.prepend_scheme === undefined || meta.prepend_scheme === null ? (aps === false ? 'never' : 'always')
      : oneOf(src, `${mf}.prepend_scheme`, meta.prepend_scheme, ['always', 'never', 'first'] as const);
  }
  const metaSplit = meta ? optBool(src, `${mf}.split`, meta.split) !== false : false;
  // no merge makes a token with "▁" after its first character: then each "▁word" can be merged on its own
  // (same ids, and the word cache works), whatever the pre-tokenizer says
  const splitSafe = vocab.has(rep) && !merges.some(([a, b]) => (a + b).indexOf(rep, 1) > 0);
  const split = metaSplit || splitSafe;
  const prependsByNormalizer = norm !== null && norm('x') !== 'x' && norm('x').endsWith('x');
  const unkId = unkToken !== null ? idOf(unkToken)! : -1;
  return BpeTokenizer.create({
    name, vocab, merges, byteLevel: false, added, byteFallback, unkId, fuseUnk, normalize: norm, splitSpecialTokens: want.splitSpecialTokens,
    stripLeadingSpace: prependsByNormalizer || scheme !== 'never', prefixByNormalizer: prependsByNormalizer,
    bos: idOf(want.bos) ?? idOf('<s>'), eos: idOf(want.eos) ?? idOf('</s>'),
    prepare: (text, first) => { // text: normalized (added.ts)
      let s = text;
      if (meta) {
        s = s.replaceAll(' ', rep);
        if ((scheme === 'always' || (scheme === 'first' && first)) && s.length && !s.startsWith(rep)) s = rep + s;
      }
      return { text: s, ends: split ? metaspaceEnds(s, rep) : null };
    },
  });
}
