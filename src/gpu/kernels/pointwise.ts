// pointwise launchers: GELU (kernels/gelu.wgsl), SwiGLU (kernels/swiglu.wgsl). One thread per element.
// The residual adds and, where the matmul can, the GELU passes are fused into the matmuls (matmul.ts).
import type { Gpu, View } from '../gpu.js';
import { slice } from '../view.js';

const WG = 256;

export function geluForward(g: Gpu, out: View, inp: View, N: number) {
  g.dispatch('gelu_forward', { u: [N] }, [slice(out, 0, N), slice(inp, 0, N)], [Math.ceil(N / WG)], { WG });
}

/** dinp = dout * gelu'(inp), (N); llm.c's argument order (dinp, inp, dout). dinp may be dout (in place). */
export function geluBackward(g: Gpu, dinp: View, inp: View, dout: View, N: number) {
  geluBack(g, 'gelu_backward', dinp, inp, dout, N);
}

/** the exact GELU 0.5 x (1 + erf(x / sqrt 2)), (N) */
export function geluErfForward(g: Gpu, out: View, inp: View, N: number) {
  g.dispatch('gelu_erf_forward', { u: [N] }, [slice(out, 0, N), slice(inp, 0, N)], [Math.ceil(N / WG)], { WG });
}

/** dinp = dout * gelu_erf'(inp), (N); dinp may be dout (in place) */
export function geluErfBackward(g: Gpu, dinp: View, inp: View, dout: View, N: number) {
  geluBack(g, 'gelu_erf_backward', dinp, inp, dout, N);
}

function geluBack(g: Gpu, entry: string, dinp: View, inp: View, dout: View, N: number) {
  if (dinp.buffer === dout.buffer && dinp.offset === dout.offset) {
    g.dispatch(`${entry}_inplace`, { u: [N] }, [slice(dinp, 0, N), slice(inp, 0, N)], [Math.ceil(N / WG)], { WG });
  } else {
    g.dispatch(entry, { u: [N] }, [slice(dinp, 0, N), slice(inp, 0, N), slice(dout, 0, N)], [Math.ceil(N / WG)], { WG });
  }
}

export function swigluForward(g: Gpu, out: View, gate: View, up: View, N: number) {
  g.dispatch('swiglu_forward', { u: [N] }, [slice(out, 0, N), slice(gate, 0, N), slice(up, 0, N)], [Math.ceil(N / WG)], { WG });
}

/** dgate, dup = from dout, gate, up (N) */
export function swigluBackward(g: Gpu, dgate: View, dup: View, dout: View, gate: View, up: View, N: number) {
  g.dispatch('swiglu_backward', { u: [N] }, [slice(dgate, 0, N), slice(dup, 0, N), slice(dout, 0, N), slice(gate, 0, N), slice(up, 0, N)],
    [Math.ceil(N / WG)], { WG });
}
