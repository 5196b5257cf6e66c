// swiglu: out = silu(gate) * up, elementwise, silu(x) = x * sigmoid(x) (Llama's MLP: w2(silu(w1 x) * w3 x)).
// out, gate, up: (N) with N = B*T*H, H = hidden_dim
// backward, with s = sigmoid(gate):  dgate = dout * up * s * (1 + gate * (1 - s));  dup = dout * gate * s
// = / +=: dgate and dup are written (=).
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/pointwise.ts)
struct Dims { N: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;

@compute @workgroup_size(WG)
fn swiglu_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  let g = gate[i];
  out[i] = g / (1.0 + exp(-g)) * up[i];
}

@group(0) @binding(1) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(2) var<storage, read_write> dup: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> bgate: array<f32>;
@group(0) @binding(5) var<storage, read> bup: array<f32>;

@compute @workgroup_size(WG)
fn swiglu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  let g = bgate[i];
  let s = 1.0 / (1.0 + exp(-g));
  let dy = dout[i];
  dgate[i] = dy * bup[i] * s * (1.0 + g * (1.0 - s));
  dup[i] = dy * g * s;
}
