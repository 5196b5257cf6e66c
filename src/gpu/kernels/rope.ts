// rope launchers (kernels/rope.wgsl): rotary position embedding in place on q or k, and its inverse
// rotation for the gradient. The cos/sin tables come from src/model/rope.ts.
import type { Gpu, View } from '../gpu.js';
import { slice } from '../view.js';
import { assert } from '../../util/errors.js';

const WG = 256;

/** RoPE in place on x: (B,T,NH,HS), with cos/sin tables (T, HS/2). mode 0 interleaved, 1 rotate_half. */
export function ropeForward(g: Gpu, x: View, cos: View, sin: View, B: number, T: number, NH: number, HS: number, mode: 0 | 1) {
  assert(HS % 2 === 0, `rope: head size ${HS} must be even`);
  const N = B * T * NH * (HS / 2);
  g.dispatch('rope_forward', { u: [N, T, NH, HS, mode] }, [slice(x, 0, B * T * NH * HS), cos, sin], [Math.ceil(N / WG)], { WG });
}

/** the inverse rotation, in place on dx (B,T,NH,HS): gradient w.r.t. rotated q/k -> w.r.t. unrotated */
export function ropeBackward(g: Gpu, dx: View, cos: View, sin: View, B: number, T: number, NH: number, HS: number, mode: 0 | 1) {
  assert(HS % 2 === 0, `rope: head size ${HS} must be even`);
  const N = B * T * NH * (HS / 2);
  g.dispatch('rope_backward', { u: [N, T, NH, HS, mode] }, [slice(dx, 0, B * T * NH * HS), cos, sin], [Math.ceil(N / WG)], { WG });
}
