// rope: the rotary position embedding's frequencies, the one definition used by the GPU tables
// (kernels/rope.wgsl reads ropeTables) and by the ONNX graph (src/formats/onnx.ts). Pair i of the R
// rotating dims of a head turns by angle t * invFreq[i], invFreq[i] = theta^(-2i/R), computed in f32 as
// PyTorch does, then scaled as Hugging Face's modeling_rope_utils.py does for rope_type "linear"
// (invFreq / factor) and "llama3" (_compute_llama3_parameters: long wavelengths / factor, short ones
// kept, a smooth blend between).
import type { ModelConfig, RopeScaling } from './config.js';

const f = Math.fround;

/** (R/2) inverse frequencies for R rotating dims, f32 as PyTorch computes them */
export function ropeInvFreq(R: number, theta: number, scaling?: RopeScaling | null): Float32Array {
  const inv = Float32Array.from({ length: R / 2 }, (_, i) => f(1 / f(Math.pow(theta, f((2 * i) / R)))));
  if (!scaling) return inv;
  if (scaling.type === 'linear') return inv.map((x) => f(x / scaling.factor));
  const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: old } = scaling;
  const lowWave = f(old / lo), highWave = f(old / hi);
  return inv.map((x) => {
    const wave = f(f(2 * Math.PI) / x);
    if (wave > lowWave) return f(x / factor);               // long wavelengths: scaled
    if (wave < highWave) return x;                          // short ones: kept
    const smooth = f(f(f(old / wave) - lo) / f(hi - lo));
    return f(f(f(1 - smooth) * f(x / factor)) + f(smooth * x));
  });
}

/** the rotating dims of a head and the frequencies of a model */
export function ropeOf(c: ModelConfig, HS: number): Float32Array {
  return ropeInvFreq(c.rotaryDim ?? HS, c.ropeTheta, c.ropeScaling);
}

/** cos/sin tables (T, R/2) of angle t * invFreq[i]: the angle rounded to f32, cos and sin in float64 then f32 */
export function ropeTables(T: number, R: number, theta: number, scaling?: RopeScaling | null): { cos: Float32Array; sin: Float32Array } {
  return tablesOf(T, ropeInvFreq(R, theta, scaling));
}

export function tablesOf(T: number, inv: Float32Array): { cos: Float32Array; sin: Float32Array } {
  const half = inv.length;
  const cos = new Float32Array(T * half), sin = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = f(t * inv[i]);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}
