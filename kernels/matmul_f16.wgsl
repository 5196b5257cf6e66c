// matmul_f16: the gemm of kernels/matmul.wgsl (C(M,N) (=|+=) sum_k A(m,k) B(n,k) (+ bias[n]), A and B
// read by rows or, with A_COL / B_COL, by columns; lda, ldb multiples of 4; the forward, dinp and dweight
// modes listed there) in real f16 arithmetic, for --precision f16 on adapters with `shader-f16`
// (src/gpu/kernels/matmul.ts picks it; without the feature F16_IN emulates the operand rounding in f32).
// Compiled after the text of kernels/matmul.wgsl (scripts/gen.mjs: this file's directives first), whose
// bindings, f16 rounding (h4, o16) and epilogue (put, storeBlock, EPI) it uses; its pipelines always set
// F16_IN, and F16_OUT for the forward.
// Operands: A is f32 in memory (activations, their gradients: already f16 values where the block's
// f16 storage keeps them), rounded to f16 on load by h4 (ties to even, |x| >= 65520 to inf: the values the
// emulation uses) and then converted to f16 exactly. B is the same, or with B_HALF an f16 copy of a weight
// (src/model/half.ts, refreshed after each optimizer step), read as vec4<f16> at half the bytes.
// Arithmetic (what a GPU's f16 units do fast, summed in f32): a thread owns a 4x4 block of C (8x8
// threads: a 32x32 tile per workgroup, as gemm_regs); per k it does a rank-1 update in vec4<f16>
// (4 f16 fmas a row: packed pairs, NVIDIA HFMA2 / AMD v_pk_fma_f16 at twice the f32 rate); the f16 partial
// sums of KH = 8 consecutive k are then widened and added to f32 accumulators, and cleared. So each 8-term
// partial rounds in f16 (|error| <= 8 * 2^-11 * the sum of |a b| of its terms, while no term is below f16's
// normal range), and the K/8 partials are summed in f32. k runs 0..K-1 in order: deterministic.
// A partial that overflows f16 (|sum| > 65504) is inf, so the step's gradient norm is not finite and the
// loss scaler skips it and halves the scale (src/train/scaler.ts), as for an operand that overflows.
// Shapes: C (M, ldc) from column c0; A (M,K) rows of lda or (K,M) columns; B (N,K) / (K,N) likewise, ldb.
enable f16;

override B_HALF: bool = false;
@group(0) @binding(6) var<storage, read> gbh: array<vec4<f16>>;   // B's f16 copy (B_HALF)

const KH = 8u;   // k per f16 partial sum

fn half4(x: array<vec4<f32>, 4>) -> array<vec4<f16>, 4> {
  return array<vec4<f16>, 4>(vec4<f16>(x[0]), vec4<f16>(x[1]), vec4<f16>(x[2]), vec4<f16>(x[3]));
}

// B(r..r+3, k..k+3) as 4 vec4<f16> over r, one per k (blockB's layout); mask: k + j < K (else 0)
fn blockBh(r: u32, k: u32, mask: vec4<bool>) -> array<vec4<f16>, 4> {
  if (!B_HALF) { return half4(blockB(r, k, mask)); }
  let z = vec4<f16>(0.0h);
  var x: array<vec4<f16>, 4>;
  if (B_COL) {
    for (var j = 0u; j < 4u; j++) { x[j] = select(z, gbh[((k + j) * gd.ldb + r) / 4u], mask[j]); }
  } else {
    let rl = gd.N - 1u;
    let x0 = select(z, gbh[(min(r, rl) * gd.ldb + k) / 4u], mask);
    let x1 = select(z, gbh[(min(r + 1u, rl) * gd.ldb + k) / 4u], mask);
    let x2 = select(z, gbh[(min(r + 2u, rl) * gd.ldb + k) / 4u], mask);
    let x3 = select(z, gbh[(min(r + 3u, rl) * gd.ldb + k) / 4u], mask);
    x[0] = vec4<f16>(x0.x, x1.x, x2.x, x3.x); x[1] = vec4<f16>(x0.y, x1.y, x2.y, x3.y);
    x[2] = vec4<f16>(x0.z, x1.z, x2.z, x3.z); x[3] = vec4<f16>(x0.w, x1.w, x2.w, x3.w);
  }
  return x;
}

var<private> hacc: array<vec4<f32>, 4>;    // hacc[i] = C(m0 + i, n0 .. n0+3), f32
var<private> hpart: array<vec4<f16>, 4>;   // the current KH-term partial of each, f16

// 4 rank-1 updates in f16 (k..k+3)
fn halfStep(m0: u32, n0: u32, k: u32) {
  let mask = kmask(k);
  let a = half4(blockA(m0, k, mask));
  let b = blockBh(n0, k, mask);
  for (var j = 0u; j < 4u; j++) {
    for (var i = 0u; i < 4u; i++) { hpart[i] = fma(vec4<f16>(a[j][i]), b[j], hpart[i]); }
  }
}

@compute @workgroup_size(8, 8)
fn gemm_f16(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  if (n0 >= gd.N || m0 >= gd.M) { return; }
  for (var k = 0u; k < gd.K; k += KH) {
    halfStep(m0, n0, k);
    if (k + 4u < gd.K) { halfStep(m0, n0, k + 4u); }
    for (var i = 0u; i < 4u; i++) {
      hacc[i] += vec4<f32>(hpart[i]);
      hpart[i] = vec4<f16>(0.0h);
    }
  }
  storeBlock(m0, n0, hacc);
}

// gemm_f16_tiled: the same sums through workgroup memory (gemm_tiled's layout, the real-GPU one: a 64x64
// tile of C, 16x16 threads, 4x4 each, K in steps of 16 staged by threads 0..63 as f16, half gemm_tiled's
// bytes). The rank-1 updates and the flushes every KH k come in gemm_f16's order (a staged tail is zeros,
// which leave a partial as it is), so the two give the same numbers and the tuner may pick either.
var<workgroup> hA: array<vec4<f16>, 256>;   // [k * 16 + m / 4] = A(m0 + m .. +3, k0 + k)
var<workgroup> hB: array<vec4<f16>, 256>;   // [k * 16 + n / 4]
@compute @workgroup_size(16, 16)
fn gemm_f16_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tm0 = wg.y * 64u;
  let tn0 = wg.x * 64u;
  let t = lid.y * 16u + lid.x;
  let sr = (t % 16u) * 4u;    // staging: rows sr..sr+3 of the tile
  let sk = (t / 16u) * 4u;    //          and k sk..sk+3 of the step (threads t < 64)
  for (var k0 = 0u; k0 < gd.K; k0 += 16u) {
    if (t < 64u) {
      let mask = kmask(k0 + sk);
      let a = half4(blockA(tm0 + sr, k0 + sk, mask));
      let b = blockBh(tn0 + sr, k0 + sk, mask);
      for (var j = 0u; j < 4u; j++) { hA[(sk + j) * 16u + sr / 4u] = a[j]; hB[(sk + j) * 16u + sr / 4u] = b[j]; }
    }
    workgroupBarrier();
    for (var k = 0u; k < 16u; k++) {
      let a = hA[k * 16u + lid.y];
      let b = hB[k * 16u + lid.x];
      for (var i = 0u; i < 4u; i++) { hpart[i] = fma(vec4<f16>(a[i]), b, hpart[i]); }
      if (k % KH == KH - 1u) {
        for (var i = 0u; i < 4u; i++) {
          hacc[i] += vec4<f32>(hpart[i]);
          hpart[i] = vec4<f16>(0.0h);
        }
      }
    }
    workgroupBarrier();
  }
  storeBlock(tm0 + lid.y * 4u, tn0 + lid.x * 4u, hacc);
}
