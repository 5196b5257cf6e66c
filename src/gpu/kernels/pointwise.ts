// pointwise launchers: residual add (kernels/residual.wgsl), GELU (kernels/gelu.wgsl), SwiGLU
// (kernels/swiglu.wgsl). One thread per element.
import type { Gpu, View } from '../gpu.js';
import { slice } from '../view.js';

const WG = 256;

export function residualForward(g: Gpu, out: View, inp1: View, inp2: View, N: number) {
  g.dispatch('residual_forward', { u: [N] }, [slice(out, 0, N), slice(inp1, 0, N), slice(inp2, 0, N)], [Math.ceil(N / WG)], { WG });
}

/** dinp1 += dout; dinp2 += dout (N). A model with one dresidual buffer needs no call (see kernels/residual.wgsl). */
export function residualBackward(g: Gpu, dinp1: View, dinp2: View, dout: View, N: number) {
  g.dispatch('residual_backward', { u: [N] }, [slice(dinp1, 0, N), slice(dinp2, 0, N), slice(dout, 0, N)], [Math.ceil(N / WG)], { WG });
}

export function geluForward(g: Gpu, out: View, inp: View, N: number) {
  g.dispatch('gelu_forward', { u: [N] }, [slice(out, 0, N), slice(inp, 0, N)], [Math.ceil(N / WG)], { WG });
}

/** dinp = dout * gelu'(inp), (N); llm.c's argument order (dinp, inp, dout) */
export function geluBackward(g: Gpu, dinp: View, inp: View, dout: View, N: number) {
  g.dispatch('gelu_backward', { u: [N] }, [slice(dinp, 0, N), slice(inp, 0, N), slice(dout, 0, N)], [Math.ceil(N / WG)], { WG });
}

/** the exact GELU 0.5 x (1 + erf(x / sqrt 2)), (N) */
export function geluErfForward(g: Gpu, out: View, inp: View, N: number) {
  g.dispatch('gelu_erf_forward', { u: [N] }, [slice(out, 0, N), slice(inp, 0, N)], [Math.ceil(N / WG)], { WG });
}

/** dinp = dout * gelu_erf'(inp), (N) */
export function geluErfBackward(g: Gpu, dinp: View, inp: View, dout: View, N: number) {
  g.dispatch('gelu_erf_backward', { u: [N] }, [slice(dinp, 0, N), slice(inp, 0, N), slice(dout, 0, N)], [Math.ceil(N / WG)], { WG });
}

export function swigluForward(g: Gpu, out: View, gate: View, up: View, N: number) {
  g.dispatch('swiglu_forward', { u: [N] }, [slice(out, 0, N), slice(gate, 0, N), slice(up, 0, N)], [Math.ceil(N / WG)], { WG });
}

/** dgate, dup = from dout, gate, up (N) */
export function swigluBackward(g: Gpu, dgate: View, dup: View, dout: View, gate: View, up: View, N: number) {
  g.dispatch('swiglu_backward', { u: [N] }, [slice(dgate, 0, N), slice(dup, 0, N), slice(dout, 0, N), slice(gate, 0, N), slice(up, 0, N)],
    [Math.ceil(N / WG)], { WG });
}
