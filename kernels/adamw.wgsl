// adamw: one AdamW step over the flat parameter arena, torch.optim.AdamW semantics (llm.c adamw_kernel).
// params, m, v, grads: (P)   scale: (1), the gradient clip factor from gradnorm_clip (1 = no clip)
//   g = grads * scale      (GRAD16: grads are bf16, two a word, element i at g0 + i of the binding, widened exactly)
//   p = p * (1 - lr_wd)                          1) decoupled decay, on the un-updated p (torch's order)
//   m = beta1 m + (1 - beta1) g                  2) moments, as torch 1.13 (2.x's lerp_ is the same up to rounding)
//   v = beta2 v + (1 - beta2) g^2
//   p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)   3) step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t)
// lr_wd = lr * weight_decay * rate is one number per dispatch: the launcher is called once per run of
// tensors with the same rate (1 for matrices and embeddings, 0 for norms and biases: src/train/adamw.ts),
// so no per-element mask is stored. The bias corrections and lr_wd are computed on the CPU in float64
// (src/gpu/kernels/optim.ts adamwUpdate), as torch does in Python.
// = / +=: params, m, v are updated in place; grads is only read. A workgroup updates WG * PER elements,
// each thread PER of them WG apart (fewer invocations on a CPU driver, coalesced on a GPU).
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/optim.ts)
override PER: u32;  // elements per thread: set by the launcher
override GRAD16: bool = false; // --grad-dtype bf16 (src/train/grads16.ts): grads hold bf16 pairs
struct Dims { P: u32, g0: u32, lr_wd: f32, beta1: f32, beta2: f32, eps: f32, step_size: f32, bc2_sqrt: f32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> grads: array<u32>; // f32 bits, or bf16 pairs (GRAD16)
@group(0) @binding(5) var<storage, read> scale: array<f32>;

// gradient i, widened to f32 (exact: bf16 is the top half of an f32)
fn grad(i: u32) -> f32 {
  if (GRAD16) { let e = d.g0 + i; return bitcast<f32>(((grads[e >> 1u] >> ((e & 1u) * 16u)) & 0xffffu) << 16u); }
  return bitcast<f32>(grads[i]);
}

@compute @workgroup_size(WG)
fn adamw_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
  let i0 = (wid.y * nwg.x + wid.x) * WG * PER + lid.x;
  let sc = scale[0];
  for (var j = 0u; j < PER; j++) {
    let i = i0 + j * WG;
    if (i >= d.P) { return; }
    let g = grad(i) * sc;
    // 1) weight decay
    let p = params[i] * (1.0 - d.lr_wd);
    // 2) moments
    let mi = d.beta1 * m[i] + (1.0 - d.beta1) * g;
    let vi = d.beta2 * v[i] + (1.0 - d.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    // 3) bias-corrected step
    params[i] = p - d.step_size * (mi / (sqrt(vi) / d.bc2_sqrt + d.eps));
  }
}
