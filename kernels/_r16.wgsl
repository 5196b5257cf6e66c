// _r16: x rounded to the nearest f16, kept as f32 (--precision f16's operand and output rounding), the
// same function as kernels/matmul.wgsl's r16 (kept there while that file is reworked; it should include
// this one). Ties to even, subnormals kept, |x| >= 65520 to +-inf, NaN stays NaN. Integer and
// power-of-two arithmetic only: drivers may fold an f32->f16->f32 round trip (pack2x16float) away.
// Included (scripts/gen.mjs).
fn r16(x: vec4<f32>) -> vec4<f32> {
  let e = max((bitcast<vec4<u32>>(x) >> vec4<u32>(23u)) & vec4<u32>(255u), vec4<u32>(113u)) - vec4<u32>(10u);
  let r = round(x * bitcast<vec4<f32>>((vec4<u32>(254u) - e) << vec4<u32>(23u))) * bitcast<vec4<f32>>(e << vec4<u32>(23u));
  return select(r, x * 3.0e38, !(abs(r) <= vec4<f32>(65504.0)));
}
