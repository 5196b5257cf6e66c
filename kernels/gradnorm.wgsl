// gradnorm: the global L2 norm of the gradient arena and torch.nn.utils.clip_grad_norm_'s clip factor.
// grads: (P) f32, or with GRAD16 (--grad-dtype bf16) (P) bf16 two a word, widened exactly   partials: (ceil(P / CHUNK)) scratch   norm, scale: (1)
//   norm = sqrt(sum grads^2) * inv;  scale = inv * min(1, max_norm / (norm + 1e-6)), or inv when d.clip = 0
//   (inv = 1 / the loss scale under --precision f16, else 1: the gradients are unscaled by the update)
// Deterministic two-stage reduction: 1) gradnorm_partial, one workgroup per fixed CHUNK of elements
// (the partition does not depend on the device or on how the launcher splits bindings), each thread
// summing a fixed stride, then a tree in workgroup memory; 2) gradnorm_clip, one workgroup summing
// the partials the same way. = / +=: norm and scale are written (=); adamw_update reads scale.
override CHUNK: u32; // elements per partial sum, set by the launcher (src/gpu/kernels/optim.ts); its binding chunks are multiples of it
override WG: u32;   // threads per workgroup: Gpu.rowThreads (one subgroup on CPU drivers, whose barriers are emulated)
override GRAD16: bool = false;
//#include _rows.wgsl

struct Dims { P: u32, p0: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<u32>; // f32 bits, or bf16 pairs (GRAD16)

fn grad(i: u32) -> f32 {
  if (GRAD16) { return bitcast<f32>(((grads[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu) << 16u); }
  return bitcast<f32>(grads[i]);
}

@compute @workgroup_size(WG)
fn gradnorm_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_id) lid: vec3<u32>) {
  let k = wid.y * nwg.x + wid.x;         // chunk index within this binding
  if (k * CHUNK >= d.P) { return; }
  let end = min((k + 1u) * CHUNK, d.P);
  var s = 0.0;
  for (var i = k * CHUNK + lid.x; i < end; i += WG) { let x = grad(i); s += x * x; }
  let total = row_sum(s, lid.x);
  if (lid.x == 0u) { partials[d.p0 + k] = total; }
}

struct CDims { NP: u32, clip: u32, max_norm: f32, inv: f32 }
@group(0) @binding(0) var<uniform> cd: CDims;
@group(0) @binding(1) var<storage, read_write> norm: array<f32>;
@group(0) @binding(2) var<storage, read_write> scale: array<f32>;
@group(0) @binding(3) var<storage, read> cpartials: array<f32>;

@compute @workgroup_size(WG)
fn gradnorm_clip(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < cd.NP; i += WG) { s += cpartials[i]; }
  let n = sqrt(row_sum(s, lid.x)) * cd.inv;
  if (lid.x == 0u) {
    norm[0] = n;
    scale[0] = cd.inv * select(1.0, min(1.0, cd.max_norm / (n + 1e-6)), cd.clip == 1u);
  }
}
