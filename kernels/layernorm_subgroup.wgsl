// layernorm_subgroup: the row passes of kernels/layernorm.wgsl for a workgroup that is one subgroup
// (WG = the subgroup size: Gpu.rowThreads on a CPU driver, src/gpu/kernels/norms.ts picks it). Compiled
// after the text of kernels/layernorm.wgsl (scripts/gen.mjs), whose shapes and bindings it uses. Same
// sums in the same order, so the same bits: the row sums are an xor butterfly of shuffles, which adds
// what row_sum's tree adds (lane 0's result is the tree's, and every lane's equals it: a + b = b + a),
// with no barrier; and each lane keeps its C / WG values of the row in registers (ROW_CACHE of them at
// most: C <= WG * ROW_CACHE), so the row is read from memory once instead of three times.
//   layernorm_forward_sg   out (=), mean (=), rstd (=), as layernorm_forward
//   layernorm_backward_sg  dinp (+=), as layernorm_backward
enable subgroups;

//#include _rows_subgroup.wgsl

@compute @workgroup_size(WG)
fn layernorm_forward_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.C;                    // seek to inp[row,:]
  let nj = lane_cols(d.C, lid.x);
  var xs: array<f32, ROW_CACHE>;
  // 1) mean
  var s = 0.0;
  for (var j = 0u; j < nj; j++) { xs[j] = inp[x + lid.x + j * WG]; s += xs[j]; }
  let m = row_sum_sg(s) / f32(d.C);
  // 2) variance
  var v = 0.0;
  for (var j = 0u; j < nj; j++) { let dx = xs[j] - m; v += dx * dx; }
  let r = inverseSqrt(row_sum_sg(v) / f32(d.C) + d.eps);
  // 3) normalize, scale, shift
  for (var j = 0u; j < nj; j++) { let c = lid.x + j * WG; out[x + c] = (xs[j] - m) * r * weight[c] + bias[c]; }
  if (lid.x == 0u) { mean[row] = m; rstd[row] = r; }
}

@compute @workgroup_size(WG)
fn layernorm_backward_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= bd.N) { return; }
  let x = row * bd.C;
  let m = bmean[row];
  let r = brstd[row];
  let nj = lane_cols(bd.C, lid.x);
  var xs: array<f32, ROW_CACHE>;        // inp
  var dns: array<f32, ROW_CACHE>;       // dnorm = dout * weight
  // 1) the two row means: of dnorm and of dnorm * norm
  var s1 = 0.0;
  var s2 = 0.0;
  for (var j = 0u; j < nj; j++) {
    let c = lid.x + j * WG;
    dns[j] = dout[x + c] * bweight[c];
    xs[j] = binp[x + c];
    s1 += dns[j];
    s2 += dns[j] * (xs[j] - m) * r;
  }
  let dnorm_mean = row_sum_sg(s1) / f32(bd.C);
  let dnorm_norm_mean = row_sum_sg(s2) / f32(bd.C);
  // 2) dinp += rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
  for (var j = 0u; j < nj; j++) {
    let norm = (xs[j] - m) * r;
    dinp[x + lid.x + j * WG] += r * (dns[j] - dnorm_mean - norm * dnorm_norm_mean);
  }
}
