// asm: the wasm surface (re-exports only). Built by scripts/gen.mjs into src/gen/asm.ts.
// C-like boundary: bytes in, ints out, pointers to static/bump-allocated buffers; no strings or GC objects.
export function version(): i32 { return 1; }
export {
  tok_init, tok_build, tok_scores_ptr, tok_offs_ptr, tok_lens_ptr, tok_blob_ptr,
  tok_encode_begin, tok_encode, tok_out_ptr,
} from './llama2c';
