// rope launchers (kernels/rope.wgsl): rotary position embedding in place on q or k, and its inverse
// rotation for the gradient. The cos/sin tables (T, R/2) come from src/model/rope.ts.
import type { Gpu, View } from '../gpu.js';
import { slice } from '../view.js';
import { assert } from '../../util/errors.js';

const WG = 256;

/**
 * where the heads sit: R rotary dims per head (default HS), rows of rs floats per (b,t) (default NH*HS)
 * with head 0 at off (default 0): GPT-NeoX's fused qkv rows and partial rotary; pos0: the position of
 * row t = 0 (the length of a KV cache before these tokens; the tables must reach pos0 + T)
 */
export interface RopeLayout { rotary?: number; rowStride?: number; offset?: number; pos0?: number }

function rope(g: Gpu, entry: string, x: View, cos: View, sin: View, B: number, T: number, NH: number, HS: number, mode: 0 | 1, o: RopeLayout) {
  const R = o.rotary ?? HS, rs = o.rowStride ?? NH * HS, off = o.offset ?? 0, pos0 = o.pos0 ?? 0;
  assert(R % 2 === 0 && R >= 2 && R <= HS, `rope: ${R} rotary dims of a head of ${HS} must be even and at least 2`);
  assert(cos.numel >= (pos0 + T) * (R / 2), `rope: tables of ${cos.numel / (R / 2)} positions for positions up to ${pos0 + T}`);
  const N = B * T * NH * (R / 2);
  g.dispatch(entry, { u: [N, T, NH, HS, mode, R, rs, off, pos0] }, [slice(x, 0, B * T * rs), cos, sin], [Math.ceil(N / WG)], { WG });
}

/** RoPE in place on x (default (B,T,NH,HS)), tables (T, R/2). mode 0 interleaved pairs, 1 rotate_half. */
export function ropeForward(g: Gpu, x: View, cos: View, sin: View, B: number, T: number, NH: number, HS: number, mode: 0 | 1, layout: RopeLayout = {}) {
  rope(g, 'rope_forward', x, cos, sin, B, T, NH, HS, mode, layout);
}

/** the inverse rotation, in place on dx: gradient w.r.t. rotated q/k -> w.r.t. unrotated */
export function ropeBackward(g: Gpu, dx: View, cos: View, sin: View, B: number, T: number, NH: number, HS: number, mode: 0 | 1, layout: RopeLayout = {}) {
  rope(g, 'rope_backward', dx, cos, sin, B, T, NH, HS, mode, layout);
}
