// _rows: the workgroup row reduction that the row kernels share (kernels/layernorm.wgsl, rmsnorm.wgsl,
// crossentropy.wgsl, distill.wgsl, gradnorm.wgsl; included, scripts/gen.mjs): each of the WG threads holds a partial of
// one row, and a tree in workgroup memory folds them, thread i taking i + s for s = WG/2, WG/4, .., 1
// (WG a power of two). kernels/_rows_subgroup.wgsl row_sum_sg adds in this same order.
var<workgroup> partial: array<f32, WG>;

// max (is_max) or sum of v over the workgroup; every thread gets the result
fn row_reduce(v: f32, lid: u32, is_max: bool) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      if (is_max) { partial[lid] = max(partial[lid], partial[lid + s]); } else { partial[lid] += partial[lid + s]; }
    }
    workgroupBarrier();
  }
  let r = partial[0];
  workgroupBarrier();   // partial is reused by the next reduction
  return r;
}

fn row_sum(v: f32, lid: u32) -> f32 { return row_reduce(v, lid, false); }
fn row_max(v: f32, lid: u32) -> f32 { return row_reduce(v, lid, true); }
