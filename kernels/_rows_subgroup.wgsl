// _rows_subgroup: what the one-subgroup row passes share (kernels/layernorm_subgroup.wgsl,
// rmsnorm_subgroup.wgsl; included, scripts/gen.mjs): a workgroup of WG lanes that is one subgroup owns a
// row of C values, lane l the columns l + j * WG for j < lane_cols(C, l), at most ROW_CACHE of them, kept
// in registers (the launcher, src/gpu/kernels/norms.ts, checks C <= WG * ROW_CACHE).
const ROW_CACHE: u32 = 128u;

// how many of the row's C columns lane l owns
fn lane_cols(C: u32, l: u32) -> u32 {
  return select(0u, (C - l + WG - 1u) / WG, l < C);
}

// the sum of v over the subgroup, every lane getting it, in the order of the workgroup tree row_sum adds
// (kernels/_rows.wgsl; lane 0's xor butterfly is that tree, and every lane's total equals lane 0's: a + b = b + a)
fn row_sum_sg(v: f32) -> f32 {
  var x = v;
  for (var o = WG / 2u; o > 0u; o /= 2u) { x += subgroupShuffleXor(x, o); }
  return x;
}
