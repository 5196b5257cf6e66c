// tokenizers/export: the tokenizer files the Hugging Face stack reads, written from whatever tokenizer a
// model came with, so every directory the package writes loads in transformers / transformers.js:
//   tokenizer.json            HF tokenizers format, converted as transformers' convert_slow_tokenizer.py does:
//                             GPT-2 files -> ByteLevel BPE (GPT2Converter); a SentencePiece BPE tokenizer.model
//                             or a llama2.c tokenizer.bin -> "legacy" Llama BPE (LlamaConverter: normalizer
//                             Prepend("▁") + Replace(" ", "▁"), byte fallback, merges from the pieces ordered by
//                             score; from a .bin the pieces keep run.c's " " for spaces, merges as [left, right]
//                             pairs, so a literal "▁" in text stays its own character as in run.c). SentencePiece's remove_extra_whitespaces becomes regex Replaces around them
//                             (U+0020 only, as normalizer.cc), which the llama2.c encoder never applies.
//   tokenizer_config.json     tokenizer_class, bos/eos/unk tokens, add_bos_token, model_max_length
//   special_tokens_map.json   bos/eos/unk
//   generation_config.json    bos_token_id / eos_token_id
//   vocab.json + merges.txt   GPT-2 sources (GPT2Tokenizer's names for OpenAI's encoder.json + vocab.bpe)
// Files the source already has are kept as they are (a non-BPE tokenizer.model gets only the config files... none:
// transformers reads it as it is). The package reads every converted tokenizer.json to the
// same ids as its source (test/tokenizer_export.test.ts).
import { parseJson, vocabFromJson, mergesFromText } from './bpe.js';
import { parseModelProto, PieceType } from './sentencepiece.js';
import { readLlama2cPieces } from './llama2c.js';
import { isTokenizerBin } from './load.js';

type Json = Record<string, unknown>;
const META = '\u2581';
const enc = new TextEncoder();
const json = (x: unknown) => enc.encode(JSON.stringify(x, null, 2) + '\n');

interface Special { content: string; id: number; special: boolean }
interface Converted { tokenizer: Json; cls: string; bos: Special | null; eos: Special | null; unk: Special | null; addBos: boolean; extra?: Record<string, Uint8Array> }

/**
 * The source's tokenizer files plus the HF files it lacks; maxLength: model_max_length (the model's
 * positions). Without any tokenizer file, nothing is added.
 */
export function hfTokenizerFiles(src: Record<string, Uint8Array>, maxLength: number): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = { ...src };
  const c = convert(src);
  if (!c) return out;
  if (!src['tokenizer.json']) out['tokenizer.json'] = json(c.tokenizer);
  Object.assign(out, c.extra ?? {});
  const tok = (s: Special | null) => s?.content ?? null;
  if (!src['tokenizer_config.json']) {
    const decoder: Record<string, Json> = {};
    for (const s of [c.unk, c.bos, c.eos]) if (s) decoder[s.id] = { content: s.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
    out['tokenizer_config.json'] = json({
      tokenizer_class: c.cls, bos_token: tok(c.bos), eos_token: tok(c.eos), unk_token: tok(c.unk), pad_token: null,
      add_bos_token: c.addBos, add_eos_token: false, clean_up_tokenization_spaces: false, model_max_length: maxLength,
      ...(c.cls === 'GPT2Tokenizer' ? { add_prefix_space: false } : { legacy: true }), added_tokens_decoder: decoder,
    });
  }
  if (!src['special_tokens_map.json']) {
    out['special_tokens_map.json'] = json(Object.fromEntries([['bos_token', c.bos], ['eos_token', c.eos], ['unk_token', c.unk]]
      .filter(([, s]) => s).map(([k, s]) => [k, { content: (s as Special).content, lstrip: false, normalized: false, rstrip: false, single_word: false }])));
  }
  if (!src['generation_config.json']) out['generation_config.json'] = json({ bos_token_id: c.bos?.id ?? null, eos_token_id: c.eos?.id ?? null });
  return out;
}

function convert(src: Record<string, Uint8Array>): Converted | null {
  const names = Object.keys(src);
  const bin = names.find(isTokenizerBin);
  // the package's own precedence: a llama2.c .bin (what the model was trained with), then tokenizer.json
  if (bin) return fromLlama2c(src[bin], bin);
  if (src['tokenizer.json']) return fromTokenizerJson(src['tokenizer.json']);
  if (src['tokenizer.model']) return fromSentencePiece(src['tokenizer.model']);
  const v = src['vocab.json'] ? ['vocab.json', 'merges.txt'] : src['encoder.json'] ? ['encoder.json', 'vocab.bpe'] : null;
  if (v && src[v[1]]) return fromGpt2(src[v[0]], src[v[1]], v[0], v[1]);
  return null;
}

// ---- GPT-2: ByteLevel BPE, as GPT2Converter ----

function fromGpt2(vocabBytes: Uint8Array, mergesBytes: Uint8Array, vocabName: string, mergesName: string): Converted {
  const vocab = vocabFromJson(parseJson(vocabBytes, vocabName, 'pass the vocabulary of the same GPT-2 tokenizer'), vocabName);
  const merges = mergesFromText(mergesBytes, mergesName);
  const eotId = vocab.get('<|endoftext|>');
  const eot: Special | null = eotId === undefined ? null : { content: '<|endoftext|>', id: eotId, special: true };
  const byteLevel = (prefix: boolean, trim: boolean) => ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: trim, use_regex: true });
  const mergesText = ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`), ''].join('\n');
  return {
    cls: 'GPT2Tokenizer', bos: eot, eos: eot, unk: eot, addBos: false,
    tokenizer: {
      version: '1.0', truncation: null, padding: null, added_tokens: eot ? [addedToken(eot, true)] : [],
      normalizer: null, pre_tokenizer: byteLevel(false, true), post_processor: byteLevel(true, false), decoder: byteLevel(true, true),
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false,
        byte_fallback: false, ignore_merges: false, vocab: Object.fromEntries(vocab), merges: mergeList(merges) },
    },
    extra: { 'vocab.json': vocabBytes, 'merges.txt': enc.encode(mergesText) },
  };
}

// ---- SentencePiece-style BPE (a tokenizer.model or a llama2.c tokenizer.bin), as LlamaConverter (legacy) ----

interface Piece { text: string; score: number; kind: 'normal' | 'byte' | 'special' | 'user' }

// space: the character pieces spell a space with: "▁" (SentencePiece), or " " itself (llama2.c's pieces, so a
// literal "▁" in the text stays a character of its own, as in run.c)
function llamaStyle(pieces: Piece[], unk: Special | null, bos: Special | null, eos: Special | null, byteFallback: boolean,
                    removeExtraWhitespaces: boolean, cls: string, space = META): Converted {
  const vocab = new Map<string, number>();
  pieces.forEach((p, i) => { if (!vocab.has(p.text)) vocab.set(p.text, i); });
  // merges: every split of a mergeable piece into two mergeable pieces, by the piece's score (highest first),
  // within a piece by the ids of its halves (SentencePieceExtractor.extract)
  const mergeable = (t: string) => { const id = vocab.get(t); return id !== undefined && (pieces[id].kind === 'normal' || pieces[id].kind === 'user'); };
  const found: { l: string; r: string; score: number; order: number }[] = [];
  pieces.forEach((p, id) => {
    if (p.kind !== 'normal' && p.kind !== 'user') return;
    const cps = Array.from(p.text), local: { l: string; r: string }[] = [];
    for (let k = 1; k < cps.length; k++) {
      const l = cps.slice(0, k).join(''), r = cps.slice(k).join('');
      if (mergeable(l) && mergeable(r)) local.push({ l, r });
    }
    local.sort((a, b) => vocab.get(a.l)! - vocab.get(b.l)! || vocab.get(a.r)! - vocab.get(b.r)!);
    for (const m of local) found.push({ ...m, score: p.score, order: id });
  });
  found.sort((a, b) => b.score - a.score || a.order - b.order);
  const re = (pattern: string, content: string) => ({ type: 'Replace', pattern: { Regex: pattern }, content });
  // SentencePiece's remove_extra_whitespaces (normalizer.cc): leading spaces go and runs become one, before
  // the dummy prefix; trailing "▁" go after escaping (a literal "▁" in the text too)
  const normalizers = [
    ...(removeExtraWhitespaces ? [re('^ +', ''), re(' {2,}', ' ')] : []),
    { type: 'Prepend', prepend: space }, ...(space !== ' ' ? [{ type: 'Replace', pattern: { String: ' ' }, content: space }] : []),
    ...(removeExtraWhitespaces ? [re(`${space}+$`, '')] : []),
  ];
  const specials = [unk, bos, eos].filter((s): s is Special => s !== null);
  const user = pieces.flatMap((p, id) => (p.kind === 'user' ? [{ content: p.text, id, special: false }] : []));
  const seq = (id: string, type: number) => ({ Sequence: { id, type_id: type } }), sp = (id: string, type: number) => ({ SpecialToken: { id, type_id: type } });
  return {
    cls, unk, bos, eos, addBos: bos !== null,
    tokenizer: {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [...specials.map((s) => addedToken(s, false)), ...user.map((s) => addedToken(s, false))].sort((a, b) => (a.id as number) - (b.id as number)),
      normalizer: { type: 'Sequence', normalizers }, pre_tokenizer: null,
      post_processor: bos ? {
        type: 'TemplateProcessing', single: [sp(bos.content, 0), seq('A', 0)], pair: [sp(bos.content, 0), seq('A', 0), sp(bos.content, 1), seq('B', 1)],
        special_tokens: { [bos.content]: { id: bos.content, ids: [bos.id], tokens: [bos.content] } },
      } : null,
      decoder: { type: 'Sequence', decoders: [...(space !== ' ' ? [{ type: 'Replace', pattern: { String: space }, content: ' ' }] : []), { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
      model: { type: 'BPE', dropout: null, unk_token: unk?.content ?? null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: true, byte_fallback: byteFallback, ignore_merges: false, vocab: Object.fromEntries(vocab), merges: mergeList(found.map((m) => [m.l, m.r])) },
    },
  };
}

function fromLlama2c(bytes: Uint8Array, name: string): Converted {
  const { pieces, scores } = readLlama2cPieces(bytes, { name });
  // ids 0..2 are <unk>, BOS, EOS (exported as "\n<s>\n", "\n</s>\n"), 3..258 the byte pieces <0x00>..<0xFF>
  const names = ['<unk>', '<s>', '</s>'];
  const ps: Piece[] = pieces.map((p, i) => i < 3 ? { text: names[i], score: 0, kind: 'special' }
    : i < 259 ? { text: p, score: scores[i], kind: 'byte' } : { text: p, score: scores[i], kind: 'normal' });
  const s = (i: number): Special => ({ content: names[i], id: i, special: true });
  return llamaStyle(ps, s(0), s(1), s(2), true, false, 'PreTrainedTokenizerFast', ' ');
}

function fromSentencePiece(bytes: Uint8Array): Converted | null {
  const m = parseModelProto(bytes);
  if (m.modelType !== 2) return null; // a Unigram tokenizer.model: transformers reads it as it is
  const kinds: Record<number, Piece['kind']> = { [PieceType.NORMAL]: 'normal', [PieceType.UNUSED]: 'normal', [PieceType.USER_DEFINED]: 'user', [PieceType.BYTE]: 'byte' };
  const ps: Piece[] = m.pieces.map((p, i) => ({ text: p, score: m.scores[i], kind: kinds[m.types[i]] ?? 'special' }));
  const s = (i: number): Special | null => (i >= 0 && i < m.pieces.length ? { content: m.pieces[i], id: i, special: true } : null);
  return llamaStyle(ps, s(m.unkId), s(m.bosId), s(m.eosId), m.byteFallback, m.removeExtraWhitespaces, 'LlamaTokenizer');
}

// ---- an existing tokenizer.json: only the config files around it ----

function fromTokenizerJson(bytes: Uint8Array): Converted {
  const j = parseJson(bytes, 'tokenizer.json', 'pass the tokenizer.json of a Hugging Face tokenizer') as Json;
  const added = Array.isArray(j.added_tokens) ? (j.added_tokens as Json[]) : [];
  const find = (...names: string[]): Special | null => {
    for (const n of names) { const t = added.find((a) => a.content === n); if (t && Number.isInteger(t.id)) return { content: n, id: t.id as number, special: true }; }
    return null;
  };
  const byteLevel = JSON.stringify(j.pre_tokenizer ?? '').includes('ByteLevel');
  const eot = find('<|endoftext|>');
  const bos = find('<s>', '<|begin_of_text|>', '<|im_start|>') ?? eot, eos = find('</s>', '<|end_of_text|>', '<|im_end|>') ?? eot;
  return { tokenizer: j, cls: byteLevel ? 'GPT2Tokenizer' : 'PreTrainedTokenizerFast', bos, eos, unk: find('<unk>') ?? (byteLevel ? eot : null), addBos: !byteLevel && bos !== null };
}

function addedToken(s: Special, normalized: boolean): Json {
  return { id: s.id, content: s.content, single_word: false, lstrip: false, rstrip: false, normalized, special: s.special };
}

/** "left right" strings (the classic form), or [left, right] pairs when a piece holds a space */
function mergeList(merges: [string, string][]): (string | [string, string])[] {
  return merges.some(([a, b]) => a.includes(' ') || b.includes(' ')) ? merges : merges.map(([a, b]) => `${a} ${b}`);
}
