// adamw8bit: one AdamW step with 8-bit block-wise quantized moments (Dettmers et al. 2022, "8-bit
// Optimizers via Block-wise Quantization", arXiv 2110.02861; bitsandbytes' blockwise 8-bit Adam).
// A block is 256 consecutive elements of one (tensor, layer) slice of the parameter arena (a slice's
// last block may be shorter); one workgroup of 256 threads updates one block, a thread per element.
// params, grads: the chunk's window of the arena (its first block starts at element 0 of the window)
// codes: (nb, 128) u32 per block: words 0..63 the 256 m codes, 64..127 the 256 v codes, 4 a word
//        (code of element j in byte j % 4 of word j / 4: the bytes of the buffer are the codes in order)
// absmax: (2 * blocks) f32 for the whole optimizer, block b at [2b] (m) and [2b + 1] (v)
// qmap: (4, 256) f32: the signed dynamic map (m), the unsigned one (v), then the midpoints between
//       neighbouring codes of each (255 each, then +inf): src/train/adamw8bit.ts dynamicMap
// scale: (1) the gradient clip factor from gradnorm_clip (1 = no clip)
// GRAD16 (--grad-dtype bf16, src/train/grads16.ts): grads hold bf16 pairs, element i of the window at
// g0 + i of the binding, widened exactly
// Per block, with the old state (c, a) and the new (c', a'):
//   m = qmap_s[c_m] * a_m,  v = qmap_u[c_v] * a_v            1) dequantize
//   p = p * (1 - lr_wd);  m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)       2) AdamW as kernels/adamw.wgsl, on the
//                                                               un-quantized new m, v (as bitsandbytes)
//   a'_m = max |m|, a'_v = max v over the block               3) workgroup max-reduction (exact in
//                                                               any order, so deterministic)
//   c' = the nearest code to m / a'_m (v / a'_v); a tie goes to the lower code; 0 when a' = 0
// Block b of the group: slice s = b / bps, block k = b % bps of it; its elements start at
// s * stride + k * 256 - e0 in the window, and number min(256, n - k * 256).
// = / +=: params, codes, absmax are updated in place; grads is only read.
const BLOCK: u32 = 256u;
override GRAD16: bool = false;
struct Dims { n: u32, stride: u32, bps: u32, b0: u32, e0: u32, nb: u32, a0: u32, g0: u32,
              lr_wd: f32, beta1: f32, beta2: f32, eps: f32, step_size: f32, bc2_sqrt: f32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<u32>; // f32 bits, or bf16 pairs (GRAD16)
@group(0) @binding(3) var<storage, read_write> codes: array<u32>;
@group(0) @binding(4) var<storage, read_write> absmax: array<f32>;
@group(0) @binding(5) var<storage, read> qmap: array<f32>;
@group(0) @binding(6) var<storage, read> scale: array<f32>;

var<workgroup> qs: array<f32, 256>;   // signed map (m)
var<workgroup> qu: array<f32, 256>;   // unsigned map (v)
var<workgroup> ms: array<f32, 256>;   // midpoints of qs, then +inf
var<workgroup> mu: array<f32, 256>;   // midpoints of qu, then +inf
var<workgroup> red_m: array<f32, 256>;
var<workgroup> red_v: array<f32, 256>;
var<workgroup> cm: array<u32, 256>;
var<workgroup> cv: array<u32, 256>;

// gradient i of the window, widened to f32
fn grad(i: u32) -> f32 {
  if (GRAD16) { let e = d.g0 + i; return bitcast<f32>(((grads[e >> 1u] >> ((e & 1u) * 16u)) & 0xffffu) << 16u); }
  return bitcast<f32>(grads[i]);
}

// the first k with mid[k] >= x: the number of midpoints below x, i.e. the nearest code (ties low)
fn nearest_s(x: f32) -> u32 {
  var lo = 0u;
  var hi = 255u;
  for (var it = 0u; it < 8u; it++) {
    let c = (lo + hi) / 2u;
    if (ms[c] < x) { lo = c + 1u; } else { hi = c; }
  }
  return lo;
}

fn nearest_u(x: f32) -> u32 {
  var lo = 0u;
  var hi = 255u;
  for (var it = 0u; it < 8u; it++) {
    let c = (lo + hi) / 2u;
    if (mu[c] < x) { lo = c + 1u; } else { hi = c; }
  }
  return lo;
}

@compute @workgroup_size(BLOCK)
fn adamw8bit_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = lid.x;
  qs[j] = qmap[j];
  qu[j] = qmap[BLOCK + j];
  ms[j] = qmap[2u * BLOCK + j];
  mu[j] = qmap[3u * BLOCK + j];
  workgroupBarrier();
  let k = wid.y * nwg.x + wid.x;         // block within this chunk (uniform over the workgroup)
  if (k >= d.nb) { return; }
  let b = d.b0 + k;                      // block within the group of slices
  let kb = b % d.bps;
  let start = (b / d.bps) * d.stride + kb * BLOCK - d.e0;
  let len = min(BLOCK, d.n - kb * BLOCK);
  let a = 2u * (d.a0 + k);
  let am_old = absmax[a];
  let av_old = absmax[a + 1u];
  let w = 128u * k;
  var mi = 0.0;
  var vi = 0.0;
  if (j < len) {
    let i = start + j;
    let g = grad(i) * scale[0];
    let sh = 8u * (j % 4u);
    let c1 = (codes[w + j / 4u] >> sh) & 255u;
    let c2 = (codes[w + 64u + j / 4u] >> sh) & 255u;
    mi = d.beta1 * (qs[c1] * am_old) + (1.0 - d.beta1) * g;
    vi = d.beta2 * (qu[c2] * av_old) + (1.0 - d.beta2) * g * g;
    let p = params[i] * (1.0 - d.lr_wd);
    params[i] = p - d.step_size * (mi / (sqrt(vi) / d.bc2_sqrt + d.eps));
  }
  red_m[j] = abs(mi);
  red_v[j] = vi;
  workgroupBarrier();
  for (var h = BLOCK / 2u; h > 0u; h /= 2u) {
    if (j < h) {
      red_m[j] = max(red_m[j], red_m[j + h]);
      red_v[j] = max(red_v[j], red_v[j + h]);
    }
    workgroupBarrier();
  }
  let am = red_m[0];
  let av = red_v[0];
  // elements past the slice's end (j >= len) hold m = v = 0: the codes of 0
  cm[j] = nearest_s(select(0.0, mi / am, am > 0.0));
  cv[j] = nearest_u(select(0.0, vi / av, av > 0.0));
  workgroupBarrier();
  if (j < 64u) {
    codes[w + j] = cm[4u * j] | (cm[4u * j + 1u] << 8u) | (cm[4u * j + 2u] << 16u) | (cm[4u * j + 3u] << 24u);
  } else if (j < 128u) {
    let q = 4u * (j - 64u);
    codes[w + j] = cv[q] | (cv[q + 1u] << 8u) | (cv[q + 2u] << 16u) | (cv[q + 3u] << 24u);
  }
  if (j == 0u) {
    absmax[a] = am;
    absmax[a + 1u] = av;
  }
}
