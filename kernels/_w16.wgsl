// _w16: weights kept in their stored 16-bit dtype (bf16 or f16), two values per u32 word (element 2k
// in the low half of word k), widened to f32 as a kernel reads them (kernels/matmul_w16.wgsl,
// kernels/encoder_w16.wgsl; the layout: src/model/arena.ts with keep16). Included (scripts/gen.mjs).
//#include _half.wgsl

// the two 16-bit values of one packed word (element 2k in the low half of word k) as f32: bf16 is the
// top half of an f32; f16 is widened above. BF16 is the kernel's override: which of the two the weights are
override BF16: bool;
fn widen2(w: u32) -> vec2<f32> {
  if (BF16) { return bitcast<vec2<f32>>(vec2<u32>(w << 16u, w & 0xffff0000u)); }
  return bitcast<vec2<f32>>(vec2<u32>(f16_to_f32_bits(w & 0xffffu), f16_to_f32_bits(w >> 16u)));
}
