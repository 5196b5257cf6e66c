// encoder: token embedding (and, for GPT-2, learned positions), llm.c encoder_forward.
// out: (B,T,C)   ids: (B,T) u32   wte: (V,C)   wpe: (maxT,C), used when d.has_wpe = 1
// out[b,t,:] = wte[ids[b,t],:] (+ wpe[t,:])
// one thread per output element; the grid may be folded into 2-D (see src/gpu.ts)
// A wte larger than one storage binding is bound in row chunks [v0, v0 + nv): each dispatch writes
// the positions whose id falls in its chunk, so every element is written exactly once.
override WG: u32 = 256;
struct Dims { N: u32, T: u32, C: u32, has_wpe: u32, v0: u32, nv: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> wte: array<f32>;
@group(0) @binding(4) var<storage, read> wpe: array<f32>;

@compute @workgroup_size(WG)
fn encoder_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat index into out (B*T*C)
  if (i >= d.N) { return; }
  let bt = i / d.C;
  let c = i % d.C;
  let id = ids[bt];
  if (id < d.v0 || id >= d.v0 + d.nv) { return; }  // another chunk's row
  var x = wte[(id - d.v0) * d.C + c];
  if (d.has_wpe == 1u) { x += wpe[(bt % d.T) * d.C + c]; }
  out[i] = x;
}
