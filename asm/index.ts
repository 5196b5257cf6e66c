// asm: the wasm surface (re-exports only). Built by scripts/gen.mjs into src/gen/asm.ts.
// C-like boundary: bytes in, ints out, pointers to static/bump-allocated buffers; no strings or GC objects.
// One tokenizer per instance: vocab_init (every tokenizer's first call) drops whatever the instance held before.
export function version(): i32 { return 2; }
export { tok_init, tok_encode_begin, tok_encode, tok_out_ptr } from './llama2c';
export {
  vocab_init, vocab_build, vocab_offs_ptr, vocab_lens_ptr, vocab_blob_ptr, vocab_scores_ptr, vocab_flags_ptr,
} from './vocab';
export {
  bpe_init, bpe_merge_add, bpe_byte_ids_ptr, bpe_build, bpe_begin, bpe_ends_ptr, bpe_out_ptr, bpe_encode,
} from './bpe';
export { spm_init, spm_byte_ids_ptr, spm_build, spm_begin, spm_encode, spm_out_ptr } from './spm';
