// rope: the rotary position embedding's frequencies, the one definition used by the GPU tables
// (kernels/rope.wgsl reads ropeTables) and by the ONNX graph (src/formats/onnx.ts).
// Pair i of a head of size HS turns by angle t * invFreq[i], invFreq[i] = theta^(-2i/HS).

/** (HS/2) inverse frequencies, rounded to f32 as PyTorch and llama2.c compute them */
export function ropeInvFreq(HS: number, theta: number): Float32Array {
  return Float32Array.from({ length: HS / 2 }, (_, i) => Math.fround(1 / Math.pow(theta, (2 * i) / HS)));
}

/** cos/sin tables (T, HS/2) of angle t * invFreq[i]: the angle rounded to f32, cos and sin in float64 then f32 */
export function ropeTables(T: number, HS: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = HS / 2, inv = ropeInvFreq(HS, theta);
  const cos = new Float32Array(T * half), sin = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround(t * inv[i]);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}
