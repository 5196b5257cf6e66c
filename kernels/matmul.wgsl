// matmul: out = inp @ weight^T (+ bias), PyTorch nn.Linear layout (llm.c matmul_forward/backward).
// out: (N, ldo) of which columns [oc0, oc0+OC) are written   inp: (N, C)   weight: (OC, C)   bias: (OC)
// backward: dinp (N,C) = dout @ weight;  dweight (OC,C) += dout^T @ inp;  dbias (OC) += column sums of dout
// = / +=: dweight and dbias accumulate (+=, parameters); dinp is written (=) by the first OC chunk and
// accumulated by the rest, or accumulated throughout when the launcher is asked to (d.acc = 1), so that
// Llama's q/k/v (and w1/w3) projections of one input can sum their dinp into one buffer.
// The launchers (src/gpu/kernels/matmul.ts) split large weights/outputs into chunks that fit
// maxStorageBufferBindingSize; each chunk binds weight rows [oc0, oc0+OC) and out rows [n0, n0+N).
// Each thread computes a 4x4 block in registers, one pass over the reduced dimension.
// (No workgroup-memory tiling: on CPU Vulkan drivers barriers cost more than they save; a 16x16
// shared-memory tile measured 5.9-10x slower on lavapipe, `npm run bench`.) Tails are clamped on load and
// guarded on store, so any N, C, OC works. Loop orders are fixed, so results are deterministic.
struct Dims { N: u32, C: u32, OC: u32, ldo: u32, oc0: u32, has_bias: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

@compute @workgroup_size(8, 8)
fn matmul_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o0 = gid.x * 4u;                  // first of this thread's 4 output columns
  let n0 = gid.y * 4u;                  // first of its 4 rows
  if (o0 >= d.OC || n0 >= d.N) { return; }
  // 1) seek to the 4 inp rows and 4 weight rows (clamped: tail lanes recompute the last row)
  let nl = d.N - 1u;
  let ol = d.OC - 1u;
  let i0 = n0 * d.C;
  let i1 = min(n0 + 1u, nl) * d.C;
  let i2 = min(n0 + 2u, nl) * d.C;
  let i3 = min(n0 + 3u, nl) * d.C;
  let w0 = o0 * d.C;
  let w1 = min(o0 + 1u, ol) * d.C;
  let w2 = min(o0 + 2u, ol) * d.C;
  let w3 = min(o0 + 3u, ol) * d.C;
  // 2) accumulate the 4x4 block over C
  var acc: array<vec4<f32>, 4>;
  for (var c = 0u; c < d.C; c++) {
    let w = vec4<f32>(weight[w0 + c], weight[w1 + c], weight[w2 + c], weight[w3 + c]);
    acc[0] += inp[i0 + c] * w;
    acc[1] += inp[i1 + c] * w;
    acc[2] += inp[i2 + c] * w;
    acc[3] += inp[i3 + c] * w;
  }
  // 3) add bias and store the rows/columns that exist
  for (var j = 0u; j < 4u; j++) {
    let o = o0 + j;
    if (o >= d.OC) { break; }
    var b = 0.0;
    if (d.has_bias == 1u) { b = bias[o]; }
    for (var i = 0u; i < 4u; i++) {
      if (n0 + i < d.N) { out[(n0 + i) * d.ldo + d.oc0 + o] = acc[i][j] + b; }
    }
  }
}

// backward through the input: dinp[n, c] (=|+=) sum_o dout[n, oc0 + o] * weight[o, c], o over this chunk
struct BDims { N: u32, C: u32, OC: u32, ldd: u32, oc0: u32, acc: u32 }
@group(0) @binding(0) var<uniform> bd: BDims;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> bweight: array<f32>;

@compute @workgroup_size(8, 8)
fn matmul_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c0 = gid.x * 4u;                  // first of this thread's 4 dinp columns
  let n0 = gid.y * 4u;                  // first of its 4 rows
  if (c0 >= bd.C || n0 >= bd.N) { return; }
  // 1) seek to the 4 dout rows (at column oc0) and the 4 weight columns (clamped tails)
  let nl = bd.N - 1u;
  let d0 = n0 * bd.ldd + bd.oc0;
  let d1 = min(n0 + 1u, nl) * bd.ldd + bd.oc0;
  let d2 = min(n0 + 2u, nl) * bd.ldd + bd.oc0;
  let d3 = min(n0 + 3u, nl) * bd.ldd + bd.oc0;
  let cl = bd.C - 1u;
  let ca = vec4<u32>(c0, min(c0 + 1u, cl), min(c0 + 2u, cl), min(c0 + 3u, cl));
  // 2) accumulate the 4x4 block over this chunk's OC rows of weight
  var acc: array<vec4<f32>, 4>;
  for (var o = 0u; o < bd.OC; o++) {
    let w = o * bd.C;
    let wv = vec4<f32>(bweight[w + ca.x], bweight[w + ca.y], bweight[w + ca.z], bweight[w + ca.w]);
    acc[0] += dout[d0 + o] * wv;
    acc[1] += dout[d1 + o] * wv;
    acc[2] += dout[d2 + o] * wv;
    acc[3] += dout[d3 + o] * wv;
  }
  // 3) store (or add to) the rows/columns that exist
  for (var i = 0u; i < 4u; i++) {
    if (n0 + i >= bd.N) { break; }
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + j;
      if (c >= bd.C) { break; }
      let at = (n0 + i) * bd.C + c;
      if (bd.acc == 1u) { dinp[at] += acc[i][j]; } else { dinp[at] = acc[i][j]; }
    }
  }
}

// backward through the parameters: dweight[o, c] += sum_n dout[n, oc0 + o] * inp[n, c];
// dbias[o] += sum_n dout[n, oc0 + o], by the threads of the first column block
struct WDims { N: u32, C: u32, OC: u32, ldd: u32, oc0: u32, has_bias: u32 }
@group(0) @binding(0) var<uniform> wd: WDims;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(3) var<storage, read> wdout: array<f32>;
@group(0) @binding(4) var<storage, read> winp: array<f32>;

@compute @workgroup_size(8, 8)
fn matmul_backward_dweight(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c0 = gid.x * 4u;                  // first of this thread's 4 dweight columns
  let o0 = gid.y * 4u;                  // first of its 4 dweight rows
  if (c0 >= wd.C || o0 >= wd.OC) { return; }
  // 1) this thread's 4 dout columns and 4 inp columns (clamped tails)
  let ol = wd.OC - 1u;
  let oa = vec4<u32>(o0, min(o0 + 1u, ol), min(o0 + 2u, ol), min(o0 + 3u, ol)) + wd.oc0;
  let cl = wd.C - 1u;
  let ca = vec4<u32>(c0, min(c0 + 1u, cl), min(c0 + 2u, cl), min(c0 + 3u, cl));
  // 2) accumulate the 4x4 block (and the 4 column sums of dout) over the N rows, in order
  var acc: array<vec4<f32>, 4>;
  var db = vec4<f32>(0.0);
  for (var n = 0u; n < wd.N; n++) {
    let r = n * wd.ldd;                 // seek to dout[n, :]
    let x = n * wd.C;                   // seek to inp[n, :]
    let dv = vec4<f32>(wdout[r + oa.x], wdout[r + oa.y], wdout[r + oa.z], wdout[r + oa.w]);
    let iv = vec4<f32>(winp[x + ca.x], winp[x + ca.y], winp[x + ca.z], winp[x + ca.w]);
    acc[0] += dv.x * iv;
    acc[1] += dv.y * iv;
    acc[2] += dv.z * iv;
    acc[3] += dv.w * iv;
    db += dv;
  }
  // 3) add into the rows/columns that exist
  for (var i = 0u; i < 4u; i++) {
    let o = o0 + i;
    if (o >= wd.OC) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (c0 + j < wd.C) { dweight[o * wd.C + c0 + j] += acc[i][j]; }
    }
    if (wd.has_bias == 1u && c0 == 0u) { dbias[o] += db[i]; }
  }
}
