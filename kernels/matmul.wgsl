// matmul: out = inp @ weight^T (+ bias), PyTorch nn.Linear layout (llm.c matmul_forward/backward).
// out: (N, ldo) of which columns [oc0, oc0+OC) are written   inp: (N, C)   weight: (OC, C)   bias: (OC)
// backward: dinp (N,C) = dout @ weight;  dweight (OC,C) += dout^T @ inp;  dbias (OC) += column sums of dout
// (dout rows of ldd floats). = / +=: dweight and dbias accumulate (+=, parameters); dinp is written (=)
// by the first OC chunk and accumulated by the rest, or accumulated throughout when the launcher is asked
// to, so that Llama's q/k/v (and w1/w3) projections of one input can sum their dinp into one buffer.
// The launchers (src/gpu/kernels/matmul.ts) split large weights/outputs into chunks that fit
// maxStorageBufferBindingSize and pick one of the variants per adapter and shape class:
//   scalar  matmul_forward / matmul_backward / matmul_backward_dweight: any shape; each thread a 4x4 block
//           from scalar loads (tails clamped on load, guarded on store); dbias inside dweight.
//   regs    gemm_regs: a 4x4 block per thread from vec4 loads along the reduced dimension.
//   tiled   gemm_tiled: 64x64 tiles staged in workgroup memory, 16-deep steps (the real-GPU layout;
//           on CPU drivers barriers cost more than they save).
//   subgroup gemm_sg (kernels/matmul_subgroup.wgsl): rows shared between lanes by subgroupShuffle.
// The gemm_* kernels compute C(M,N) (=|+=) sum_k A(m,k) B(n,k) (+ bias[n]) where an operand is read by
// rows (A(m,k) = a[m*lda + k]) or, with A_COL / B_COL, by columns (A(m,k) = a[k*lda + m]):
//   forward  C = out, A = inp (rows), B = weight (rows)                    M = N, N = OC, K = C
//   dinp     C = dinp, A = dout (rows), B = weight (columns: W[o][c])     M = N, N = C,  K = OC
//   dweight  C = dweight (+=), A = dout (columns), B = inp (columns)      M = OC, N = C, K = N
// (dbias: column sums, kernels/reduce.wgsl). They need lda and ldb to be multiples of 4 (vec4 loads); K tails are masked.
// Every variant sums k in order 0..K-1 with one fma per step, so results are deterministic.
// F16_IN (override, --precision f16): every variant rounds its operands to f16 as it reads them (h4 below).
// Fused passes (llm.c's cuBLASLt epilogues), so that the (N, H) MLP activations and the (N, C) residual
// stream are not read back by a pointwise kernel: the gemm epilogue EPI (below, the vec4 variants):
// forward + GELU writes the pre-activation and its GELU, dinp + GELU backward multiplies by gelu' of the
// pre-activation, forward + residual adds the residual stream; the scalar forward's += (d.acc) is the
// residual add's fallback (the launcher copies the residual into out first).

//#include _gelu.wgsl

// ---- mixed precision (--precision f16): with F16_IN every operand is rounded to f16 as it is read and
// the sums stay f32 (torch.autocast's f16 matmul with f32 accumulation); bias and C are f32 ----
override F16_IN: bool = false;
//#include _r16.wgsl
fn h4(x: vec4<f32>) -> vec4<f32> { if (F16_IN) { return r16(x); } return x; }
// F16_OUT (forward only, --precision f16): C rounded to f16 as it is stored (an autocast linear's f16
// output), so an activation kept in f16 storage round-trips exactly (src/model/family.ts)
override F16_OUT: bool = false;
fn o16(v: f32) -> f32 { if (F16_OUT) { return r16(vec4<f32>(v)).x; } return v; }

// ---- scalar: any shape ----
struct Dims { N: u32, C: u32, OC: u32, ldo: u32, oc0: u32, has_bias: u32, acc: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

@compute @workgroup_size(8, 8)
fn matmul_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o0 = gid.x * 4u;                  // first of this thread's 4 output columns
  let n0 = gid.y * 4u;                  // first of its 4 rows
  if (o0 >= d.OC || n0 >= d.N) { return; }
  // 1) seek to the 4 inp rows and 4 weight rows (clamped: tail lanes recompute the last row)
  let nl = d.N - 1u;
  let ol = d.OC - 1u;
  let i0 = n0 * d.C;
  let i1 = min(n0 + 1u, nl) * d.C;
  let i2 = min(n0 + 2u, nl) * d.C;
  let i3 = min(n0 + 3u, nl) * d.C;
  let w0 = o0 * d.C;
  let w1 = min(o0 + 1u, ol) * d.C;
  let w2 = min(o0 + 2u, ol) * d.C;
  let w3 = min(o0 + 3u, ol) * d.C;
  // 2) accumulate the 4x4 block over C
  var acc: array<vec4<f32>, 4>;
  for (var c = 0u; c < d.C; c++) {
    let w = h4(vec4<f32>(weight[w0 + c], weight[w1 + c], weight[w2 + c], weight[w3 + c]));
    let x = h4(vec4<f32>(inp[i0 + c], inp[i1 + c], inp[i2 + c], inp[i3 + c]));
    acc[0] += x.x * w;
    acc[1] += x.y * w;
    acc[2] += x.z * w;
    acc[3] += x.w * w;
  }
  // 3) add bias and store the rows/columns that exist
  for (var j = 0u; j < 4u; j++) {
    let o = o0 + j;
    if (o >= d.OC) { break; }
    var b = 0.0;
    if (d.has_bias == 1u) { b = bias[o]; }
    for (var i = 0u; i < 4u; i++) {
      if (n0 + i >= d.N) { break; }
      let at = (n0 + i) * d.ldo + d.oc0 + o;
      if (d.acc == 1u) { out[at] += o16(acc[i][j] + b); } else { out[at] = o16(acc[i][j] + b); }
    }
  }
}

// backward through the input: dinp[n, c] (=|+=) sum_o dout[n, oc0 + o] * weight[o, c], o over this chunk
struct BDims { N: u32, C: u32, OC: u32, ldd: u32, oc0: u32, acc: u32 }
@group(0) @binding(0) var<uniform> bd: BDims;
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> bweight: array<f32>;

@compute @workgroup_size(8, 8)
fn matmul_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c0 = gid.x * 4u;                  // first of this thread's 4 dinp columns
  let n0 = gid.y * 4u;                  // first of its 4 rows
  if (c0 >= bd.C || n0 >= bd.N) { return; }
  // 1) seek to the 4 dout rows (at column oc0) and the 4 weight columns (clamped tails)
  let nl = bd.N - 1u;
  let d0 = n0 * bd.ldd + bd.oc0;
  let d1 = min(n0 + 1u, nl) * bd.ldd + bd.oc0;
  let d2 = min(n0 + 2u, nl) * bd.ldd + bd.oc0;
  let d3 = min(n0 + 3u, nl) * bd.ldd + bd.oc0;
  let cl = bd.C - 1u;
  let ca = vec4<u32>(c0, min(c0 + 1u, cl), min(c0 + 2u, cl), min(c0 + 3u, cl));
  // 2) accumulate the 4x4 block over this chunk's OC rows of weight
  var acc: array<vec4<f32>, 4>;
  for (var o = 0u; o < bd.OC; o++) {
    let w = o * bd.C;
    let wv = h4(vec4<f32>(bweight[w + ca.x], bweight[w + ca.y], bweight[w + ca.z], bweight[w + ca.w]));
    let dv = h4(vec4<f32>(dout[d0 + o], dout[d1 + o], dout[d2 + o], dout[d3 + o]));
    acc[0] += dv.x * wv;
    acc[1] += dv.y * wv;
    acc[2] += dv.z * wv;
    acc[3] += dv.w * wv;
  }
  // 3) store (or add to) the rows/columns that exist
  for (var i = 0u; i < 4u; i++) {
    if (n0 + i >= bd.N) { break; }
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + j;
      if (c >= bd.C) { break; }
      let at = (n0 + i) * bd.C + c;
      if (bd.acc == 1u) { dinp[at] += acc[i][j]; } else { dinp[at] = acc[i][j]; }
    }
  }
}

// backward through the parameters: dweight[o, c] += sum_n dout[n, oc0 + o] * inp[n, c];
// dbias[o] += sum_n dout[n, oc0 + o], by the threads of the first column block
struct WDims { N: u32, C: u32, OC: u32, ldd: u32, oc0: u32, has_bias: u32 }
@group(0) @binding(0) var<uniform> wd: WDims;
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(3) var<storage, read> wdout: array<f32>;
@group(0) @binding(4) var<storage, read> winp: array<f32>;

@compute @workgroup_size(8, 8)
fn matmul_backward_dweight(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c0 = gid.x * 4u;                  // first of this thread's 4 dweight columns
  let o0 = gid.y * 4u;                  // first of its 4 dweight rows
  if (c0 >= wd.C || o0 >= wd.OC) { return; }
  // 1) this thread's 4 dout columns and 4 inp columns (clamped tails)
  let ol = wd.OC - 1u;
  let oa = vec4<u32>(o0, min(o0 + 1u, ol), min(o0 + 2u, ol), min(o0 + 3u, ol)) + wd.oc0;
  let cl = wd.C - 1u;
  let ca = vec4<u32>(c0, min(c0 + 1u, cl), min(c0 + 2u, cl), min(c0 + 3u, cl));
  // 2) accumulate the 4x4 block (and the 4 column sums of dout) over the N rows, in order
  var acc: array<vec4<f32>, 4>;
  var db = vec4<f32>(0.0);
  for (var n = 0u; n < wd.N; n++) {
    let r = n * wd.ldd;                 // seek to dout[n, :]
    let x = n * wd.C;                   // seek to inp[n, :]
    let raw = vec4<f32>(wdout[r + oa.x], wdout[r + oa.y], wdout[r + oa.z], wdout[r + oa.w]);
    let dv = h4(raw);
    let iv = h4(vec4<f32>(winp[x + ca.x], winp[x + ca.y], winp[x + ca.z], winp[x + ca.w]));
    acc[0] += dv.x * iv;
    acc[1] += dv.y * iv;
    acc[2] += dv.z * iv;
    acc[3] += dv.w * iv;
    db += raw;                          // dbias from f32 dout, as kernels/reduce.wgsl sums it for the gemm variants
  }
  // 3) add into the rows/columns that exist
  for (var i = 0u; i < 4u; i++) {
    let o = o0 + i;
    if (o >= wd.OC) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (c0 + j < wd.C) { dweight[o * wd.C + c0 + j] += acc[i][j]; }
    }
    if (wd.has_bias == 1u && c0 == 0u) { dbias[o] += db[i]; }
  }
}

// ---- gemm_regs, gemm_tiled: vec4 operands, A_COL / B_COL chosen per pipeline ----
override A_COL: bool;
override B_COL: bool;
struct GDims { M: u32, N: u32, K: u32, lda: u32, ldb: u32, ldc: u32, c0: u32, acc: u32, has_bias: u32 }
@group(0) @binding(0) var<uniform> gd: GDims;
@group(0) @binding(1) var<storage, read_write> gc: array<f32>;
@group(0) @binding(2) var<storage, read> ga: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> gb: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> gbias: array<f32>;
// the fused epilogue, per pipeline: 0 none; forward + GELU: 1 tanh, 2 erf (C = the pre-activation,
// gx = GELU(C)); dinp + GELU backward: 3 tanh, 4 erf (C = gelu'(gx) * the product, gx the
// pre-activation); forward + residual: 5 (C = gx + the product). gx has C's layout (ldc, c0). The
// launcher runs the unfused passes where a gemm cannot (the scalar variant, a chunked dinp).
override EPI: u32 = 0u;
@group(0) @binding(5) var<storage, read_write> gx: array<f32>;

// one element of C at gc[at], v = the sum (+ bias): = or +=, or the fused pass
fn put(at: u32, v: f32) {
  if (EPI == 1u || EPI == 2u) {
    let x = o16(v);
    gc[at] = x;
    if (EPI == 1u) { gx[at] = gelu_tanh(x); } else { gx[at] = gelu_erf(x); }
  } else if (EPI == 3u) {
    gc[at] = gelu_tanh_grad(gx[at]) * v;
  } else if (EPI == 4u) {
    gc[at] = gelu_erf_grad(gx[at]) * v;
  } else if (EPI == 5u) {
    gc[at] = gx[at] + o16(v);
  } else if (gd.acc == 1u) {
    gc[at] += v;
  } else {
    gc[at] = o16(v);
  }
}

// A(r..r+3, k..k+3) as 4 vec4 over r, one per k: x[j][i] = A(r + i, k + j); mask: k + j < K (else 0)
fn blockA(r: u32, k: u32, mask: vec4<bool>) -> array<vec4<f32>, 4> {
  var x: array<vec4<f32>, 4>;
  if (A_COL) {
    for (var j = 0u; j < 4u; j++) { x[j] = select(vec4<f32>(0.0), h4(ga[((k + j) * gd.lda + r) / 4u]), mask[j]); }
  } else {
    let rl = gd.M - 1u;
    let x0 = select(vec4<f32>(0.0), h4(ga[(min(r, rl) * gd.lda + k) / 4u]), mask);
    let x1 = select(vec4<f32>(0.0), h4(ga[(min(r + 1u, rl) * gd.lda + k) / 4u]), mask);
    let x2 = select(vec4<f32>(0.0), h4(ga[(min(r + 2u, rl) * gd.lda + k) / 4u]), mask);
    let x3 = select(vec4<f32>(0.0), h4(ga[(min(r + 3u, rl) * gd.lda + k) / 4u]), mask);
    x[0] = vec4<f32>(x0.x, x1.x, x2.x, x3.x); x[1] = vec4<f32>(x0.y, x1.y, x2.y, x3.y);
    x[2] = vec4<f32>(x0.z, x1.z, x2.z, x3.z); x[3] = vec4<f32>(x0.w, x1.w, x2.w, x3.w);
  }
  return x;
}

// the same for B(r..r+3, k..k+3)
fn blockB(r: u32, k: u32, mask: vec4<bool>) -> array<vec4<f32>, 4> {
  var x: array<vec4<f32>, 4>;
  if (B_COL) {
    for (var j = 0u; j < 4u; j++) { x[j] = select(vec4<f32>(0.0), h4(gb[((k + j) * gd.ldb + r) / 4u]), mask[j]); }
  } else {
    let rl = gd.N - 1u;
    let x0 = select(vec4<f32>(0.0), h4(gb[(min(r, rl) * gd.ldb + k) / 4u]), mask);
    let x1 = select(vec4<f32>(0.0), h4(gb[(min(r + 1u, rl) * gd.ldb + k) / 4u]), mask);
    let x2 = select(vec4<f32>(0.0), h4(gb[(min(r + 2u, rl) * gd.ldb + k) / 4u]), mask);
    let x3 = select(vec4<f32>(0.0), h4(gb[(min(r + 3u, rl) * gd.ldb + k) / 4u]), mask);
    x[0] = vec4<f32>(x0.x, x1.x, x2.x, x3.x); x[1] = vec4<f32>(x0.y, x1.y, x2.y, x3.y);
    x[2] = vec4<f32>(x0.z, x1.z, x2.z, x3.z); x[3] = vec4<f32>(x0.w, x1.w, x2.w, x3.w);
  }
  return x;
}

// 1 for k + j < K
fn kmask(k: u32) -> vec4<bool> {
  return vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(gd.K);
}

// C(m0.., n0..) of a 4x4 block: + bias, = or +=, only the rows/columns that exist
fn storeBlock(m0: u32, n0: u32, acc: array<vec4<f32>, 4>) {
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= gd.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= gd.N) { break; }
      var v = acc[i][j];
      if (gd.has_bias == 1u) { v += gbias[n]; }
      put(m * gd.ldc + gd.c0 + n, v);
    }
  }
}

var<private> racc: array<vec4<f32>, 4>;

fn regsStep(m0: u32, n0: u32, k: u32, mask: vec4<bool>) {
  let a = blockA(m0, k, mask);
  let b = blockB(n0, k, mask);
  for (var j = 0u; j < 4u; j++) {
    for (var i = 0u; i < 4u; i++) { racc[i] = fma(vec4<f32>(a[j][i]), b[j], racc[i]); }
  }
}

// one thread per 4x4 block of C, 8x8 threads = a 32x32 tile per workgroup
@compute @workgroup_size(8, 8)
fn gemm_regs(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  if (n0 >= gd.N || m0 >= gd.M) { return; }
  let kt = gd.K & ~3u;
  for (var k = 0u; k < kt; k += 4u) { regsStep(m0, n0, k, vec4<bool>(true)); }
  if (kt < gd.K) { regsStep(m0, n0, kt, kmask(kt)); }
  storeBlock(m0, n0, racc);
}

// 16x16 threads, a 64x64 tile of C (4x4 per thread), K in steps of 16: threads 0..63 stage a 4x4 block
// of A and of B each (k-major, so 4 rows at one k are one vec4), a barrier, 16 rank-1 updates
var<workgroup> tA: array<vec4<f32>, 256>;   // [k * 16 + m / 4] = A(m0 + m .. +3, k0 + k)
var<workgroup> tB: array<vec4<f32>, 256>;   // [k * 16 + n / 4]
@compute @workgroup_size(16, 16)
fn gemm_tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tm0 = wg.y * 64u;
  let tn0 = wg.x * 64u;
  let t = lid.y * 16u + lid.x;
  let sr = (t % 16u) * 4u;    // staging: rows sr..sr+3 of the tile
  let sk = (t / 16u) * 4u;    //          and k sk..sk+3 of the step (threads t < 64)
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < gd.K; k0 += 16u) {
    if (t < 64u) {
      let mask = kmask(k0 + sk);
      let a = blockA(tm0 + sr, k0 + sk, mask);
      let b = blockB(tn0 + sr, k0 + sk, mask);
      for (var j = 0u; j < 4u; j++) { tA[(sk + j) * 16u + sr / 4u] = a[j]; tB[(sk + j) * 16u + sr / 4u] = b[j]; }
    }
    workgroupBarrier();
    for (var k = 0u; k < 16u; k++) {
      let a = tA[k * 16u + lid.y];
      let b = tB[k * 16u + lid.x];
      for (var i = 0u; i < 4u; i++) { acc[i] = fma(vec4<f32>(a[i]), b, acc[i]); }
    }
    workgroupBarrier();
  }
  storeBlock(tm0 + lid.y * 4u, tn0 + lid.x * 4u, acc);
}
