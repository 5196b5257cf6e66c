// rope: rotary position embedding, in place on q or k (Su et al. 2021, arXiv 2104.09864).
// x: rows of rs floats per (b,t), head h at off + h*HS (q (B,T,NH,HS): rs = NH*HS, off 0; GPT-NeoX's
// fused qkv: rs = 3C, off 0 for q, C for k). Only the first R dims of a head turn (R = HS, or GPT-NeoX's
// rotary_pct * HS; the rest pass through). freqs_cos, freqs_sin: (T, R/2), from src/model/rope.ts.
// position t + pos0 of each row (pos0: the tokens already in a KV cache; tables then cover them too)
// pair i of a head, angle = position * invFreq[i], (a, b) -> (a cos - b sin, a sin + b cos), where
//   mode 0 (interleaved, llama2.c / Meta checkpoints): a = x[2i], b = x[2i+1]
//   mode 1 (rotate_half, Hugging Face checkpoints):     a = x[i],  b = x[i + R/2]
// backward: the inverse (transposed) rotation, in place on the gradient:
//   (da, db) -> (da cos + db sin, -da sin + db cos)
// = / +=: in place (the gradient w.r.t. the rotated q/k becomes the gradient w.r.t. the unrotated one).
// one thread per pair
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/rope.ts)
struct Dims { N: u32, T: u32, NH: u32, HS: u32, mode: u32, R: u32, rs: u32, off: u32, pos0: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> freqs_cos: array<f32>;
@group(0) @binding(3) var<storage, read> freqs_sin: array<f32>;

// rotate pair p of x by +angle (dir = 1, forward) or -angle (dir = -1, backward)
fn rotate(p: u32, dir: f32) {
  let half = d.R / 2u;
  let i = p % half;
  let bth = p / half;                              // (b*T + t) * NH + h
  let bt = bth / d.NH;
  let t = bt % d.T + d.pos0;                      // position: pos0 > 0 for tokens after a KV cache
  let base = bt * d.rs + d.off + (bth % d.NH) * d.HS;   // seek to x[b,t,h,:]
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
  let p = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat pair index over (B*T, NH, R/2)
  if (p >= d.N) { return; }
  rotate(p, 1.0);
}

@compute @workgroup_size(WG)
fn rope_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_id) lid: vec3<u32>) {
  let p = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat pair index over (B*T, NH, R/2)
  if (p >= d.N) { return; }
  rotate(p, -1.0);
}
