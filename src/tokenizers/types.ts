// types: the one interface every tokenizer (bpe.ts, sentencepiece.ts, llama2c.ts, bytes.ts) implements.

export interface EncodeOptions {
  /** Prepend the BOS token (default false; the llama2.c tokenizer defaults to true, as run.c). */
  bos?: boolean;
  /** Append the EOS token (default false). */
  eos?: boolean;
  /**
   * Special tokens (<|endoftext|>, <s>, </s>, ...) written in the text are plain text, not their ids (Hugging Face's
   * `split_special_tokens=True`). Default: the tokenizer's own setting (tokenizerFromFiles' splitSpecialTokens, false:
   * a special token's text becomes its id, as HF tokenizers and transformers.js encode). llama2.c tokenizers match none.
   */
  splitSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave special tokens out (HF skip_special_tokens; default false: their text, as HF decode). */
  skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** 'byte-bpe' | 'metaspace-bpe' | 'sentencepiece' | 'llama2c' | 'bytes' */
  kind: string;
  /** Number of ids (max id + 1). */
  vocabSize: number;
  bos: number | null;
  eos: number | null;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
}
