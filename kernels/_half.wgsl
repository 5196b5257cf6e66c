// _half: IEEE binary16 bits -> binary32 bits with integer arithmetic only, so every value (NaN payloads,
// subnormals) is exact and no driver rounding mode or folding applies. Shared by kernels/convert.wgsl
// (widening weights and f16-stored activations) and the kernels that read 16-bit weights in place
// (kernels/matmul_w16.wgsl, kernels/encoder_w16.wgsl). Included (scripts/gen.mjs).
fn f16_to_f32_bits(h: u32) -> u32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 31u) { return s | 0x7f800000u | (m << 13u); }
  if (e == 0u) {
    if (m == 0u) { return s; }
    // m * 2^-24 with m's top bit at p: 2^(p - 24) * 1.f
    let p = firstLeadingBit(m);
    return s | ((p + 103u) << 23u) | ((m << (23u - p)) & 0x7fffffu);
  }
  return s | ((e + 112u) << 23u) | (m << 13u);
}
