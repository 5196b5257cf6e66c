// _gelu: the GELU functions shared by kernels/gelu.wgsl (the pointwise passes) and kernels/matmul.wgsl
// (the gemm epilogues that fuse them), so that both compute the same bits. Included (scripts/gen.mjs).
//   tanh form ("gelu_new", GPT-2; PyTorch F.gelu(approximate='tanh')), u = sqrt(2/pi) (x + 0.044715 x^3):
//     gelu(x) = 0.5 x (1 + tanh u) = x s,  s = sigmoid(2u) = 1 / (1 + exp(-2u))
//     gelu'(x) = 0.5 (1 + tanh u) + 0.5 x sech^2(u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
//              = s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 x^2)      (sech^2 u = 4 s (1 - s))
//     one exp and one division; exp(-2u) overflowing to inf (u < -44) gives s = 0, gelu = -0, gelu' = 0
//   erf form (GPT-NeoX's "gelu"; F.gelu(approximate='none')):
//     gelu(x) = 0.5 x (1 + erf(x / sqrt 2)),  gelu'(x) = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)
//     erf through erfc(z) = t exp(-z^2 - 1.26551223 + t (1.00002368 + ...)), t = 1 / (1 + z/2) (Numerical
//     Recipes' Chebyshev fit, fractional error < 1.2e-7 for all z >= 0), erf(-z) = -erf(z).
const GELU_SCALE: f32 = 0.7978845608028654;   // sqrt(2/pi)

// sigmoid(2u) of the tanh form
fn gelu_s(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-2.0 * GELU_SCALE * (x + 0.044715 * x * x * x)));
}

fn gelu_tanh(x: f32) -> f32 {
  return x * gelu_s(x);
}

fn gelu_tanh_grad(x: f32) -> f32 {
  let s = gelu_s(x);
  return s + 2.0 * x * s * (1.0 - s) * GELU_SCALE * (1.0 + 3.0 * 0.044715 * x * x);
}

fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return sign(x) * (1.0 - t * exp(p));
}

fn gelu_erf(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
}

fn gelu_erf_grad(x: f32) -> f32 {
  return 0.5 * (1.0 + erf_approx(x * 0.7071067811865476)) + x * exp(-0.5 * x * x) * 0.3989422804014327;
}
