// gelu: out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh form ("gelu_new") of GPT-2.
// out, inp: (N)   reference: llm.c gelu_forward; PyTorch F.gelu(approximate='tanh')
override WG: u32 = 256;
const GELU_SCALE: f32 = 0.7978845608028654;   // sqrt(2/pi)
struct Dims { N: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;

// tanh through exp of a negative argument, so large |u| cannot overflow to inf/inf
fn tanh_stable(u: f32) -> f32 {
  let e = exp(-2.0 * abs(u));
  return sign(u) * (1.0 - e) / (1.0 + e);
}

@compute @workgroup_size(WG)
fn gelu_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  let x = inp[i];
  out[i] = 0.5 * x * (1.0 + tanh_stable(GELU_SCALE * (x + 0.044715 * x * x * x)));
}
