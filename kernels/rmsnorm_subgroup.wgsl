// rmsnorm_subgroup: the row passes of kernels/rmsnorm.wgsl for a workgroup that is one subgroup, as
// kernels/layernorm_subgroup.wgsl does for LayerNorm (the same bits: an xor butterfly of shuffles in
// row_sum's order, no barrier, the row's C / WG values per lane kept in registers, C <= WG * ROW_CACHE).
// Compiled after the text of kernels/rmsnorm.wgsl (scripts/gen.mjs), whose shapes and bindings it uses.
//   rmsnorm_forward_sg   out (=), rstd (=), as rmsnorm_forward
//   rmsnorm_backward_sg  dinp (+=), as rmsnorm_backward
enable subgroups;

//#include _rows_subgroup.wgsl

@compute @workgroup_size(WG)
fn rmsnorm_forward_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= d.N) { return; }
  let x = row * d.C;
  let nj = lane_cols(d.C, lid.x);
  var xs: array<f32, ROW_CACHE>;
  var s = 0.0;
  for (var j = 0u; j < nj; j++) { xs[j] = inp[x + lid.x + j * WG]; s += xs[j] * xs[j]; }
  let r = inverseSqrt(row_sum_sg(s) / f32(d.C) + d.eps);
  for (var j = 0u; j < nj; j++) { let c = lid.x + j * WG; out[x + c] = xs[j] * r * weight[c]; }
  if (lid.x == 0u) { rstd[row] = r; }
}

@compute @workgroup_size(WG)
fn rmsnorm_backward_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= bd.N) { return; }
  let x = row * bd.C;
  let r = brstd[row];
  let nj = lane_cols(bd.C, lid.x);
  var xs: array<f32, ROW_CACHE>;        // inp
  var dns: array<f32, ROW_CACHE>;       // dnorm = dout * weight
  var s = 0.0;
  for (var j = 0u; j < nj; j++) {
    let c = lid.x + j * WG;
    dns[j] = dout[x + c] * bweight[c];
    xs[j] = binp[x + c];
    s += dns[j] * xs[j] * r;
  }
  let m = row_sum_sg(s) / f32(bd.C);
  for (var j = 0u; j < nj; j++) { dinp[x + lid.x + j * WG] += r * (dns[j] - xs[j] * r * m); }
}
