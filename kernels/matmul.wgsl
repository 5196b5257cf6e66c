// matmul: out = inp @ weight^T (+ bias), PyTorch nn.Linear layout (llm.c matmul_forward).
// out: (N, ldo) of which columns [oc0, oc0+OC) are written   inp: (N, C)   weight: (OC, C)   bias: (OC)
// The launcher (src/kernels.ts matmulForward) splits large weights/outputs into chunks that fit
// maxStorageBufferBindingSize; each chunk binds weight rows [oc0, oc0+OC) and out rows [n0, n0+N).
// Each thread computes a 4x4 block of out in registers: 4 rows x 4 columns, one pass over C.
// (No workgroup-memory tiling: on CPU Vulkan drivers barriers cost more than they save; a 16x16
// shared-memory tile measured 18x slower on lavapipe, see bench/.) Tails are clamped on load and
// guarded on store, so any N, C, OC works.
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
