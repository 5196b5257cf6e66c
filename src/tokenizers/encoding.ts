// encoding: what every tokenizer in bpe.ts and sentencepiece.ts shares: BOS/EOS, cutting long texts where a cut
// changes no id, and the typed-array glue around the wasm output (special tokens in text: added.ts).
import { fail } from '../util/errors.js';
import type { EncodeOptions } from './types.js';

/** The GPT-2 document separator: BOS and EOS of GPT-2 style tokenizers. */
export const ENDOFTEXT = '<|endoftext|>';

/** ids with BOS/EOS added as asked; fails when the tokenizer has none. */
export function wrapBosEos(ids: number[], opts: EncodeOptions | undefined, bos: number | null, eos: number | null,
  kind: string): number[] {
  if (opts?.bos) {
    if (bos === null) fail(`this ${kind} tokenizer has no BOS token`, 'encode without { bos: true }');
    ids.unshift(bos);
  }
  if (opts?.eos) {
    if (eos === null) fail(`this ${kind} tokenizer has no EOS token`, 'encode without { eos: true }');
    ids.push(eos);
  }
  return ids;
}

/** Appends a typed array to a plain array without spreading (no argument-count limit). */
export function pushAll(out: number[], ids: ArrayLike<number>): void {
  for (let i = 0; i < ids.length; i++) out.push(ids[i]);
}

const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0 || c === 0x1680 ||
  (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 ||
  c === 0xfeff;

/**
 * Where a long text may be cut so that tokenizing the two halves separately gives the same ids: before a
 * " " that follows a non-space and is followed by a non-space (" word"). GPT-2's pre-tokens never hold a
 * non-space followed by whitespace, so any non-space -> whitespace boundary is a pre-token boundary, and the
 * regex has no look-behind. Returns the cut index in [min, max], the last one found, or -1.
 */
export function safeCut(text: string, min: number, max: number): number {
  for (let i = Math.min(max, text.length - 1); i > min; i--) {
    if (text.charCodeAt(i) === 0x20 && !isSpace(text.charCodeAt(i - 1)) && i + 1 < text.length &&
      !isSpace(text.charCodeAt(i + 1))) return i;
  }
  return -1;
}

/** Cuts text into pieces of at most about maxChars UTF-16 units at safeCut points (hard cuts if none). */
export function* chunks(text: string, maxChars: number): Generator<string> {
  let start = 0;
  while (text.length - start > maxChars) {
    let cut = safeCut(text, start + (maxChars >> 1), start + maxChars);
    if (cut < 0) { // no " word" in the second half of the window: cut anyway, between code points
      cut = start + maxChars;
      const c = text.charCodeAt(cut);
      if (c >= 0xdc00 && c <= 0xdfff) cut--;
    }
    yield text.slice(start, cut);
    start = cut;
  }
  yield text.slice(start);
}

/** A growable Int32Array scratch buffer. */
export class IntBuf {
  a = new Int32Array(1024);
  reserve(n: number): Int32Array {
    if (this.a.length < n) this.a = new Int32Array(Math.max(n, this.a.length * 2));
    return this.a;
  }
}
