// sentencepiece: a SentencePiece BPE model (tokenizer.model, a ModelProto) encoded and decoded as the
// sentencepiece library does (normalizer.cc Normalize with the identity normalizer, bpe_model.cc Encode,
// SentencePieceProcessor::Encode's byte fallback and ::Decode). The merge loop runs in wasm (asm/spm.ts).
//
// The protobuf is read by the ~50-line reader below rather than by protobufjs: the browser/Deno bundle must be
// self-contained (test/bundle.test.ts) and rollup.config.mjs resolves no npm packages, while protobufjs ships
// CommonJS only (no ES module entry); we read 12 scalar fields of 4 messages, whose wire format is frozen.
// test/tokenizers.test.ts checks this reader against protobufjs (a devDependency) field by field.
// Fields read (sentencepiece_model.proto): ModelProto { 1: pieces, 2: trainer_spec, 3: normalizer_spec },
// SentencePiece { 1: piece, 2: score, 3: type }, TrainerSpec { 3: model_type, 24: treat_whitespace_as_suffix,
// 35: byte_fallback, 40-43: unk/bos/eos/pad ids, 44: unk_surface }, NormalizerSpec { 1: name,
// 2: precompiled_charsmap, 3: add_dummy_prefix, 4: remove_extra_whitespaces, 5: escape_whitespaces }.
import { fail } from '../util/errors.js';
import { show } from '../util/check.js';
import { instantiateAsm, loadVocab, type AsmExports } from './wasm.js';
import { wrapBosEos, pushAll } from './encoding.js';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './types.js';
import { AddedVocabulary } from './added.js';

export enum PieceType { NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 }
const FLAG_MERGEABLE = 1, FLAG_UNKNOWN = 2; // asm/vocab.ts
const META = '\u2581'; // "▁", SentencePiece's escaped space
const CHUNK = 1 << 20;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // a piece may start with U+FEFF

export interface SentencePieceModel {
  pieces: string[];
  scores: Float32Array;
  types: Uint8Array;
  modelType: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  unkSurface: string;
  normalizerName: string;
  charsmapBytes: number;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

// ---- protobuf wire format -------------------------------------------------------------------------------------

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start group', 'end group', 'fixed32'];
const PB_HINT = 'pass the tokenizer.model (SentencePiece ModelProto) that came with the model; the file may be ' +
  'truncated or not a SentencePiece model at all';

class PbReader {
  constructor(readonly buf: Uint8Array, public pos: number, readonly end: number, readonly name: string) {}
  private truncated(what: string): never {
    fail(`${this.name} is truncated or malformed: ${what} at byte ${this.pos} runs past the end of its message (byte ${this.end})`, PB_HINT);
  }
  /** A varint's low 32 bits (int32 fields: negative values are 10-byte varints whose low bits are the int). */
  varint(): number {
    let lo = 0, shift = 0, b = 0x80;
    for (let i = 0; b & 0x80; i++) {
      if (this.pos >= this.end) this.truncated('a varint');
      if (i === 10) fail(`${this.name}: a varint at byte ${this.pos} is longer than 10 bytes`, PB_HINT);
      b = this.buf[this.pos++];
      if (shift < 32) lo |= (b & 0x7f) << shift;
      shift += 7;
    }
    return lo;
  }
  len(): number {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) this.truncated(`a ${n >>> 0}-byte field`);
    return n;
  }
  sub(): PbReader {
    const n = this.len();
    const r = new PbReader(this.buf, this.pos, this.pos + n, this.name);
    this.pos += n;
    return r;
  }
  skipBytes(): number { const n = this.len(); this.pos += n; return n; }
  string(what: string): string {
    const n = this.len();
    let s: string;
    try {
      s = UTF8.decode(this.buf.subarray(this.pos, this.pos + n));
    } catch {
      fail(`${this.name}: ${what} at byte ${this.pos} is not UTF-8 text`, PB_HINT);
    }
    this.pos += n;
    return s;
  }
  float(): number {
    if (this.pos + 4 > this.end) this.truncated('a float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) { if (this.pos + 8 > this.end) this.truncated('a fixed64'); this.pos += 8; }
    else if (wire === 2) this.skipBytes();
    else if (wire === 5) { if (this.pos + 4 > this.end) this.truncated('a fixed32'); this.pos += 4; }
    else fail(`${this.name}: unsupported protobuf wire type ${wire} at byte ${this.pos}`, PB_HINT);
  }
  /**
   * Calls f(field) for each field of the message whose wire type `wires` names (the fields read: a known field
   * with another wire type is an error); f returns false for fields it did not read (they are skipped).
   */
  fields(what: string, wires: Record<number, number>, f: (field: number) => boolean): void {
    while (this.pos < this.end) {
      const at = this.pos;
      const tag = this.varint() >>> 0;
      const field = tag >>> 3, wire = tag & 7;
      if (field === 0) fail(`${this.name}: protobuf field number 0 at byte ${at}`, PB_HINT);
      const want = wires[field];
      if (want !== undefined && want !== wire) {
        fail(`${this.name}: ${what} field ${field} at byte ${at} has wire type ${wire}, expected ${want} (${WIRE_NAMES[want]})`, PB_HINT);
      }
      if (want === undefined || !f(field)) this.skip(wire);
    }
  }
}

/** Parses a SentencePiece ModelProto. Repeated sub-messages merge, as protobuf parsers do. */
export function parseModelProto(bytes: Uint8Array, name = 'tokenizer.model'): SentencePieceModel {
  const m: SentencePieceModel = {
    pieces: [], scores: new Float32Array(0), types: new Uint8Array(0), modelType: 1, byteFallback: false,
    treatWhitespaceAsSuffix: false, unkId: 0, bosId: 1, eosId: 2, padId: -1, unkSurface: ' \u2047 ',
    normalizerName: '', charsmapBytes: 0, addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true,
  };
  const scores: number[] = [], types: number[] = [];
  const top = new PbReader(bytes, 0, bytes.byteLength, name);
  top.fields('ModelProto', { 1: 2, 2: 2, 3: 2 }, (field) => {
    const r = top.sub();
    if (field === 1) { // SentencePiece
      let piece: string | null = null, score = 0, type: number = PieceType.NORMAL;
      const what = `piece ${m.pieces.length}`;
      r.fields(what, { 1: 2, 2: 5, 3: 0 }, (f) => {
        if (f === 1) piece = r.string(`${what}'s text`);
        else if (f === 2) score = r.float();
        else type = r.varint();
        return true;
      });
      if (piece === null) fail(`${name}: piece ${m.pieces.length} has no text`, PB_HINT);
      if (type < 1 || type > 6) fail(`${name}: piece ${m.pieces.length} (${show(piece)}) has unknown type ${type}`, PB_HINT);
      m.pieces.push(piece);
      scores.push(score);
      types.push(type);
    } else if (field === 2) { // TrainerSpec
      r.fields('trainer_spec', { 3: 0, 24: 0, 35: 0, 40: 0, 41: 0, 42: 0, 43: 0, 44: 2 }, (f) => {
        if (f === 3) m.modelType = r.varint();
        else if (f === 24) m.treatWhitespaceAsSuffix = r.varint() !== 0;
        else if (f === 35) m.byteFallback = r.varint() !== 0;
        else if (f === 40) m.unkId = r.varint();
        else if (f === 41) m.bosId = r.varint();
        else if (f === 42) m.eosId = r.varint();
        else if (f === 43) m.padId = r.varint();
        else m.unkSurface = r.string('trainer_spec.unk_surface');
        return true;
      });
    } else { // NormalizerSpec
      r.fields('normalizer_spec', { 1: 2, 2: 2, 3: 0, 4: 0, 5: 0 }, (f) => {
        if (f === 1) m.normalizerName = r.string('normalizer_spec.name');
        else if (f === 2) m.charsmapBytes = r.skipBytes();
        else if (f === 3) m.addDummyPrefix = r.varint() !== 0;
        else if (f === 4) m.removeExtraWhitespaces = r.varint() !== 0;
        else m.escapeWhitespaces = r.varint() !== 0;
        return true;
      });
    }
    return true;
  });
  m.scores = Float32Array.from(scores);
  m.types = Uint8Array.from(types);
  return m;
}

// ---- the tokenizer --------------------------------------------------------------------------------------------

const MODEL_HINT = 'SentencePiece Unigram models (T5, ALBERT, XLNet) and non-identity normalizers (nmt_nfkc) are ' +
  'not supported; Llama/Mistral/llama2.c tokenizer.model files are BPE with the identity normalizer';

/** SentencePiece's IsValidDecodeUTF8 per character: an invalid byte is one U+FFFD (ProcessBytePieces). */
function decodeBytesSpm(b: number[]): string {
  let s = '';
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let n = 1, cp = -1;
    const trail = (k: number) => i + k < b.length && (b[i + k] & 0xc0) === 0x80;
    if (c < 0x80) cp = c;
    else if ((c & 0xe0) === 0xc0 && trail(1)) { cp = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f); n = 2; if (cp < 0x80) cp = -1; }
    else if ((c & 0xf0) === 0xe0 && trail(1) && trail(2)) {
      cp = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f); n = 3;
      if (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000)) cp = -1;
    } else if ((c & 0xf8) === 0xf0 && trail(1) && trail(2) && trail(3)) {
      cp = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f); n = 4;
      if (cp < 0x10000 || cp > 0x10ffff) cp = -1;
    }
    if (cp < 0) { s += '\ufffd'; i += 1; } else { s += String.fromCodePoint(cp); i += n; }
  }
  return s;
}

export class SentencePieceTokenizer implements Tokenizer {
  readonly kind = 'sentencepiece';
  readonly vocabSize: number;
  readonly bos: number | null;
  readonly eos: number | null;
  /** CONTROL and UNKNOWN pieces (<s>, </s>, <unk>): special tokens, matched in text as transformers' LlamaTokenizer
   *  (slow and fast) does (added.ts), unless splitSpecialTokens. */
  readonly specials: ReadonlyMap<string, number>;
  /** encode's splitSpecialTokens when not given */
  splitSpecialTokens = false;
  private readonly added: AddedVocabulary;
  private readonly enc = new TextEncoder();
  private readonly byteOf: Int16Array; // raw byte of a BYTE piece, else -1
  private readonly userDefined: RegExp | null;
  private readonly pieceIds: Map<string, number>;
  private readonly pieceText: string[] = []; // decoded piece ("▁" -> " "), filled as met
  /** Whether "▁"-words are merged independently (no mergeable piece has a "▁" after its first character). */
  readonly wordMode: boolean;

  private constructor(private readonly asm: AsmExports, readonly model: SentencePieceModel, wordMode: boolean) {
    const { pieces, types } = model;
    this.vocabSize = pieces.length;
    const id = (i: number) => i >= 0 && i < pieces.length ? i : null;
    this.bos = id(model.bosId);
    this.eos = id(model.eosId);
    this.specials = new Map(pieces.flatMap((p, i) =>
      types[i] === PieceType.CONTROL || types[i] === PieceType.UNKNOWN ? [[p, i] as [string, number]] : []));
    this.added = new AddedVocabulary([...this.specials].map(([content, id]) => ({ content, id, special: true })));
    this.byteOf = Int16Array.from(pieces, (p, i) => types[i] === PieceType.BYTE ? parseInt(p.slice(3, 5), 16) : -1);
    this.pieceIds = new Map(pieces.map((p, i) => [p, i]));
    const user = pieces.filter((_, i) => types[i] === PieceType.USER_DEFINED).sort((a, b) => b.length - a.length);
    this.userDefined = user.length ? new RegExp(user.map((u) => u.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : null;
    this.wordMode = wordMode;
  }

  static async fromBytes(bytes: Uint8Array, name = 'tokenizer.model'): Promise<SentencePieceTokenizer> {
    const m = parseModelProto(bytes, name);
    const n = m.pieces.length;
    if (n === 0) fail(`${name} holds no pieces`, PB_HINT);
    if (m.modelType !== 2) fail(`${name} is a SentencePiece ${['', 'Unigram', 'BPE', 'Word', 'Char'][m.modelType] ?? `type-${m.modelType}`} model; only BPE (model_type 2) is supported`, MODEL_HINT);
    if (m.charsmapBytes > 0) fail(`${name} uses the '${m.normalizerName}' normalizer (a ${m.charsmapBytes}-byte precompiled_charsmap)`, MODEL_HINT);
    if (m.treatWhitespaceAsSuffix) fail(`${name} sets treat_whitespace_as_suffix, which is not supported`, MODEL_HINT);
    const seen = new Map<string, number>();
    let unk = -1;
    for (let i = 0; i < n; i++) {
      const t = m.types[i], p = m.pieces[i];
      if (p.length === 0) fail(`${name}: piece ${i} is empty (sentencepiece: "piece must not be empty")`, PB_HINT);
      if (!Number.isFinite(m.scores[i])) fail(`${name}: piece ${i} (${show(p)}) has the score ${m.scores[i]}, not a finite number`, PB_HINT);
      if (seen.has(p)) fail(`${name}: piece ${show(p)} is defined twice (ids ${seen.get(p)} and ${i})`, PB_HINT);
      seen.set(p, i);
      if (t === PieceType.UNKNOWN && unk >= 0) fail(`${name}: pieces ${unk} and ${i} are both UNKNOWN pieces; a model has one`, PB_HINT);
      if (t === PieceType.UNKNOWN) unk = i;
      if (t === PieceType.BYTE && !/^<0x[0-9A-F]{2}>$/.test(p)) fail(`${name}: byte piece ${i} is ${show(p)}, not <0xHH>`, PB_HINT);
    }
    if (unk < 0 || unk !== m.unkId) fail(`${name}: unk_id is ${m.unkId} but the UNKNOWN piece is ${unk < 0 ? 'missing' : `id ${unk}`}`, PB_HINT);
    for (const [k, v] of [['bos_id', m.bosId], ['eos_id', m.eosId], ['pad_id', m.padId]] as const) {
      if (v < -1 || v >= n) fail(`${name}: trainer_spec.${k} = ${v} is not a piece id of this ${n}-piece model (nor -1 for none)`, PB_HINT);
    }
    const byteIds = new Int32Array(256).fill(unk);
    for (let b = 0; b < 256; b++) {
      const id = seen.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (id !== undefined && m.types[id] === PieceType.BYTE) byteIds[b] = id;
      else if (m.byteFallback) fail(`${name} enables byte_fallback but has no byte piece <0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, PB_HINT);
    }
    const flags = Uint8Array.from(m.types, (t) => t === PieceType.NORMAL || t === PieceType.USER_DEFINED || t === PieceType.UNUSED ? FLAG_MERGEABLE :
      t === PieceType.UNKNOWN ? FLAG_UNKNOWN : 0);
    const wordMode = m.escapeWhitespaces && !m.pieces.some((p, i) => (flags[i] & FLAG_MERGEABLE) !== 0 && p.indexOf(META, 1) > 0);
    const asm = await instantiateAsm();
    const enc = new TextEncoder();
    if (!loadVocab(asm, m.pieces.map((p) => enc.encode(p)), m.scores, flags) || !asm.spm_init(unk, m.byteFallback ? 1 : 0, wordMode ? 1 : 0)) {
      fail(`${name}: out of wasm memory loading ${n} pieces`);
    }
    new Int32Array(asm.memory.buffer, asm.spm_byte_ids_ptr(), 256).set(byteIds);
    asm.spm_build();
    return new SentencePieceTokenizer(asm, m, wordMode);
  }

  get pieces(): readonly string[] { return this.model.pieces; }

  /** normalizer.cc Normalize with the identity normalizer (no charsmap): only U+0020 counts as whitespace. */
  normalize(text: string): string {
    const m = this.model;
    let s = text;
    // 1. heading spaces go, runs of spaces become one (is_prev_space)
    if (m.removeExtraWhitespaces) s = s.replace(/^ +/, '').replace(/ {2,}/g, ' ');
    if (s.length === 0) return '';
    // 2. spaces become "▁", then the dummy prefix
    const space = m.escapeWhitespaces ? META : ' ';
    if (m.escapeWhitespaces) s = s.replaceAll(' ', META);
    if (m.addDummyPrefix) s = space + s;
    // 3. trailing "▁" go, a literal "▁" in the text included (it is the same character by now)
    if (m.removeExtraWhitespaces) {
      let e = s.length;
      while (e > 0 && s[e - 1] === space) e--;
      s = s.slice(0, e);
    }
    return s;
  }

  /** Ordinary text (control pieces are text here) to ids, as a fresh Int32Array. */
  encodeOrdinary(text: string): Int32Array {
    const norm = this.normalize(text);
    const out: number[] = [];
    const segment = (s: string) => {
      if (!this.wordMode || s.length <= CHUNK) { pushAll(out, this.run(s)); return; }
      // word mode: any "▁" starts an independent word, so cut there, and only there (a word longer than CHUNK is
      // encoded whole: a cut inside it could change its merges, or split a surrogate pair)
      for (let start = 0; start < s.length;) {
        let cut = s.length - start > CHUNK ? s.lastIndexOf(META, start + CHUNK) : s.length;
        if (cut <= start) {
          cut = s.indexOf(META, start + CHUNK);
          if (cut < 0) cut = s.length;
        }
        pushAll(out, this.run(s.slice(start, cut)));
        start = cut;
      }
    };
    if (!this.userDefined) segment(norm);
    else { // user-defined pieces are matched first and never merge (bpe_model.cc: PrefixMatcher, freeze)
      const re = this.userDefined;
      re.lastIndex = 0;
      let last = 0;
      for (let mt = re.exec(norm); mt !== null; mt = re.exec(norm)) {
        if (mt.index > last) segment(norm.slice(last, mt.index));
        out.push(this.pieceIds.get(mt[0])!);
        last = mt.index + mt[0].length;
      }
      if (last < norm.length) segment(norm.slice(last));
    }
    if (this.model.byteFallback) return Int32Array.from(out);
    // SentencePieceProcessor::Encode "merges continuous run of unknown pieces" (without byte fallback)
    const unk = this.model.unkId;
    return Int32Array.from(out.filter((id, i) => id !== unk || i === 0 || out[i - 1] !== unk));
  }

  /** The rest of a document cut before a " " (encoding.ts safeCut): the dummy prefix stands for that space. */
  encodeContinuation(text: string, opts?: EncodeOptions): number[] {
    return this.encodePieces(this.model.addDummyPrefix && text.startsWith(' ') ? text.slice(1) : text, opts);
  }

  private run(s: string): Int32Array {
    if (s.length === 0) return new Int32Array(0);
    const asm = this.asm, cap = s.length * 3;
    const ptr = asm.spm_begin(cap);
    if (!ptr) fail(`out of wasm memory encoding ${s.length} characters`, 'encode the text in smaller pieces');
    const { written } = this.enc.encodeInto(s, new Uint8Array(asm.memory.buffer, ptr, cap));
    const k = asm.spm_encode(written);
    return new Int32Array(asm.memory.buffer, asm.spm_out_ptr(), k).slice();
  }

  /** special tokens split off, each piece of text between them encoded on its own (with its dummy prefix, as HF) */
  private encodePieces(text: string, opts?: EncodeOptions): number[] {
    const ids: number[] = [];
    for (const part of this.added.split(text, opts?.splitSpecialTokens ?? this.splitSpecialTokens)) {
      if (typeof part === 'number') ids.push(part);
      else pushAll(ids, this.encodeOrdinary(part));
    }
    return ids;
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    return wrapBosEos(this.encodePieces(text, opts), opts, this.bos, this.eos, this.kind);
  }

  /** SentencePieceProcessor::Decode: control pieces are invisible, <unk> is unk_surface, byte pieces are UTF-8
   *  (an invalid byte is U+FFFD), "▁" is a space, and the first non-control piece loses its leading "▁".
   *  (sentencepiece's rule, not transformers' LlamaTokenizer's, which writes <s> and </s> out.) */
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string {
    if (opts?.skipSpecialTokens) ids = Array.from(ids).filter((id) => !this.added.specialIds.has(id));
    const m = this.model;
    const stripFirst = m.addDummyPrefix || m.removeExtraWhitespaces;
    let s = '';
    let first = true; // no piece but control pieces so far (is_bos_ws)
    const run: number[] = [];
    for (let i = 0; i <= ids.length; i++) {
      const id = i < ids.length ? ids[i] : -1;
      if (i < ids.length && (!Number.isInteger(id) || id < 0 || id >= this.vocabSize)) {
        fail(`decode: id ${id} at position ${i} is not a piece of this ${this.vocabSize}-piece tokenizer`,
          'decode ids produced by this tokenizer (or by a model with the same vocab_size)');
      }
      if (id >= 0 && this.byteOf[id] >= 0) { run.push(this.byteOf[id]); first = false; continue; }
      if (run.length) { s += decodeBytesSpm(run); run.length = 0; }
      if (id < 0) break;
      const t = m.types[id];
      if (t === PieceType.CONTROL) continue;
      if (t === PieceType.UNKNOWN) { s += m.unkSurface; first = false; continue; }
      const p = (this.pieceText[id] ??= m.pieces[id].replaceAll(META, ' '));
      s += first && stripFirst && m.pieces[id].startsWith(META) ? p.slice(1) : p;
      first = false;
    }
    return s;
  }
}
