// types: the one interface every tokenizer (bpe.ts, sentencepiece.ts, llama2c.ts, bytes.ts) implements.

export interface EncodeOptions {
  /** Prepend the BOS token (default false; the llama2.c tokenizer defaults to true, as run.c). */
  bos?: boolean;
  /** Append the EOS token (default false). */
  eos?: boolean;
  /** Special tokens recognised in the text (tiktoken allowed_special); by default they are plain text. */
  allowedSpecial?: 'all' | Set<string>;
}

export interface Tokenizer {
  /** 'byte-bpe' | 'metaspace-bpe' | 'sentencepiece' | 'llama2c' */
  kind: string;
  /** Number of ids (max id + 1). */
  vocabSize: number;
  bos: number | null;
  eos: number | null;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>): string;
}
