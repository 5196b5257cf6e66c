// tokenizers/llama2c: llama2.c's tokenizer.bin (run.c `encode` / `decode`), with the piece lookup and the BPE merge
// loop in AssemblyScript (asm/llama2c.ts over asm/vocab.ts and asm/merge.ts, embedded as base64 by
// scripts/gen.mjs and loaded by wasm.ts: no fs or fetch needed).
// JS validates the file, UTF-8-encodes text with TextEncoder and passes bytes; the wasm returns ids.
//
// tokenizer.bin layout (llama2.c tokenizer.py export): int32 max_token_length, then for each id in order:
// float32 score, int32 len, len bytes of UTF-8 piece (SentencePiece's "▁" already replaced by " ").
// The vocab size is not stored: it is the model's vocab_size, so pass it as `{ vocabSize }` to check it.
import { instantiateAsm, loadVocab, type AsmExports } from './wasm.js';
import { fail } from '../util/errors.js';

export interface TokenizerOptions {
  /** The model's vocab_size: the file must hold exactly this many pieces. */
  vocabSize?: number;
  /** Name used in error messages (default "tokenizer.bin"). */
  name?: string;
}

const MAX_SANE_TOKEN_LENGTH = 1 << 16;
const BYTE_FALLBACK_END = 259; // ids 3..258 are the byte pieces <0x00>..<0xFF>
const FIX_FILE = 'pass the tokenizer.bin exported together with the model (for stories260K.bin that is tok512.bin); ' +
  'the file may be truncated or not a llama2.c tokenizer at all';

interface Parsed { maxTokenLength: number; scores: Float32Array; offs: Int32Array; lens: Int32Array }

/** Walks the pieces of a tokenizer.bin. Stops at `limit` pieces or at the end of the file. */
function walk(dv: DataView, limit: number, name: string, strict: boolean): { offs: number[]; lens: number[]; scores: number[]; end: number } | null {
  const maxTokenLength = dv.getInt32(0, true);
  const offs: number[] = [], lens: number[] = [], scores: number[] = [];
  let off = 4;
  while (offs.length < limit && off < dv.byteLength) {
    const id = offs.length;
    if (off + 8 > dv.byteLength) {
      if (!strict) return null;
      fail(`${name} is truncated: piece ${id} starts at byte ${off} but its 8-byte header (score, len) ` +
        `runs past the end of the file (${dv.byteLength} bytes)`, FIX_FILE);
    }
    const score = dv.getFloat32(off, true), len = dv.getInt32(off + 4, true);
    if (len < 0 || len > maxTokenLength || off + 8 + len > dv.byteLength) {
      if (!strict) return null;
      if (len < 0) fail(`${name}: piece ${id} (at byte ${off}) has a negative length ${len}`, FIX_FILE);
      if (len > maxTokenLength) {
        fail(`${name}: piece ${id} (at byte ${off}) is ${len} bytes long, more than max_token_length = ${maxTokenLength}`, FIX_FILE);
      }
      fail(`${name} is truncated: piece ${id}'s length field (${len} bytes, at byte ${off + 4}) points past the end ` +
        `of the file (${dv.byteLength} bytes)`, FIX_FILE);
    }
    scores.push(score);
    offs.push(off + 8);
    lens.push(len);
    off += 8 + len;
  }
  return { offs, lens, scores, end: off };
}

function parse(bytes: Uint8Array, opts: TokenizerOptions): Parsed {
  const name = opts.name ?? 'tokenizer.bin';
  const expected = opts.vocabSize;
  if (expected !== undefined && !(Number.isInteger(expected) && expected > 0)) {
    fail(`${name}: vocabSize must be a positive integer, got ${expected}`, "pass the model's vocab_size (e.g. 512 for stories260K)");
  }
  if (bytes.byteLength < 4) {
    fail(`${name} is truncated: ${bytes.byteLength} bytes, but the max_token_length header alone is 4 bytes`, FIX_FILE);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const maxTokenLength = dv.getInt32(0, true);
  if (maxTokenLength <= 0 || maxTokenLength > MAX_SANE_TOKEN_LENGTH) {
    fail(`${name}: max_token_length = ${maxTokenLength} is not a plausible piece length (expected 1..${MAX_SANE_TOKEN_LENGTH})`,
      FIX_FILE);
  }
  const w = walk(dv, expected ?? Infinity, name, true)!;
  const n = w.offs.length;
  if (expected !== undefined && (n < expected || w.end < bytes.byteLength)) {
    // count what the file really holds, for the message
    const all = walk(dv, Infinity, name, false);
    const holds = all && all.end === bytes.byteLength ? `${all.offs.length} pieces` : `${n} pieces then ${bytes.byteLength - w.end} stray bytes`;
    fail(`${name} holds ${n < expected ? `${n} pieces` : holds} but the model's vocab_size is ${expected}`,
      `use the tokenizer.bin exported for this model's vocabulary (vocab_size ${expected}), or pass vocabSize: ` +
      `${all && all.end === bytes.byteLength ? all.offs.length : n} if the model really has that many tokens`);
  }
  if (n < BYTE_FALLBACK_END) {
    fail(`${name} holds ${n} pieces, fewer than the ${BYTE_FALLBACK_END} a llama2.c tokenizer needs ` +
      '(<unk>, BOS, EOS and the 256 byte-fallback pieces <0x00>..<0xFF> come first)', FIX_FILE);
  }
  return { maxTokenLength, scores: Float32Array.from(w.scores), offs: Int32Array.from(w.offs), lens: Int32Array.from(w.lens) };
}

/** the pieces (llama2.c form: " " for spaces; ids 1, 2 are "\n<s>\n", "\n</s>\n") and scores of a tokenizer.bin, without the wasm encoder */
export function readLlama2cPieces(bytes: Uint8Array, opts: TokenizerOptions = {}): { pieces: string[]; scores: Float32Array } {
  const p = parse(bytes, opts), dec = new TextDecoder('utf-8', { ignoreBOM: true });
  return { pieces: Array.from(p.offs, (o, i) => dec.decode(bytes.subarray(o, o + p.lens[i]))), scores: p.scores };
}

function byteOf(p: Uint8Array): number {
  // a piece "<0xHH>" stands for the raw byte 0xHH (run.c: sscanf(piece, "<0x%02hhX>"))
  if (p.length !== 6 || p[0] !== 0x3c || p[1] !== 0x30 || p[2] !== 0x78 || p[5] !== 0x3e) return -1;
  const hex = String.fromCharCode(p[3], p[4]);
  return /^[0-9A-Fa-f]{2}$/.test(hex) ? parseInt(hex, 16) : -1;
}

export class Llama2cTokenizer {
  readonly kind = 'llama2c';
  readonly bos = 1;
  readonly eos = 2;
  readonly vocabSize: number;
  readonly maxTokenLength: number;
  readonly scores: Float32Array;
  /** Piece bytes by id (views into a private copy of the file). */
  readonly pieceBytes: readonly Uint8Array[];
  private readonly byteValue: Int16Array; // raw byte of a <0xHH> piece, else -1
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder('utf-8', { ignoreBOM: true });
  private piecesCache?: string[];

  private constructor(private readonly asm: AsmExports, pieceBytes: Uint8Array[], p: Parsed) {
    this.vocabSize = p.offs.length;
    this.maxTokenLength = p.maxTokenLength;
    this.scores = p.scores;
    this.pieceBytes = pieceBytes;
    this.byteValue = Int16Array.from(this.pieceBytes, byteOf);
  }

  static async fromBytes(bytes: Uint8Array, opts: TokenizerOptions = {}): Promise<Llama2cTokenizer> {
    const p = parse(bytes, opts);
    const asm = await instantiateAsm();
    const file = bytes.slice();
    const pieceBytes = Array.from(p.offs, (o, i) => file.subarray(o, o + p.lens[i]));
    if (!loadVocab(asm, pieceBytes, p.scores) || !asm.tok_init()) {
      fail(`out of wasm memory loading the ${pieceBytes.length} pieces of a ${file.byteLength}-byte tokenizer`);
    }
    return new Llama2cTokenizer(asm, pieceBytes, p);
  }

  /** Piece strings by id (llama2.c form: " " instead of SentencePiece's "▁"; "<0xHH>" for byte pieces). */
  get pieces(): readonly string[] {
    return (this.piecesCache ??= this.pieceBytes.map((b) => this.dec.decode(b)));
  }

  /**
   * run.c `encode`: [BOS], the dummy-prefix " " when the text is non-empty, each UTF-8 character's piece
   * (else its bytes as id byte + 3), then merge the adjacent pair whose concatenation is the best-scoring
   * piece (leftmost on ties) until none is left; [EOS]. Unlike C strings, a NUL character is encoded.
   */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const bytes = this.enc.encode(text);
    const asm = this.asm;
    const ptr = asm.tok_encode_begin(bytes.byteLength);
    if (!ptr) fail(`out of wasm memory encoding ${bytes.byteLength} bytes of text`, 'encode the text in smaller pieces');
    new Uint8Array(asm.memory.buffer, ptr, bytes.byteLength).set(bytes);
    const k = asm.tok_encode(bytes.byteLength, opts.bos === false ? 0 : 1);
    if (k === -2) fail('this tokenizer has no " " piece for the dummy prefix', FIX_FILE);
    const ids = Array.from(new Int32Array(asm.memory.buffer, asm.tok_out_ptr(), k));
    if (opts.eos) ids.push(this.eos);
    return ids;
  }

  /**
   * run.c `decode`, over a whole sequence: a piece right after BOS loses one leading space (the dummy prefix),
   * "<0xHH>" pieces are raw bytes, BOS and EOS print nothing; the bytes are then decoded as UTF-8 together,
   * so characters spelled with several byte-fallback ids come back (invalid UTF-8 becomes U+FFFD).
   */
  decode(ids: ArrayLike<number>): string {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        fail(`decode: id ${id} at position ${i} is not a token of this ${this.vocabSize}-piece tokenizer`,
          'decode ids produced by this tokenizer (or by a model with the same vocab_size)');
      }
      if (id === this.bos || id === this.eos) continue;
      const b = this.byteValue[id];
      let p = b >= 0 ? Uint8Array.of(b) : this.pieceBytes[id];
      if (b < 0 && i > 0 && ids[i - 1] === this.bos && p[0] === 0x20) p = p.subarray(1);
      parts.push(p);
      total += p.length;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return this.dec.decode(out);
  }
}
