// matmul_sgmatrix: the gemm of kernels/matmul.wgsl (C(M,N) (=|+=) sum_k A(m,k) B(n,k) (+ bias[n]), A and
// B read by rows or, with A_COL / B_COL, by columns; lda, ldb multiples of 4; the fused epilogue EPI) on
// subgroup matrices (tensor cores: Vulkan cooperative matrices under Dawn's experimental
// `chromium-experimental-subgroup-matrix`), f16 x f16 -> f32.
// Shapes: one subgroup matrix config only, M 16 x N 16 x K 16 with f16 operands and an f32 result (the
// config NVIDIA and AMD report in adapter.info.subgroupMatrixConfigs); a workgroup is ONE subgroup of SG
// lanes (override; the launcher passes subgroupMaxSize and offers the variant only where subgroupMinSize
// == subgroupMaxSize, so it never assumes a width it is not given); it owns a 64 x 64 tile of C = 4 x 4
// result matrices and steps K by 32: the lanes stage A(64 x 32) and B(64 x 32) into workgroup memory
// as f16 (rounded to nearest even by r16 first, so the operands are exactly the f16-rounded ones of
// --precision f16), then 2 x 16 multiply-accumulates of the 16 result matrices. Rows and columns past
// M or N are loaded clamped and never stored; k past K is loaded as 0.
// Results: each product of two f16 is exact in f32 and the sums are f32, but the hardware's summation
// order is not gemm_regs' (k in order, one fma a step), so results differ from the other variants by f32
// rounding (the tuner checks agreement to 1e-4 of the largest value, src/gpu/tune.ts), and the variant is
// offered only under --precision f16 (src/gpu/kernels/matmul_sgmatrix.ts), where the others read the
// same f16-rounded operands. Deterministic per adapter. Compiled after the text of kernels/matmul.wgsl
// (scripts/gen.mjs: this file's directives first), whose bindings (GDims, ga, gb, gbias, gx),
// loaders (blockA, blockB, kmask), rounding (r16) and epilogue (put) it uses.
// Syntax: Dawn's (npm webgpu 0.6.2): subgroupMatrixLoad<subgroup_matrix_left<f16, K, M>, row_major>(p,
// offset, stride), subgroupMatrixStore<row_major>(p, offset, value, stride); types are <T, columns, rows>.
enable f16;
enable chromium_experimental_subgroup_matrix;

override SG: u32 = 32u;                      // lanes of the one subgroup a workgroup is
const SM_TM: u32 = 64u;                      // C tile rows (M) per workgroup
const SM_TN: u32 = 64u;                      // C tile columns (N) per workgroup
const SM_KS: u32 = 32u;                      // k per staging step
var<workgroup> smA: array<f16, 2048>;        // [m * 32 + k] = A(m0 + m, k0 + k)   (row_major, stride 32)
var<workgroup> smB: array<f16, 2048>;        // [n * 32 + k] = B(n0 + n, k0 + k)   (the right matrix col_major, stride 32)
var<workgroup> smC: array<f32, 1024>;        // [r * 64 + n]: 16 rows of the C tile on their way out

// stage the step's A and B tiles: 2 x 128 blocks of 4 x 4 (blockA / blockB: x[j][i] = X(r + i, k + j))
fn smStage(m0: u32, n0: u32, k0: u32, lane: u32) {
  for (var t = lane; t < 128u; t += SG) {
    let r = (t / 8u) * 4u;                   // tile row of the block: 0, 4, .., 60
    let k = (t % 8u) * 4u;                   // its k: 0, 4, .., 28
    let mask = kmask(k0 + k);
    let a = blockA(m0 + r, k0 + k, mask);
    let b = blockB(n0 + r, k0 + k, mask);
    for (var j = 0u; j < 4u; j++) {
      let ha = r16(a[j]);
      let hb = r16(b[j]);
      for (var i = 0u; i < 4u; i++) {
        smA[(r + i) * SM_KS + k + j] = f16(ha[i]);
        smB[(r + i) * SM_KS + k + j] = f16(hb[i]);
      }
    }
  }
}

// rows 16 i .. 16 i + 15 of the C tile, stored by smC: + bias, then put() (=, += or the fused pass)
fn smFlush(m0: u32, n0: u32, i: u32, lane: u32) {
  for (var e = lane; e < 1024u; e += SG) {
    let m = m0 + 16u * i + e / 64u;
    let n = n0 + e % 64u;
    if (m < gd.M && n < gd.N) {
      var v = smC[e];
      if (gd.has_bias == 1u) { v += gbias[n]; }
      put(m * gd.ldc + gd.c0 + n, v);
    }
  }
}

@compute @workgroup_size(SG)
fn gemm_sm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let m0 = wg.y * SM_TM;
  let n0 = wg.x * SM_TN;
  // c<i><j>: C rows m0 + 16 i .., columns n0 + 16 j ..
  var c00 = subgroup_matrix_result<f32, 16, 16>(); var c01 = subgroup_matrix_result<f32, 16, 16>();
  var c02 = subgroup_matrix_result<f32, 16, 16>(); var c03 = subgroup_matrix_result<f32, 16, 16>();
  var c10 = subgroup_matrix_result<f32, 16, 16>(); var c11 = subgroup_matrix_result<f32, 16, 16>();
  var c12 = subgroup_matrix_result<f32, 16, 16>(); var c13 = subgroup_matrix_result<f32, 16, 16>();
  var c20 = subgroup_matrix_result<f32, 16, 16>(); var c21 = subgroup_matrix_result<f32, 16, 16>();
  var c22 = subgroup_matrix_result<f32, 16, 16>(); var c23 = subgroup_matrix_result<f32, 16, 16>();
  var c30 = subgroup_matrix_result<f32, 16, 16>(); var c31 = subgroup_matrix_result<f32, 16, 16>();
  var c32 = subgroup_matrix_result<f32, 16, 16>(); var c33 = subgroup_matrix_result<f32, 16, 16>();
  for (var k0 = 0u; k0 < gd.K; k0 += SM_KS) {
    smStage(m0, n0, k0, lane);
    workgroupBarrier();
    for (var kk = 0u; kk < SM_KS; kk += 16u) {
      let a0 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&smA, 0u * SM_KS + kk, SM_KS);
      let a1 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&smA, 16u * SM_KS + kk, SM_KS);
      let a2 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&smA, 32u * SM_KS + kk, SM_KS);
      let a3 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&smA, 48u * SM_KS + kk, SM_KS);
      let b0 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&smB, 0u * SM_KS + kk, SM_KS);
      let b1 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&smB, 16u * SM_KS + kk, SM_KS);
      let b2 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&smB, 32u * SM_KS + kk, SM_KS);
      let b3 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&smB, 48u * SM_KS + kk, SM_KS);
      c00 = subgroupMatrixMultiplyAccumulate(a0, b0, c00); c01 = subgroupMatrixMultiplyAccumulate(a0, b1, c01);
      c02 = subgroupMatrixMultiplyAccumulate(a0, b2, c02); c03 = subgroupMatrixMultiplyAccumulate(a0, b3, c03);
      c10 = subgroupMatrixMultiplyAccumulate(a1, b0, c10); c11 = subgroupMatrixMultiplyAccumulate(a1, b1, c11);
      c12 = subgroupMatrixMultiplyAccumulate(a1, b2, c12); c13 = subgroupMatrixMultiplyAccumulate(a1, b3, c13);
      c20 = subgroupMatrixMultiplyAccumulate(a2, b0, c20); c21 = subgroupMatrixMultiplyAccumulate(a2, b1, c21);
      c22 = subgroupMatrixMultiplyAccumulate(a2, b2, c22); c23 = subgroupMatrixMultiplyAccumulate(a2, b3, c23);
      c30 = subgroupMatrixMultiplyAccumulate(a3, b0, c30); c31 = subgroupMatrixMultiplyAccumulate(a3, b1, c31);
      c32 = subgroupMatrixMultiplyAccumulate(a3, b2, c32); c33 = subgroupMatrixMultiplyAccumulate(a3, b3, c33);
    }
    workgroupBarrier();
  }
  // out through workgroup memory, 16 rows at a time, so the epilogue sees plain (m, n) elements
  subgroupMatrixStore<row_major>(&smC, 0u, c00, SM_TN); subgroupMatrixStore<row_major>(&smC, 16u, c01, SM_TN);
  subgroupMatrixStore<row_major>(&smC, 32u, c02, SM_TN); subgroupMatrixStore<row_major>(&smC, 48u, c03, SM_TN);
  workgroupBarrier(); smFlush(m0, n0, 0u, lane); workgroupBarrier();
  subgroupMatrixStore<row_major>(&smC, 0u, c10, SM_TN); subgroupMatrixStore<row_major>(&smC, 16u, c11, SM_TN);
  subgroupMatrixStore<row_major>(&smC, 32u, c12, SM_TN); subgroupMatrixStore<row_major>(&smC, 48u, c13, SM_TN);
  workgroupBarrier(); smFlush(m0, n0, 1u, lane); workgroupBarrier();
  subgroupMatrixStore<row_major>(&smC, 0u, c20, SM_TN); subgroupMatrixStore<row_major>(&smC, 16u, c21, SM_TN);
  subgroupMatrixStore<row_major>(&smC, 32u, c22, SM_TN); subgroupMatrixStore<row_major>(&smC, 48u, c23, SM_TN);
  workgroupBarrier(); smFlush(m0, n0, 2u, lane); workgroupBarrier();
  subgroupMatrixStore<row_major>(&smC, 0u, c30, SM_TN); subgroupMatrixStore<row_major>(&smC, 16u, c31, SM_TN);
  subgroupMatrixStore<row_major>(&smC, 32u, c32, SM_TN); subgroupMatrixStore<row_major>(&smC, 48u, c33, SM_TN);
  workgroupBarrier(); smFlush(m0, n0, 3u, lane);
}
