// rmsnorm: out = x / sqrt(mean(x^2) + eps) * weight, over C, per (b,t) row (Llama's RMSNorm).
// out, inp: (N,C) with N = B*T   weight: (C)   rstd: (N) cached for backward
// reference: PyTorch LlamaRMSNorm (float32 path); llama2.c rmsnorm()
// one workgroup per row: 1) sum of squares, tree-reduced in workgroup memory  2) scale
override WG: u32 = 64;
struct Dims { N: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn rmsnorm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;      // one (b,t) row per workgroup; folded grids flatten here
  if (row >= d.N) { return; }           // uniform per workgroup, so barriers below stay uniform
  let x = row * d.C;                    // seek to inp[row,:]
  // 1) sum of squares
  var s = 0.0;
  for (var c = lid.x; c < d.C; c += WG) { let v = inp[x + c]; s += v * v; }
  partial[lid.x] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid.x < stride) { partial[lid.x] += partial[lid.x + stride]; }
    workgroupBarrier();
  }
  // 2) normalize and scale
  let r = inverseSqrt(partial[0] / f32(d.C) + d.eps);
  for (var c = lid.x; c < d.C; c += WG) { out[x + c] = inp[x + c] * r * weight[c]; }
  if (lid.x == 0u) { rstd[row] = r; }
}
