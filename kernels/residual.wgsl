// residual: out = inp1 + inp2, elementwise (llm.c residual_forward/backward).
// out, inp1, inp2: (N)
// backward: dinp1 += dout; dinp2 += dout (train_gpt2.c). = / +=: both accumulate, since each input may
// feed other layers too. dout must not share a buffer range with dinp1 or dinp2 (WebGPU forbids a
// writable binding that overlaps another). A model that keeps one residual-gradient buffer (llm.c's
// dresidual, with the norms' dinp +=) needs no call at all: the residual backward is the identity.
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/pointwise.ts)
struct Dims { N: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp1: array<f32>;
@group(0) @binding(3) var<storage, read> inp2: array<f32>;

@compute @workgroup_size(WG)
fn residual_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  out[i] = inp1[i] + inp2[i];
}

@group(0) @binding(1) var<storage, read_write> dinp1: array<f32>;
@group(0) @binding(2) var<storage, read_write> dinp2: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;

@compute @workgroup_size(WG)
fn residual_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  dinp1[i] += dout[i];
  dinp2[i] += dout[i];
}
