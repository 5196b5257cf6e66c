// convert: raw 16-bit floats <-> f32, for weights uploaded in their stored dtype (src/model/arena.ts)
// and for activations kept in f16 between a block's forward and its backward (--precision f16,
// src/model/family.ts). The 16-bit side: (ceil(N/2)) u32 words, two little-endian 16-bit values each
// (element 2k in the low half of word k); the f32 side: (N) values as their bit patterns. Integer
// arithmetic only, so every value (NaN payloads, subnormals) is exact and no driver rounding mode
// or folding applies.
// convert_bf16: the bf16 bits are the top half of the f32. convert_f16: IEEE binary16 -> binary32,
// subnormals normalized, infinities and NaNs kept (the payload shifted into place).
// convert_to_f16: binary32 -> binary16 rounded to nearest, ties to even (as kernels/matmul.wgsl's h4),
// f16 subnormals kept, overflow to infinity, NaN stays NaN; one thread per output word.
// store_bf16 (--grad-dtype bf16, src/train/grads16.ts): f32 -> bf16 rounded to nearest, ties to even
// (PyTorch's c10::BFloat16 rounding: a NaN becomes the quiet NaN 0x7fc0; overflow rounds to infinity,
// subnormals round as any value), written to output words w0 + k, element 2k and 2k + 1 of the input in
// each (past N: 0). With acc = 1 the word's two old bf16 values are widened and added in f32 first.
// round_bf16: the same rounding in place, each f32 replaced by its bf16 value widened.
// No backward: storage only.
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

//#include _half.wgsl

@compute @workgroup_size(WG)
fn convert_f16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  out[i] = f16_to_f32_bits(half_at(i));
}

// the binary16 bits nearest to the f32 with bits x (ties to even)
fn f32_to_f16_bits(x: u32) -> u32 {
  let s = (x >> 16u) & 0x8000u;
  let e = (x >> 23u) & 0xffu;
  let m = x & 0x7fffffu;
  if (e == 255u) { return s | 0x7c00u | select(0u, 0x200u | (m >> 13u), m != 0u); }
  if (e >= 143u) { return s | 0x7c00u; }                 // >= 2^16: past the largest f16
  if (e <= 101u) { return s; }                           // < 2^-25: rounds to zero
  // the 24-bit significand and how many of its low bits fall below the f16 ulp (13 for normals)
  let full = m | 0x800000u;
  let shift = select(126u - e, 13u, e >= 113u);
  var h = full >> shift;
  if (e >= 113u) { h = ((e - 112u) << 10u) | (m >> 13u); }
  let rem = full & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (h & 1u) == 1u)) { h += 1u; } // a carry moves into the exponent (up to infinity): still exact
  return s | h;
}

@compute @workgroup_size(WG)
fn convert_to_f16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_id) lid: vec3<u32>) {
  let w = (wid.y * nwg.x + wid.x) * WG + lid.x;
  let i = 2u * w;
  if (i >= d.N) { return; }
  let lo = f32_to_f16_bits(inp[i]);
  let hi = select(0u, f32_to_f16_bits(inp[i + 1u]), i + 1u < d.N);
  out[w] = lo | (hi << 16u);
}

// the bf16 bits nearest to the f32 with bits x (ties to even); NaN -> 0x7fc0
fn f32_to_bf16_bits(x: u32) -> u32 {
  if ((x & 0x7fffffffu) > 0x7f800000u) { return 0x7fc0u; }
  return (x + 0x7fffu + ((x >> 16u) & 1u)) >> 16u;       // the carry rounds up into the exponent (to infinity at the top): exact
}

struct SDims { N: u32, acc: u32, w0: u32 }
@group(0) @binding(0) var<uniform> sd: SDims;

fn stored(w: u32, k: u32, x: u32) -> u32 {
  if (sd.acc == 0u) { return f32_to_bf16_bits(x); }
  let old = bitcast<f32>(((out[w] >> (16u * k)) & 0xffffu) << 16u);
  return f32_to_bf16_bits(bitcast<u32>(old + bitcast<f32>(x)));
}

@compute @workgroup_size(WG)
fn store_bf16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
  let k = (wid.y * nwg.x + wid.x) * WG + lid.x;
  let i = 2u * k;
  if (i >= sd.N) { return; }
  let w = sd.w0 + k;
  let lo = stored(w, 0u, inp[i]);
  let hi = select(0u, stored(w, 1u, inp[i + 1u]), i + 1u < sd.N);
  out[w] = lo | (hi << 16u);
}

@compute @workgroup_size(WG)
fn round_bf16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  out[i] = f32_to_bf16_bits(out[i]) << 16u;
}
