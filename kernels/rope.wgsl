// rope: rotary position embedding, in place on q or k (Su et al. 2021, arXiv 2104.09864).
// x: (B,T,NH,HS)   freqs_cos, freqs_sin: (T, HS/2), computed on the CPU in float64 (src/model/rope.ts)
// pair i of a head, angle = t * theta^(-2i/HS), (a, b) -> (a cos - b sin, a sin + b cos), where
//   mode 0 (interleaved, llama2.c / Meta checkpoints): a = x[2i], b = x[2i+1]
//   mode 1 (rotate_half, Hugging Face checkpoints):     a = x[i],  b = x[i + HS/2]
// backward: the inverse (transposed) rotation, in place on the gradient:
//   (da, db) -> (da cos + db sin, -da sin + db cos)
// = / +=: in place (the gradient w.r.t. the rotated q/k becomes the gradient w.r.t. the unrotated one).
// one thread per pair
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/rope.ts)
struct Dims { N: u32, T: u32, NH: u32, HS: u32, mode: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> freqs_cos: array<f32>;
@group(0) @binding(3) var<storage, read> freqs_sin: array<f32>;

// rotate pair p of x by +angle (dir = 1, forward) or -angle (dir = -1, backward)
fn rotate(p: u32, dir: f32) {
  let half = d.HS / 2u;
  let i = p % half;
  let bth = p / half;                              // (b*T + t) * NH + h
  let t = (bth / d.NH) % d.T;
  let base = bth * d.HS;                           // seek to x[b,t,h,:]
  var ia = base + 2u * i;
  var ib = ia + 1u;
  if (d.mode == 1u) { ia = base + i; ib = base + i + half; }
  let cs = freqs_cos[t * half + i];
  let sn = dir * freqs_sin[t * half + i];
  let a = x[ia];
  let b = x[ib];
  x[ia] = a * cs - b * sn;
  x[ib] = a * sn + b * cs;
}

@compute @workgroup_size(WG)
fn rope_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
  let p = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat pair index over (B*T, NH, HS/2)
  if (p >= d.N) { return; }
  rotate(p, 1.0);
}

@compute @workgroup_size(WG)
fn rope_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_id) lid: vec3<u32>) {
  let p = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat pair index over (B*T, NH, HS/2)
  if (p >= d.N) { return; }
  rotate(p, -1.0);
}
