// bytes: the byte-level tokenizer of the built-in default reference (id = UTF-8 byte, vocabulary
// 256, no BOS/EOS), and its Hugging Face tokenizer.json: a byte-level BPE with no merges whose
// vocabulary maps GPT-2's printable stand-in for byte b to id b, so transformers and our own loader
// encode text to exactly the UTF-8 bytes (the GPT-2 pre-tokenizer split is kept: with no merges it
// changes nothing, and it is the ByteLevel form every loader reads).
import { bytesToUnicode } from './bpe.js';

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

export function byteTokenizerJson(): string {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, b) => { vocab[ch] = b; });
  return JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    post_processor: null, decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  });
}
