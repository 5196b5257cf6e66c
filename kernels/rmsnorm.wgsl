// rmsnorm: out = x / sqrt(mean(x^2) + eps) * weight, over C, per (b,t) row (Llama's RMSNorm).
// out, inp: (N,C) with N = B*T   weight: (C)   rstd: (N) cached for backward
// backward, with norm = x * rstd and dnorm = dout * weight:
//   dinp = rstd * (dnorm - norm * mean_c(dnorm * norm))     dweight = sum_n dout * norm
// = / +=: dinp += (it is the residual stream's gradient, as in llm.c's layernorm.cuh), dweight += (parameter).
// reference: PyTorch LlamaRMSNorm (float32 path); llama2.c rmsnorm()
// rows: one workgroup per row, tree-reduced in workgroup memory; the dweight column sums are a
// separate entry point, two stages (blocks of rows, then the blocks in order: deterministic).
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/norms.ts)
struct Dims { N: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> inp: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;

//#include _rows.wgsl

@compute @workgroup_size(WG)
fn rmsnorm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;      // one (b,t) row per workgroup; folded grids flatten here
  if (row >= d.N) { return; }           // uniform per workgroup, so barriers below stay uniform
  let x = row * d.C;                    // seek to inp[row,:]
  // 1) sum of squares
  var s = 0.0;
  for (var c = lid.x; c < d.C; c += WG) { let v = inp[x + c]; s += v * v; }
  // 2) normalize and scale
  let r = inverseSqrt(row_sum(s, lid.x) / f32(d.C) + d.eps);
  for (var c = lid.x; c < d.C; c += WG) { out[x + c] = inp[x + c] * r * weight[c]; }
  if (lid.x == 0u) { rstd[row] = r; }
}

struct BDims { N: u32, C: u32 }
@group(0) @binding(0) var<uniform> bd: BDims;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> binp: array<f32>;
@group(0) @binding(4) var<storage, read> bweight: array<f32>;
@group(0) @binding(5) var<storage, read> brstd: array<f32>;

@compute @workgroup_size(WG)
fn rmsnorm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= bd.N) { return; }
  let x = row * bd.C;                   // seek to inp[row,:], dout[row,:], dinp[row,:]
  let r = brstd[row];
  // 1) mean of dnorm * norm over the row
  var s = 0.0;
  for (var c = lid.x; c < bd.C; c += WG) { s += dout[x + c] * bweight[c] * binp[x + c] * r; }
  let m = row_sum(s, lid.x) / f32(bd.C);
  // 2) dinp += rstd * (dnorm - norm * m)
  for (var c = lid.x; c < bd.C; c += WG) {
    dinp[x + c] += r * (dout[x + c] * bweight[c] - binp[x + c] * r * m);
  }
}

// dweight partials: partial[blk, c] = sum_{n in block blk} dout[n,c] * inp[n,c] * rstd[n], one thread per
// (column, block of ROWS rows), n in order; kernels/reduce.wgsl colsum_finish adds the blocks into dweight
override ROWS: u32;   // rows per block: set by the launcher (src/gpu/kernels/reduce.ts ROWS)
struct WDims { N: u32, C: u32 }
@group(0) @binding(0) var<uniform> wd: WDims;
@group(0) @binding(1) var<storage, read_write> wpartial: array<f32>;
@group(0) @binding(2) var<storage, read> wdout: array<f32>;
@group(0) @binding(3) var<storage, read> winp: array<f32>;
@group(0) @binding(4) var<storage, read> wrstd: array<f32>;

@compute @workgroup_size(WG)
fn rmsnorm_backward_dweight(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let blk = gid.y;
  if (c >= wd.C) { return; }
  var s = 0.0;
  for (var n = blk * ROWS; n < min(wd.N, (blk + 1u) * ROWS); n++) { s += wdout[n * wd.C + c] * winp[n * wd.C + c] * wrstd[n]; }
  wpartial[blk * wd.C + c] = s;
}
