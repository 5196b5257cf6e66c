// encoder_w16: the token embedding (and GPT-2's learned positions) read from tables kept in their stored
// 16-bit dtype (bf16 or f16, two per u32 word), widened as read: kernels/encoder.wgsl's forward for a
// teacher held at 2 bytes a parameter (src/gpu/kernels/matmul_w16.ts). Forward only.
// out: (B,T,C) f32   ids: (B,T) u32   wte: (V,C) 16-bit, rows [v0, v0 + nv) bound   wpe: (maxT,C) 16-bit when has_wpe
//   out[b,t,:] = wte[ids[b,t],:] (+ wpe[pos0 + t,:]), one thread per output element (grid may be folded to 2-D)
//#include _w16.wgsl
override WG: u32;
struct Dims { N: u32, T: u32, C: u32, has_wpe: u32, v0: u32, nv: u32, pos0: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> wte: array<u32>;
@group(0) @binding(4) var<storage, read> wpe: array<u32>;

fn at(i: u32, pos: bool) -> f32 {
  var w: u32;
  if (pos) { w = wpe[i >> 1u]; } else { w = wte[i >> 1u]; }
  let v = widen2(w);
  return select(v.x, v.y, (i & 1u) == 1u);
}

@compute @workgroup_size(WG)
fn encoder_forward_w16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  let bt = i / d.C;
  let c = i % d.C;
  let id = ids[bt];
  if (id < d.v0 || id >= d.v0 + d.nv) { return; }  // another chunk's row
  var y = at((id - d.v0) * d.C + c, false);
  if (d.has_wpe == 1u) { y += at((bt % d.T + d.pos0) * d.C + c, true); }
  out[i] = y;
}
