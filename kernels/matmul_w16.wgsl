// matmul_w16: the forward matmul with its weight kept in the stored 16-bit dtype (bf16 or f16, two per
// u32 word), widened to f32 as it is read: a teacher runs forward only at 2 bytes a parameter
// (src/gpu/kernels/matmul_w16.ts; the arena: src/model/arena.ts keep16).
// out: (N, ldo) of which columns [oc0, oc0+OC) are written   inp: (N, C) f32
// weight: (OC, C) 16-bit, element (o, c) at value index o*C + c (word >> 1, half & 1)   bias: (OC) f32
//   out[n, oc0 + o] = sum_c inp[n, c] * widen(weight[o, c]) (+ bias[o]), c in order 0..C-1
// Two entries, chosen by the launcher: matmul_w16 (any shape, scalar loads) and gemm_w16 (C a multiple
// of 4: vec4 rows of inp, a word pair per 4 weights, one fma per step as kernels/matmul.wgsl's
// gemm_regs, so an f32 copy of the same weights gives the same sums). Each thread a 4x4 block of out,
// 8x8 threads a workgroup (32x32). Fused epilogue EPI as kernels/matmul.wgsl's forward codes: 0 none;
// 1 / 2 out = the pre-activation and x = GELU tanh / erf of it; 5 out = x + the product (the residual
// stream). F16_IN / F16_OUT: --precision f16's rounding of the operands and the output (a teacher
// under f16 runs as autocast would), as in kernels/matmul.wgsl. No backward: a teacher is not trained.

//#include _w16.wgsl
//#include _r16.wgsl
//#include _gelu.wgsl

override F16_IN: bool = false;
override F16_OUT: bool = false;
override EPI: u32 = 0u;
fn h4(x: vec4<f32>) -> vec4<f32> { if (F16_IN) { return r16(x); } return x; }
fn o16(v: f32) -> f32 { if (F16_OUT) { return r16(vec4<f32>(v)).x; } return v; }

struct Dims { N: u32, C: u32, OC: u32, ldo: u32, oc0: u32, has_bias: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<u32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> x: array<f32>;
// gemm_w16's views of the same bindings: rows of inp as vec4, 4 weights as a word pair
@group(0) @binding(2) var<storage, read> inp4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> weight2: array<vec2<u32>>;

// the weight at value index i, widened
fn wt(i: u32) -> f32 {
  let v = widen2(weight[i >> 1u]);
  return select(v.x, v.y, (i & 1u) == 1u);
}

// out[at] from the sum v (+ bias), through the epilogue
fn put(at: u32, v: f32) {
  let y = o16(v);
  if (EPI == 1u) { out[at] = y; x[at] = gelu_tanh(y); }
  else if (EPI == 2u) { out[at] = y; x[at] = gelu_erf(y); }
  else if (EPI == 5u) { out[at] = x[at] + y; }
  else { out[at] = y; }
}

// the rows/columns of a 4x4 block that exist, + bias
fn store(n0: u32, o0: u32, acc: array<vec4<f32>, 4>) {
  for (var i = 0u; i < 4u; i++) {
    if (n0 + i >= d.N) { break; }
    for (var j = 0u; j < 4u; j++) {
      let o = o0 + j;
      if (o >= d.OC) { break; }
      var v = acc[i][j];
      if (d.has_bias == 1u) { v += bias[o]; }
      put((n0 + i) * d.ldo + d.oc0 + o, v);
    }
  }
}

@compute @workgroup_size(8, 8)
fn matmul_w16(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o0 = gid.x * 4u;                  // first of this thread's 4 output columns
  let n0 = gid.y * 4u;                  // first of its 4 rows
  if (o0 >= d.OC || n0 >= d.N) { return; }
  // the 4 inp rows and 4 weight rows (clamped: tail lanes recompute the last row)
  let nl = d.N - 1u;
  let ol = d.OC - 1u;
  let i = vec4<u32>(n0, min(n0 + 1u, nl), min(n0 + 2u, nl), min(n0 + 3u, nl)) * d.C;
  let w = vec4<u32>(o0, min(o0 + 1u, ol), min(o0 + 2u, ol), min(o0 + 3u, ol)) * d.C;
  var acc: array<vec4<f32>, 4>;
  for (var c = 0u; c < d.C; c++) {
    let wv = h4(vec4<f32>(wt(w.x + c), wt(w.y + c), wt(w.z + c), wt(w.w + c)));
    let xv = h4(vec4<f32>(inp[i.x + c], inp[i.y + c], inp[i.z + c], inp[i.w + c]));
    for (var r = 0u; r < 4u; r++) { acc[r] = fma(vec4<f32>(xv[r]), wv, acc[r]); }
  }
  store(n0, o0, acc);
}

@compute @workgroup_size(8, 8)
fn gemm_w16(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o0 = gid.x * 4u;
  let n0 = gid.y * 4u;
  if (o0 >= d.OC || n0 >= d.N) { return; }
  let nl = d.N - 1u;
  let ol = d.OC - 1u;
  // in vec4 / word-pair units: C is a multiple of 4, so a row starts on a vec4 and on a word pair
  let q = d.C / 4u;
  let i = vec4<u32>(n0, min(n0 + 1u, nl), min(n0 + 2u, nl), min(n0 + 3u, nl)) * q;
  let w = vec4<u32>(o0, min(o0 + 1u, ol), min(o0 + 2u, ol), min(o0 + 3u, ol)) * q;
  var acc: array<vec4<f32>, 4>;
  for (var k = 0u; k < q; k++) {
    // a[r] = inp row r, 4 values of c; b[j] = weight row j's 4 values (4 columns of the block)
    var a = array<vec4<f32>, 4>(h4(inp4[i.x + k]), h4(inp4[i.y + k]), h4(inp4[i.z + k]), h4(inp4[i.w + k]));
    var b: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
      let p = weight2[w[j] + k];
      b[j] = h4(vec4<f32>(widen2(p.x), widen2(p.y)));
    }
    // c in order: one fma per (row, column) and c
    for (var cc = 0u; cc < 4u; cc++) {
      let bc = vec4<f32>(b[0][cc], b[1][cc], b[2][cc], b[3][cc]);
      for (var r = 0u; r < 4u; r++) { acc[r] = fma(vec4<f32>(a[r][cc]), bc, acc[r]); }
    }
  }
  store(n0, o0, acc);
}
