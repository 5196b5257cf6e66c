// kernels: one thin launcher per WGSL entry point (kernels/*.wgsl), grouped as the .wgsl files are.
// Launchers compute the grid, pass each kernel's workgroup size as its override constant (the one
// place it is defined), check their assumptions and, where a tensor can exceed
// maxStorageBufferBindingSize (the vocab head, the logits), split the work into chunks that fit.
// Argument order is llm.c's: outputs, then inputs, then sizes.
// Sizes: B batch, T sequence length, C channels, V vocab, NH query heads, KVH key/value heads,
// HS head size, H MLP hidden size, N rows (usually B*T).
export { slice } from '../view.js';
export * from './encoder.js';
export * from './norms.js';
export * from './pointwise.js';
export * from './matmul.js';
export * from './matmul_w16.js';
export * from './matmul_sgmatrix.js';
export * from './rope.js';
export * from './attention.js';
export * from './crossentropy.js';
export * from './optim.js';
export * from './reduce.js';
export * from './convert.js';
export * from './distill.js';
