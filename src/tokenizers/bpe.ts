// bpe: BPE with ranked merges, as GPT-2 (encoder.py, tiktoken r50k_base) and Hugging Face tokenizers do it.
//   byte-level ("byte-bpe"): GPT-2 vocab.json + merges.txt, OpenAI encoder.json + vocab.bpe, or a tokenizer.json
//     with the ByteLevel pre-tokenizer. JS splits the text with GPT-2's regex (AssemblyScript has no RegExp);
//     the wasm (asm/bpe.ts) maps bytes to ids, merges by rank (O(log n) per merge on long words) and caches words.
//   characters ("metaspace-bpe"): a Llama-style tokenizer.json (SentencePiece converted to HF BPE: "▁" for
//     spaces, byte fallback to <0xHH>). JS normalizes and splits; the wasm does the rest (MODE_CHARS).
// Token strings of byte-level vocabularies spell bytes in GPT-2's bytes_to_unicode() alphabet: printable
// Latin-1 bytes stand for themselves, the other 68 bytes for U+0100.. in order (space = "Ġ" U+0120).
import { fail } from '../util/errors.js';
import { show } from '../util/check.js';
import { instantiateAsm, loadVocab, type AsmExports } from './wasm.js';
import { wrapBosEos, pushAll, chunks, IntBuf } from './encoding.js';
import { AddedVocabulary, type AddedToken } from './added.js';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './types.js';

/** GPT-2's pre-tokenizer (encoder.py, tiktoken r50k_base, HF ByteLevel use_regex). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const CHUNK = 1 << 20; // UTF-16 units encoded per wasm call: bounds scratch memory, cut where no id changes

/** GPT-2 bytes_to_unicode(): byte -> the character that spells it in vocab/merges files. */
export function bytesToUnicode(): string[] {
  const out: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return out;
}

export interface BpeConfig {
  /** File name(s) for error messages. */
  name: string;
  /** Token string -> id (byte-level: in the bytes_to_unicode alphabet). Special tokens may be in it or not. */
  vocab: Map<string, number>;
  /** Merge rules in priority order (rank = index). */
  merges: [string, string][];
  byteLevel: boolean;
  /** Added tokens (special or not), found in text first (added.ts); their ids may lie outside the vocab. */
  added?: AddedToken[];
  /** The default of encode's splitSpecialTokens (HF split_special_tokens). */
  splitSpecialTokens?: boolean;
  bos?: number | null;
  eos?: number | null;
  /** byte-level: HF ByteLevel add_prefix_space (a " " before text that does not start with one). */
  addPrefixSpace?: boolean;
  /** characters: the normalizer (HF applies it to each piece of text between added tokens). */
  normalize?: ((s: string) => string) | null;
  /** characters: the pre-tokenizer, normalized text -> text and its word ends (UTF-16); first: the piece starts the text. */
  prepare?: (text: string, first: boolean) => { text: string; ends: number[] | null };
  byteFallback?: boolean;
  unkId?: number;
  fuseUnk?: boolean;
  /** characters: decode strips one leading space (the dummy prefix). */
  stripLeadingSpace?: boolean;
  /** characters: the normalizer prepends "▁" to every text (legacy Llama), so a continuation drops a space. */
  prefixByNormalizer?: boolean;
}

const MERGES_HINT = 'the vocab and merges files must come from the same tokenizer (GPT-2: vocab.json + merges.txt, ' +
  'or encoder.json + vocab.bpe)';

export class BpeTokenizer implements Tokenizer {
  readonly kind: 'byte-bpe' | 'metaspace-bpe';
  readonly vocabSize: number;
  readonly bos: number | null;
  readonly eos: number | null;
  /** content -> id of the special tokens */
  readonly specials: ReadonlyMap<string, number>;
  /** encode's splitSpecialTokens when not given */
  splitSpecialTokens: boolean;
  readonly added: AddedVocabulary;
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder('utf-8', { ignoreBOM: true });
  private readonly ends = new IntBuf();
  private readonly idText: string[] = []; // characters: decoded text of each id, filled as met

  private constructor(private readonly asm: AsmExports, private readonly cfg: BpeConfig,
    private readonly idBytes: Uint8Array, private readonly idOffs: Int32Array, private readonly isByte: Int16Array,
    private readonly known: Uint8Array) { // known[id] = 0: an id no token has (a gap in the vocab)
    this.kind = cfg.byteLevel ? 'byte-bpe' : 'metaspace-bpe';
    this.vocabSize = idOffs.length - 1;
    this.added = new AddedVocabulary(cfg.added ?? [], cfg.byteLevel ? null : cfg.normalize ?? null);
    this.specials = new Map((cfg.added ?? []).filter((t) => t.special).map((t) => [t.content, t.id]));
    this.splitSpecialTokens = cfg.splitSpecialTokens ?? false;
    this.bos = cfg.bos ?? null;
    this.eos = cfg.eos ?? null;
  }

  static async create(cfg: BpeConfig): Promise<BpeTokenizer> {
    const { vocab, merges, name } = cfg;
    const specials = new Map((cfg.added ?? []).map((t) => [t.content, t.id]));
    let vocabSize = 0;
    for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
    for (const id of specials.values()) vocabSize = Math.max(vocabSize, id + 1);
    // the tables below are dense by id: a few unused ids are fine, an id far beyond the token count is corruption
    const count = new Set([...vocab.values(), ...specials.values()]).size;
    if (vocabSize > 2 * count + 65536) {
      fail(`${name}: the largest token id is ${vocabSize - 1} but there are only ${count} tokens (at most ${2 * count + 65536} ids ` +
        'are accepted for that many: token ids are numbered from 0 without large gaps)', 'a token id in the file is corrupt; ' + MERGES_HINT);
    }
    // 1. bytes of every id: byte-level tokens through the unicode -> byte table, others as UTF-8
    const u2b = new Map(bytesToUnicode().map((ch, b) => [ch, b]));
    const pieces: Uint8Array[] = new Array(vocabSize).fill(new Uint8Array(0));
    const known = new Uint8Array(vocabSize);
    const enc = new TextEncoder();
    const toBytes = (tok: string): Uint8Array => {
      if (!cfg.byteLevel) return enc.encode(tok);
      const out = new Uint8Array(tok.length);
      for (let i = 0; i < tok.length; i++) {
        const b = u2b.get(tok[i]);
        if (b === undefined) return enc.encode(tok); // not byte-level spelling (e.g. an added token): its text
        out[i] = b;
      }
      return out;
    };
    for (const [tok, id] of vocab) { pieces[id] = toBytes(tok); known[id] = 1; }
    for (const [tok, id] of specials) { pieces[id] = enc.encode(tok); known[id] = 1; }
    // 2. the byte tokens: every byte for byte-level, <0xHH> for byte fallback
    const byteIds = new Int32Array(256).fill(-1);
    const isByte = new Int16Array(vocabSize).fill(-1);
    const b2u = bytesToUnicode();
    for (let b = 0; b < 256; b++) {
      const tok = cfg.byteLevel ? b2u[b] : `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      const id = vocab.get(tok);
      if (id === undefined) {
        if (cfg.byteLevel) fail(`${name}: the vocab has no token for byte 0x${b.toString(16)} ('${tok}')`, MERGES_HINT);
        continue;
      }
      if (cfg.byteLevel || cfg.byteFallback) byteIds[b] = id;
      if (!cfg.byteLevel) isByte[id] = b;
    }
    // 3. the wasm: vocab (MODE_CHARS looks characters up), merges table, byte ids
    const asm = await instantiateAsm();
    if (!loadVocab(asm, cfg.byteLevel ? [] : pieces)) fail(`${name}: out of wasm memory loading ${vocabSize} tokens`);
    if (!asm.bpe_init(merges.length, cfg.byteLevel ? 0 : 1, cfg.unkId ?? -1, cfg.fuseUnk ? 1 : 0)) {
      fail(`${name}: out of wasm memory loading ${merges.length} merges`);
    }
    for (let r = 0; r < merges.length; r++) {
      const [a, b] = merges[r];
      const ia = vocab.get(a), ib = vocab.get(b), im = vocab.get(a + b);
      if (ia === undefined || ib === undefined) {
        fail(`${name}: merge ${r + 1} ('${a} ${b}') names the unknown token '${ia === undefined ? a : b}'`, MERGES_HINT);
      }
      if (im === undefined) fail(`${name}: merge ${r + 1} ('${a} ${b}') makes '${a + b}', which is not in the vocab`, MERGES_HINT);
      asm.bpe_merge_add(ia, ib, r, im);
    }
    new Int32Array(asm.memory.buffer, asm.bpe_byte_ids_ptr(), 256).set(byteIds);
    asm.bpe_build();
    // 4. decode table: all ids' bytes in one blob
    const idOffs = new Int32Array(vocabSize + 1);
    for (let i = 0; i < vocabSize; i++) idOffs[i + 1] = idOffs[i] + (known[i] ? pieces[i].length : 0);
    const idBytes = new Uint8Array(idOffs[vocabSize]);
    for (let i = 0; i < vocabSize; i++) if (known[i]) idBytes.set(pieces[i], idOffs[i]);
    return new BpeTokenizer(asm, cfg, idBytes, idOffs, isByte, known);
  }

  /** Ordinary text (added tokens are text here: tiktoken's encode_ordinary) to ids, as a fresh Int32Array. */
  encodeOrdinary(text: string): Int32Array {
    if (!this.cfg.byteLevel) return this.encodeNormalized(this.cfg.normalize ? this.cfg.normalize(text) : text, true);
    return this.encodeByteLevel(text);
  }

  /** The rest of a document cut before a " " (encoding.ts safeCut): ids as if encoded after its beginning. */
  encodeContinuation(text: string, opts?: EncodeOptions): number[] {
    if (!this.cfg.byteLevel && this.cfg.prefixByNormalizer && text.startsWith(' ')) text = text.slice(1);
    return this.encodePieces(text, opts, false);
  }

  private encodeByteLevel(text: string): Int32Array {
    if (this.cfg.addPrefixSpace && text.length > 0 && text[0] !== ' ') text = ' ' + text;
    if (text.length <= CHUNK) return this.run(text, null);
    const parts: Int32Array[] = [];
    for (const c of chunks(text, CHUNK)) parts.push(this.run(c, null));
    return concat(parts);
  }

  /** characters: normalized text through the pre-tokenizer and the model */
  private encodeNormalized(text: string, first: boolean): Int32Array {
    const p = this.cfg.prepare ? this.cfg.prepare(text, first) : { text, ends: null };
    return this.run(p.text, p.ends);
  }

  /** added tokens split off (added.ts), each piece of text between them encoded on its own */
  private encodePieces(text: string, opts: EncodeOptions | undefined, first: boolean): number[] {
    const ids: number[] = [];
    const pieces = this.added.split(text, opts?.splitSpecialTokens ?? this.splitSpecialTokens);
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i];
      if (typeof p === 'number') ids.push(p);
      else pushAll(ids, this.cfg.byteLevel ? this.encodeByteLevel(p) : this.encodeNormalized(p, first && i === 0));
    }
    return ids;
  }

  /** One wasm call: UTF-8 bytes and word ends (GPT-2 regex when ends is null and byte-level) in, ids out. */
  private run(text: string, words: number[] | null): Int32Array {
    if (text.length === 0) return new Int32Array(0);
    let ends: Int32Array, k = 0, maxUnits = 0, last = 0;
    if (words) {
      ends = Int32Array.from(words);
      k = ends.length;
      for (const e of words) { maxUnits = Math.max(maxUnits, e - last); last = e; }
    } else if (this.cfg.byteLevel) {
      ends = this.ends.reserve(text.length);
      const re = GPT2_SPLIT;
      re.lastIndex = 0;
      while (re.exec(text) !== null) {
        const e = re.lastIndex;
        if (e - last > maxUnits) maxUnits = e - last;
        ends[k++] = last = e;
      }
    } else {
      ends = Int32Array.of(text.length);
      k = 1;
      maxUnits = text.length;
    }
    const asm = this.asm;
    const cap = text.length * 3;
    const ptr = asm.bpe_begin(cap, k, maxUnits * 3);
    if (!ptr) fail(`out of wasm memory encoding ${text.length} characters`, 'encode the text in smaller pieces');
    const buf = asm.memory.buffer;
    const { written } = this.enc.encodeInto(text, new Uint8Array(buf, ptr, cap));
    new Int32Array(buf, asm.bpe_ends_ptr(), k).set(ends.subarray(0, k));
    const n = asm.bpe_encode(written, k);
    return new Int32Array(asm.memory.buffer, asm.bpe_out_ptr(), n).slice();
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    return wrapBosEos(this.encodePieces(text, opts, true), opts, this.bos, this.eos, this.kind);
  }

  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string {
    if (opts?.skipSpecialTokens) ids = Array.from(ids).filter((id) => !this.added.specialIds.has(id));
    const { idOffs, idBytes } = this;
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || !this.known[id]) {
        fail(`decode: id ${id} at position ${i} is not a token of this ${this.vocabSize}-token tokenizer`,
          'decode ids produced by this tokenizer (or by a model with the same vocabulary)');
      }
      total += idOffs[id + 1] - idOffs[id];
    }
    const out = new Uint8Array(total);
    let o = 0;
    if (this.cfg.byteLevel) {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        out.set(idBytes.subarray(idOffs[id], idOffs[id + 1]), o);
        o += idOffs[id + 1] - idOffs[id];
      }
      return this.dec.decode(out);
    }
    return this.decodeChars(ids);
  }

  /** Llama-style: "▁" -> " ", byte-fallback runs as UTF-8 (HF ByteFallback: an invalid run is one U+FFFD per
   *  byte), added tokens as their text (HF decode), then one leading space stripped (the dummy prefix). */
  private decodeChars(ids: ArrayLike<number>): string {
    let s = '';
    const run: number[] = [];
    const flush = () => {
      if (!run.length) return;
      try {
        s += new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(run));
      } catch {
        s += '\ufffd'.repeat(run.length);
      }
      run.length = 0;
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (this.isByte[id] >= 0) { run.push(this.isByte[id]); continue; }
      flush();
      s += (this.idText[id] ??= this.dec.decode(this.idBytes.subarray(this.idOffs[id], this.idOffs[id + 1])).replaceAll('\u2581', ' '));
    }
    flush();
    return this.cfg.stripLeadingSpace && s.startsWith(' ') ? s.slice(1) : s;
  }
}

function concat(parts: Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// ---- file formats ------------------------------------------------------------------------------------------

export function parseJson(bytes: Uint8Array, name: string, hint: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    fail(`${name} is not UTF-8 text`, hint);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    fail(`${name} is not valid JSON (${(e as Error).message})`, hint);
  }
}

/** Token ids are below this (16.7M): a vocabulary is allocated densely by id, so an id bounds the memory taken. */
export const MAX_VOCAB = 1 << 24;

/** vocab.json / encoder.json: {"token": id, ...} */
export function vocabFromJson(obj: unknown, name: string): Map<string, number> {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
    fail(`${name} is not a JSON object of token -> id`, 'pass the vocab.json (or encoder.json) of a BPE tokenizer');
  }
  const vocab = new Map<string, number>();
  const seen = new Set<number>();
  for (const [tok, id] of Object.entries(obj as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= MAX_VOCAB) {
      fail(`${name}: token ${show(tok)} has id ${show(id)}, not an integer in 0..2^24`,
        'pass the vocab.json (or encoder.json) of a BPE tokenizer');
    }
    if (seen.has(id)) fail(`${name}: id ${id} is given to two tokens (one is ${show(tok)})`, MERGES_HINT);
    seen.add(id);
    vocab.set(tok, id);
  }
  return vocab;
}

/** merges.txt / vocab.bpe: optional "#version" line, then "left right" per line (rank = line order). */
export function mergesFromText(bytes: Uint8Array, name: string): [string, string][] {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    fail(`${name} is not UTF-8 text`, MERGES_HINT);
  }
  const out: [string, string][] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    const parts = line.split(' ');
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      fail(`${name}: line ${i + 1} (${show(line)}) is not a merge "left right"`, MERGES_HINT);
    }
    out.push([parts[0], parts[1]]);
  }
  return out;
}
