// layernorm: out = (x - mean) * rstd * weight + bias, over C, per (b,t) row (GPT-2's LayerNorm).
// out, inp: (N,C) with N = B*T   weight, bias: (C)   mean, rstd: (N) cached for backward
// reference: llm.c layernorm_forward; PyTorch nn.LayerNorm (biased variance)
// one workgroup per row: 1) mean  2) variance about the mean (two-pass, as PyTorch)  3) normalize
override WG: u32 = 64;
struct Dims { N: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

var<workgroup> partial: array<f32, WG>;

fn row_sum(v: f32, lid: u32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();   // partial is reused by the next reduction
  return total;
}

@compute @workgroup_size(WG)
fn layernorm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.C;                    // seek to inp[row,:]
  // 1) mean
  var s = 0.0;
  for (var c = lid.x; c < d.C; c += WG) { s += inp[x + c]; }
  let m = row_sum(s, lid.x) / f32(d.C);
  // 2) variance
  var v = 0.0;
  for (var c = lid.x; c < d.C; c += WG) { let dx = inp[x + c] - m; v += dx * dx; }
  let r = inverseSqrt(row_sum(v, lid.x) / f32(d.C) + d.eps);
  // 3) normalize, scale, shift
  for (var c = lid.x; c < d.C; c += WG) { out[x + c] = (inp[x + c] - m) * r * weight[c] + bias[c]; }
  if (lid.x == 0u) { mean[row] = m; rstd[row] = r; }
}
