// convert: raw 16-bit floats -> f32, for weights uploaded in their stored dtype (src/model/arena.ts).
// out: (N) f32 values, written as their bit patterns (so every value, NaN payloads and subnormals
// included, is exact: no float arithmetic happens); inp: (ceil(N/2)) u32 words, two little-endian
// 16-bit values each (element 2k in the low half of word k).
// convert_bf16: the bf16 bits are the top half of the f32. convert_f16: IEEE binary16 -> binary32,
// subnormals normalized, infinities and NaNs kept (the payload shifted into place).
// No backward: loading only.
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/convert.ts)
struct Dims { N: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read> inp: array<u32>;

fn half_at(i: u32) -> u32 {
  return (inp[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu;
}

@compute @workgroup_size(WG)
fn convert_bf16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  out[i] = half_at(i) << 16u;
}

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

@compute @workgroup_size(WG)
fn convert_f16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  out[i] = f16_to_f32_bits(half_at(i));
}
