// layernorm: out = (x - mean) * rstd * weight + bias, over C, per (b,t) row (GPT-2's LayerNorm).
// out, inp: (N,C) with N = B*T   weight, bias: (C)   mean, rstd: (N) cached for backward
// backward, with norm = (x - mean) * rstd and dnorm = dout * weight:
//   dinp = rstd * (dnorm - mean_c(dnorm) - norm * mean_c(dnorm * norm))
//   dweight = sum_n dout * norm     dbias = sum_n dout
// = / +=: dinp += (it is the residual stream's gradient, as in llm.c's layernorm.cuh);
//   dweight, dbias += (parameters).
// reference: llm.c layernorm_forward/backward; PyTorch nn.LayerNorm (biased variance)
// forward, one workgroup per row: 1) mean  2) variance about the mean (two-pass, as PyTorch)  3) normalize
// backward: rows as forward; the column sums (dweight, dbias) are a separate entry point, two stages:
// block partials here, the blocks in order by kernels/reduce.wgsl colsum_finish (deterministic).
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/norms.ts)
struct Dims { N: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<f32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

//#include _rows.wgsl

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

struct BDims { N: u32, C: u32 }
@group(0) @binding(0) var<uniform> bd: BDims;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> binp: array<f32>;
@group(0) @binding(4) var<storage, read> bweight: array<f32>;
@group(0) @binding(5) var<storage, read> bmean: array<f32>;
@group(0) @binding(6) var<storage, read> brstd: array<f32>;

@compute @workgroup_size(WG)
fn layernorm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= bd.N) { return; }
  let x = row * bd.C;                   // seek to inp[row,:], dout[row,:], dinp[row,:]
  let m = bmean[row];
  let r = brstd[row];
  // 1) the two row means: of dnorm and of dnorm * norm
  var s1 = 0.0;
  var s2 = 0.0;
  for (var c = lid.x; c < bd.C; c += WG) {
    let dn = dout[x + c] * bweight[c];
    s1 += dn;
    s2 += dn * (binp[x + c] - m) * r;
  }
  let dnorm_mean = row_sum(s1, lid.x) / f32(bd.C);
  let dnorm_norm_mean = row_sum(s2, lid.x) / f32(bd.C);
  // 2) dinp += rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
  for (var c = lid.x; c < bd.C; c += WG) {
    let norm = (binp[x + c] - m) * r;
    dinp[x + c] += r * (dout[x + c] * bweight[c] - dnorm_mean - norm * dnorm_norm_mean);
  }
}

// partials of dweight[c] = sum_n dout[n,c] * norm[n,c] and dbias[c] = sum_n dout[n,c]: one thread per
// (column, block of ROWS rows), n in order; partial[blk, c] (dweight) and partial[bofs + blk * C + c] (dbias)
override ROWS: u32;   // rows per block: set by the launcher (src/gpu/kernels/reduce.ts ROWS)
struct WDims { N: u32, C: u32, bofs: u32 }
@group(0) @binding(0) var<uniform> wd: WDims;
@group(0) @binding(1) var<storage, read_write> wpartial: array<f32>;
@group(0) @binding(2) var<storage, read> wdout: array<f32>;
@group(0) @binding(3) var<storage, read> winp: array<f32>;
@group(0) @binding(4) var<storage, read> wmean: array<f32>;
@group(0) @binding(5) var<storage, read> wrstd: array<f32>;

@compute @workgroup_size(WG)
fn layernorm_backward_dweight(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let blk = gid.y;
  if (c >= wd.C) { return; }
  var sw = 0.0;
  var sb = 0.0;
  for (var n = blk * ROWS; n < min(wd.N, (blk + 1u) * ROWS); n++) {
    let dy = wdout[n * wd.C + c];
    sw += dy * (winp[n * wd.C + c] - wmean[n]) * wrstd[n];
    sb += dy;
  }
  wpartial[blk * wd.C + c] = sw;
  wpartial[wd.bofs + blk * wd.C + c] = sb;
}
