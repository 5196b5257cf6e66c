// hfjson: a Hugging Face tokenizer.json of BPE type, as a BpeTokenizer (bpe.ts). Two families are read:
//   ByteLevel (GPT-2, GPT-NeoX, ...): pre_tokenizer ByteLevel with use_regex (GPT-2's regex), no normalizer.
//   Llama-style (SentencePiece converted by transformers' LlamaConverter): no pre-tokenizer and the normalizer
//     Sequence[Prepend("▁"), Replace(" ", "▁")] (legacy), or pre_tokenizer Metaspace (prepend_scheme, split);
//     model.byte_fallback, unk_token, fuse_unk; decoder Replace("▁", " ") + ByteFallback + Fuse + Strip(" ", 1).
// added_tokens are special tokens: text unless encode's allowedSpecial names them (tiktoken semantics, not
// HF's always-on matching). Anything else (WordPiece, Unigram, Split regexes, ...) is refused with a hint.
import { fail } from '../util/errors.js';
import { BpeTokenizer, parseJson, vocabFromJson } from './bpe.js';
import { ENDOFTEXT } from './encoding.js';

type Json = Record<string, any>;
const HINT = 'tokenizer.json files of BPE models with the ByteLevel (GPT-2 style) or Metaspace/byte-fallback ' +
  '(Llama style) pipeline are supported; pass vocab.json + merges.txt or tokenizer.model instead if the model has them';

/** The normalizers we implement, as one string -> string function (HF applies them to each non-special segment). */
function normalizerFn(n: Json | null, name: string): ((s: string) => string) | null {
  if (!n) return null;
  switch (n.type) {
    case 'Sequence': {
      const fs = (n.normalizers as Json[] ?? []).map((x) => normalizerFn(x, name)!).filter(Boolean);
      return (s) => fs.reduce((acc, f) => f(acc), s);
    }
    case 'Prepend': return (s) => s.length ? n.prepend + s : s;
    case 'Replace': {
      const pat = n.pattern ?? {};
      if (typeof pat.String === 'string') return (s) => s.replaceAll(pat.String, n.content);
      if (typeof pat.Regex === 'string') {
        let re: RegExp;
        try { re = new RegExp(pat.Regex, 'gu'); } catch { fail(`${name}: normalizer Replace regex ${JSON.stringify(pat.Regex)} is not a JavaScript regex`, HINT); }
        return (s) => s.replace(re, n.content);
      }
      return fail(`${name}: normalizer Replace without a pattern`, HINT);
    }
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': return (s) => s.normalize(n.type);
    case 'Lowercase': return (s) => s.toLowerCase();
    default: return fail(`${name}: normalizer '${n.type}' is not supported`, HINT);
  }
}

/** Word ends (UTF-16) of Metaspace's split: each "▁" starts a new word (SplitDelimiterBehavior::MergedWithNext). */
function metaspaceEnds(s: string, rep: string): number[] {
  const ends: number[] = [];
  for (let i = s.indexOf(rep, 1); i > 0; i = s.indexOf(rep, i + 1)) ends.push(i);
  ends.push(s.length);
  return ends;
}

export async function bpeFromTokenizerJson(bytes: Uint8Array, name = 'tokenizer.json',
  want: { bos?: string; eos?: string } = {}): Promise<BpeTokenizer> {
  const j = parseJson(bytes, name, `pass the ${name} of a Hugging Face tokenizer (it may be truncated)`) as Json;
  if (!j || typeof j !== 'object' || !j.model || typeof j.model !== 'object') {
    fail(`${name} has no "model" object: not a Hugging Face tokenizer.json`, HINT);
  }
  const model = j.model as Json;
  if ((model.type ?? 'BPE') !== 'BPE' || !model.merges) fail(`${name}: model type '${model.type}' is not BPE`, HINT);
  if (model.continuing_subword_prefix || model.end_of_word_suffix) {
    fail(`${name}: BPE with continuing_subword_prefix/end_of_word_suffix is not supported`, HINT);
  }
  const vocab = vocabFromJson(model.vocab, `${name} model.vocab`);
  if (!Array.isArray(model.merges)) fail(`${name}: model.merges is not a list`, HINT);
  const merges = (model.merges as unknown[]).map((m, i): [string, string] => {
    const parts = typeof m === 'string' ? m.split(' ') : m;
    if (!Array.isArray(parts) || parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string') {
      fail(`${name}: model.merges[${i}] (${JSON.stringify(m)?.slice(0, 40)}) is not "left right" or [left, right]`, HINT);
    }
    return [parts[0], parts[1]];
  });
  const specials = new Map<string, number>();
  for (const t of (j.added_tokens ?? []) as Json[]) {
    if (typeof t?.content !== 'string' || !Number.isInteger(t?.id)) fail(`${name}: an added_tokens entry has no content/id`, HINT);
    specials.set(t.content, t.id);
  }
  const idOf = (t: string | undefined) => t === undefined ? null : specials.get(t) ?? vocab.get(t) ?? null;

  // ByteLevel: the pre-tokenizer, alone or in a Sequence of one
  const pre = j.pre_tokenizer as Json | null;
  const pres: Json[] = !pre ? [] : pre.type === 'Sequence' ? pre.pretokenizers : [pre];
  const byteLevel = pres.find((p) => p.type === 'ByteLevel');
  if (byteLevel) {
    if (pres.length !== 1) fail(`${name}: pre_tokenizer ${pres.map((p) => p.type).join(' + ')} is not supported`, HINT);
    if (byteLevel.use_regex === false) fail(`${name}: ByteLevel without its regex (use_regex: false) is not supported`, HINT);
    if (j.normalizer) fail(`${name}: a normalizer ('${j.normalizer.type}') before ByteLevel is not supported`, HINT);
    return BpeTokenizer.create({
      name, vocab, merges, byteLevel: true, specials, addPrefixSpace: byteLevel.add_prefix_space === true,
      bos: idOf(want.bos) ?? idOf(ENDOFTEXT), eos: idOf(want.eos) ?? idOf(ENDOFTEXT),
    });
  }
  // Llama style: characters, "▁" for spaces, byte fallback
  if (pres.length > 1 || (pres.length === 1 && pres[0].type !== 'Metaspace')) {
    fail(`${name}: pre_tokenizer ${pres.map((p) => p.type).join(' + ')} is not supported`, HINT);
  }
  const norm = normalizerFn(j.normalizer ?? null, name);
  const meta = pres[0];
  const rep: string = meta?.replacement ?? '\u2581';
  const scheme: string = meta ? (meta.prepend_scheme ?? (meta.add_prefix_space === false ? 'never' : 'always')) : 'never';
  // no merge makes a token with "▁" after its first character: then each "▁word" can be merged on its own
  // (same ids, and the word cache works), whatever the pre-tokenizer says
  const splitSafe = vocab.has(rep) && !merges.some(([a, b]) => (a + b).indexOf(rep, 1) > 0);
  const split = (meta ? meta.split !== false : false) || splitSafe;
  const prependsByNormalizer = norm !== null && norm('x') !== 'x' && norm('x').endsWith('x');
  const unkId = typeof model.unk_token === 'string' ? idOf(model.unk_token) ?? -1 : -1;
  return BpeTokenizer.create({
    name, vocab, merges, byteLevel: false, specials, byteFallback: model.byte_fallback === true, unkId,
    fuseUnk: model.fuse_unk === true,
    stripLeadingSpace: prependsByNormalizer || scheme !== 'never', prefixByNormalizer: prependsByNormalizer,
    bos: idOf(want.bos) ?? idOf('<s>'), eos: idOf(want.eos) ?? idOf('</s>'),
    prepare: (text, first) => {
      let s = norm ? norm(text) : text;
      if (meta) {
        s = s.replaceAll(' ', rep);
        if ((scheme === 'always' || (scheme === 'first' && first)) && s.length && !s.startsWith(rep)) s = rep + s;
      }
      return { text: s, ends: split ? metaspaceEnds(s, rep) : null };
    },
  });
}
