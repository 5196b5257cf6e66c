// gelu: out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh form ("gelu_new") of GPT-2,
// and (gelu_erf_*, below) the exact erf form of GPT-NeoX.
// out, inp: (N)   reference: llm.c gelu_forward/gelu_backward; PyTorch F.gelu(approximate='tanh')
// backward: dinp = dout * (0.5 (1 + tanh u) + 0.5 x sech^2(u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)),
//   u = sqrt(2/pi) (x + 0.044715 x^3).  = / +=: dinp is written (=).
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/pointwise.ts)
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

@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> binp: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;

@compute @workgroup_size(WG)
fn gelu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  let x = binp[i];
  let u = GELU_SCALE * (x + 0.044715 * x * x * x);
  let e = exp(-2.0 * abs(u));
  let sech2 = 4.0 * e / ((1.0 + e) * (1.0 + e));   // sech^2(u) = 1 - tanh^2(u), without the cancellation
  let local_grad = 0.5 * (1.0 + tanh_stable(u)) + 0.5 * x * sech2 * GELU_SCALE * (1.0 + 3.0 * 0.044715 * x * x);
  dinp[i] = local_grad * dout[i];
}

// ---- the exact form (GPT-NeoX's "gelu", PyTorch F.gelu(approximate='none')) ----
// out = 0.5 x (1 + erf(x / sqrt 2));  dinp = dout * (0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi))
// erf through erfc(z) = t exp(-z^2 - 1.26551223 + t (1.00002368 + ...)), t = 1 / (1 + z/2) (Numerical
// Recipes' Chebyshev fit, fractional error < 1.2e-7 for all z >= 0), erf(-z) = -erf(z).
fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return sign(x) * (1.0 - t * exp(p));
}

@compute @workgroup_size(WG)
fn gelu_erf_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  let x = inp[i];
  out[i] = 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
}

@compute @workgroup_size(WG)
fn gelu_erf_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= d.N) { return; }
  let x = binp[i];
  let local_grad = 0.5 * (1.0 + erf_approx(x * 0.7071067811865476)) + x * exp(-0.5 * x * x) * 0.3989422804014327;
  dinp[i] = local_grad * dout[i];
}
