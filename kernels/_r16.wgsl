// _r16: x rounded to the nearest f16, kept as f32 (--precision f16's operand and output rounding, in
// kernels/matmul.wgsl and matmul_w16.wgsl): x / ulp rounded (round() is ties to even) times the ulp, the
// ulp's exponent 10 under x's and 2^-24 at least (f16 subnormals); |x| >= 65520 (over 65504 by half an ulp
// or more) to +-inf, NaN stays NaN, so an overflow shows in the gradient norm and the loss scaler skips the
// step (src/train/scaler.ts). Integer and power-of-two arithmetic only: drivers may fold an
// f32->f16->f32 round trip (pack2x16float) away. Included (scripts/gen.mjs).
fn r16(x: vec4<f32>) -> vec4<f32> {
  let e = max((bitcast<vec4<u32>>(x) >> vec4<u32>(23u)) & vec4<u32>(255u), vec4<u32>(113u)) - vec4<u32>(10u);
  let r = round(x * bitcast<vec4<f32>>((vec4<u32>(254u) - e) << vec4<u32>(23u))) * bitcast<vec4<f32>>(e << vec4<u32>(23u));
  return select(r, x * 3.0e38, !(abs(r) <= vec4<f32>(65504.0)));
}
