// reduce: deterministic column sums in two stages (no float atomics), for parameter gradients that
// sum over the B*T rows (biases, norm weights): 1) a thread per (column, block of ROWS rows) sums its
// block in row order into partial[block, column]; 2) a thread per column adds the blocks in order.
//   colsum_partial: partial (NB, C) = block sums of x[n * ld + c0 + c], n < N     x: (N, ld)
//   colsum_finish:  out (C) += sum_b partial[b, c]
// The norm kernels (rmsnorm.wgsl, layernorm.wgsl) write their own partials and use colsum_finish.
override WG: u32;    // threads per workgroup: set by the launcher (src/gpu/kernels/reduce.ts)
override ROWS: u32;  // rows per block: set by the launcher
struct PDims { N: u32, C: u32, ld: u32, c0: u32 }
@group(0) @binding(0) var<uniform> pd: PDims;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

@compute @workgroup_size(WG)
fn colsum_partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let blk = gid.y;
  if (c >= pd.C) { return; }
  var s = 0.0;
  for (var n = blk * ROWS; n < min(pd.N, (blk + 1u) * ROWS); n++) { s += x[n * pd.ld + pd.c0 + c]; }
  partial[blk * pd.C + c] = s;
}

struct FDims { NB: u32, C: u32 }
@group(0) @binding(0) var<uniform> fd: FDims;
@group(0) @binding(1) var<storage, read_write> fout: array<f32>;
@group(0) @binding(2) var<storage, read> fpartial: array<f32>;

@compute @workgroup_size(WG)
fn colsum_finish(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= fd.C) { return; }
  var s = 0.0;
  for (var b = 0u; b < fd.NB; b++) { s += fpartial[b * fd.C + c]; }
  fout[c] += s;
}
