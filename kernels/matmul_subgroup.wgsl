// matmul_subgroup: the gemm of kernels/matmul.wgsl (C(M,N) (=|+=) sum_k A(m,k) B(n,k) (+ bias[n]), A and
// B read by rows or, with A_COL / B_COL, by columns; lda, ldb multiples of 4) with operand sharing
// through subgroupShuffle, for adapters with the `subgroups` feature and subgroups of >= 8 lanes:
// forward, dinp and dweight are the three modes listed there (src/gpu/kernels/matmul.ts picks it).
// Compiled after the text of kernels/matmul.wgsl (scripts/gen.mjs: this file's directives first), whose
// operand layout (A_COL, B_COL, GDims and the gemm bindings) and f16 rounding (h4, o16) it uses.
// 64 threads = 8 groups of 8 consecutive lanes; a group owns 16 rows of C, each lane 4 of its columns
// (a workgroup: 128 rows x 32 columns). Per step of 4 k: each lane loads B for its 4 columns and two
// vec4 of A (row mode: rows l and 8 + l at k..k+3; column mode: 4 rows at one k, per half), and the
// group's 16 rows of A reach every lane by shuffles, so the loop is fma-bound instead of load-bound
// (on lavapipe a shuffle is a register permute, a load a gather; 16 rows measured ~1.3x faster than 8). k runs 0..K-1 in order with one fma per step:
// deterministic, and the same sums as gemm_regs / gemm_tiled.
// Widths: subgroups of 8, 16, 32 or 64 lanes (any multiple of 8: tested at 8 and 16 on lavapipe,
// test/lanes.test.ts). Assumed beyond the width: the 8 lanes of a group (li / 8) are 8 consecutive lanes
// of one subgroup (subgroup_invocation_id = local_invocation_index mod 8 within the group), which every
// driver seen lays out but WGSL does not promise; the tuner checks the variant against gemm_tiled (its
// last candidate, src/gpu/tune.ts) and never picks it where that fails. Elsewhere (SwiftShader's 4 lanes,
// widths that are not multiples of 8: Gpu.subgroups8) the launcher offers regs and tiled only.
enable subgroups;

var<private> sacc: array<vec4<f32>, 16>;   // sacc[i] = C(m0 + i, n0 .. n0+3)

// B(n..n+3, k+j) for j = 0..3 as 4 vec4 over n; mask: k + j < K (else 0)
fn loadB(n: u32, k: u32, mask: vec4<bool>) -> array<vec4<f32>, 4> {
  var r: array<vec4<f32>, 4>;
  if (B_COL) {
    for (var j = 0u; j < 4u; j++) { r[j] = select(vec4<f32>(0.0), h4(gb[((k + j) * gd.ldb + n) / 4u]), mask[j]); }
  } else {
    let nl = gd.N - 1u;
    let b0 = select(vec4<f32>(0.0), h4(gb[(min(n, nl) * gd.ldb + k) / 4u]), mask);
    let b1 = select(vec4<f32>(0.0), h4(gb[(min(n + 1u, nl) * gd.ldb + k) / 4u]), mask);
    let b2 = select(vec4<f32>(0.0), h4(gb[(min(n + 2u, nl) * gd.ldb + k) / 4u]), mask);
    let b3 = select(vec4<f32>(0.0), h4(gb[(min(n + 3u, nl) * gd.ldb + k) / 4u]), mask);
    r[0] = vec4<f32>(b0.x, b1.x, b2.x, b3.x); r[1] = vec4<f32>(b0.y, b1.y, b2.y, b3.y);
    r[2] = vec4<f32>(b0.z, b1.z, b2.z, b3.z); r[3] = vec4<f32>(b0.w, b1.w, b2.w, b3.w);
  }
  return r;
}

// this lane's share of A for the 8 rows r0..r0+7 at k..k+3: row mode A(r0 + l, k..k+3); column mode
// A(r0 + 4(l&1) .. +3, k + l/2)
fn loadA(r0: u32, l: u32, k: u32, mask: vec4<bool>) -> vec4<f32> {
  if (A_COL) { return select(vec4<f32>(0.0), h4(ga[((k + l / 2u) * gd.lda + r0 + 4u * (l & 1u)) / 4u]), mask[l / 2u]); }
  return select(vec4<f32>(0.0), h4(ga[(min(r0 + l, gd.M - 1u) * gd.lda + k) / 4u]), mask);
}

// A(r0 + i, k..k+3) from the group's shares (base: the group's first lane in the subgroup)
fn rowA(mine: vec4<f32>, i: u32, base: u32) -> vec4<f32> {
  if (A_COL) {
    let h = i / 4u;
    let q = i % 4u;
    return vec4<f32>(subgroupShuffle(mine[q], base + h), subgroupShuffle(mine[q], base + 2u + h),
                     subgroupShuffle(mine[q], base + 4u + h), subgroupShuffle(mine[q], base + 6u + h));
  }
  return subgroupShuffle(mine, base + i);
}

// one step of 4 k for the group's rows m0..m0+15; l: lane in the group
fn step(m0: u32, n0: u32, l: u32, base: u32, k: u32, mask: vec4<bool>) {
  let bk = loadB(n0, k, mask);
  let mine = array<vec4<f32>, 2>(loadA(m0, l, k, mask), loadA(m0 + 8u, l, k, mask));
  for (var i = 0u; i < 16u; i++) {
    let ai = rowA(mine[i / 8u], i % 8u, base);
    sacc[i] = fma(vec4<f32>(ai.x), bk[0], sacc[i]);
    sacc[i] = fma(vec4<f32>(ai.y), bk[1], sacc[i]);
    sacc[i] = fma(vec4<f32>(ai.z), bk[2], sacc[i]);
    sacc[i] = fma(vec4<f32>(ai.w), bk[3], sacc[i]);
  }
}

@compute @workgroup_size(64)
fn gemm_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32,
           @builtin(subgroup_invocation_id) sl: u32) {
  let g = li / 8u;
  let l = li % 8u;
  let base = sl & ~7u;
  let m0 = (wg.y * 8u + g) * 16u;
  let n0 = wg.x * 32u + l * 4u;
  let kt = gd.K & ~3u;
  for (var k = 0u; k < kt; k += 4u) { step(m0, n0, l, base, k, vec4<bool>(true)); }
  if (kt < gd.K) { step(m0, n0, l, base, kt, vec4<u32>(kt, kt + 1u, kt + 2u, kt + 3u) < vec4<u32>(gd.K)); }
  // epilogue: the bias once per lane; whole rows of 4 columns without per-element tests where they all exist
  var bv = vec4<f32>(0.0);
  if (gd.has_bias == 1u) {
    for (var j = 0u; j < 4u; j++) { if (n0 + j < gd.N) { bv[j] = gbias[n0 + j]; } }
  }
  let full = n0 + 4u <= gd.N;
  for (var i = 0u; i < 16u; i++) {
    let m = m0 + i;
    if (m >= gd.M) { break; }
    let v = sacc[i] + bv;
    let at = m * gd.ldc + gd.c0 + n0;
    if (full) {
      put(at, v.x); put(at + 1u, v.y); put(at + 2u, v.z); put(at + 3u, v.w);
    } else {
      for (var j = 0u; j < 4u; j++) {
        if (n0 + j >= gd.N) { break; }
        put(at + j, v[j]);
      }
    }
  }
}
