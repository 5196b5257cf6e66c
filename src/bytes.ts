// bytes: the byte-level tokenizer of the built-in default reference (id = UTF-8 byte, vocabulary
// 256, no BOS/EOS), and its Hugging Face tokenizer.json: a byte-level BPE with no merges whose
// vocabulary maps GPT-2's printable stand-in for byte b to id b, so transformers and our own loader
// encode text to exactly the UTF-8 bytes.

export class ByteTokenizer {
  readonly kind = 'bytes';
  readonly vocabSize = 256;
  readonly bos = null;
  readonly eos = null;

  encode(text: string, _opts?: { bos?: boolean; eos?: boolean }): number[] {
    return Array.from(new TextEncoder().encode(text));
  }

  decode(ids: ArrayLike<number>): string {
    return new TextDecoder().decode(Uint8Array.from(ids as ArrayLike<number>));
  }
}

/** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest map to U+0100 upwards */
export function bytesToUnicode(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep(b) ? b : 256 + n++);
  return out;
}

export function byteTokenizerJson(): string {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, b) => { vocab[ch] = b; });
  return JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    post_processor: null, decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  });
}
