// encoder launchers (kernels/encoder.wgsl): token (+ learned position) embedding, forward and backward.
import type { Gpu, View } from '../gpu.js';
import { ALIGN, slice } from '../view.js';
import { assert } from '../../util/errors.js';
import { encoderForwardW16 } from './matmul_w16.js';

const WG = 256;

/** out: (B,T,C)  ids: (B,T) u32  wte: (V,C)  wpe: (maxT,C) or null, rows pos0..pos0+T-1; wte bound in row chunks that fit one binding */
export function encoderForward(g: Gpu, out: View, ids: View, wte: View, wpe: View | null, B: number, T: number, C: number, pos0 = 0) {
  if (wte.dtype) return encoderForwardW16(g, out, ids, wte, wpe, B, T, C, pos0); // tables kept in their 16-bit dtype (a teacher)
  const N = B * T * C, V = wte.numel / C;
  const vChunk = Math.floor(g.bindingFloats / C / ALIGN) * ALIGN;
  for (let v0 = 0; v0 < V; v0 += vChunk) {
    const nv = Math.min(vChunk, V - v0);
    g.dispatch('encoder_forward', { u: [N, T, C, wpe ? 1 : 0, v0, nv, pos0] }, [out, slice(ids, 0, B * T), slice(wte, v0 * C, nv * C), wpe ?? g.none],
      [Math.ceil(N / WG)], { WG });
  }
}

/**
 * dwte (V,C) += and dwpe (maxT,C) += from dout (B,T,C). ids (B*T) come from the CPU: positions are
 * grouped by token there (a CSR list: ascending unique tokens, offsets, positions ascending), so one
 * thread owns each (token, c) and sums in position order: deterministic without float atomics.
 */
export function encoderBackward(g: Gpu, dwte: View, dwpe: View | null, dout: View, ids: ArrayLike<number>,
                                B: number, T: number, C: number, maxBindingFloats = g.bindingFloats) {
  const BT = B * T, V = dwte.numel / C;
  assert(Number.isInteger(V) && ids.length >= BT, `encoder_backward: dwte of ${dwte.numel} floats is not (V, ${C}), or fewer than ${BT} ids`);
  // 1) the CSR list, uploaded to a scratch buffer
  const { tokens, csr } = tokenBuckets(ids, BT, V), U = tokens.length;
  const list = g.scratch('encoder_csr', csr.length);
  g.upload(list, csr);
  // 2) dwte in chunks of rows that fit one binding; each dispatch takes the unique tokens in its rows
  const rows = Math.floor(maxBindingFloats / C / ALIGN) * ALIGN;
  assert(rows > 0, `encoder_backward: a row of ${C} floats is too wide for one binding`);
  for (let r0 = 0, u0 = 0; r0 < V && u0 < U; r0 += rows) {
    let u1 = u0;
    while (u1 < U && tokens[u1] < r0 + rows) u1++;
    if (u1 > u0) {
      g.dispatch('encoder_backward', { u: [u1 - u0, C, u0, U, 2 * U + 1, r0] },
        [slice(dwte, r0 * C, Math.min(rows, V - r0) * C), slice(dout, 0, BT * C), list], [Math.ceil(((u1 - u0) * C) / WG)], { WG });
    }
    u0 = u1;
  }
  // 3) dwpe: one thread per (t, c), summing over b in order
  if (dwpe) g.dispatch('encoder_backward_wpe', { u: [B, T, C] }, [slice(dwpe, 0, T * C), slice(dout, 0, BT * C)], [Math.ceil((T * C) / WG)], { WG });
}

// positions grouped by token: csr = [tokens (U) | starts (U+1) | positions (BT)], tokens ascending,
// each token's positions ascending. Sorting the (token, position) pairs costs O(BT log BT) and no pass
// over the vocabulary (which is 50257 rows for GPT-2, more than the 1024 positions of a batch).
function tokenBuckets(ids: ArrayLike<number>, BT: number, V: number): { tokens: number[]; csr: Uint32Array } {
  const keys = new Float64Array(BT); // token * BT + position: exact below 2^53, sorts by token then position
  for (let i = 0; i < BT; i++) {
    assert(Number.isInteger(ids[i]) && ids[i] >= 0 && ids[i] < V, `encoder_backward: token id ${ids[i]} is outside [0, ${V})`);
    keys[i] = ids[i] * BT + i;
  }
  keys.sort();
  const tokens: number[] = [], starts: number[] = [];
  const positions = new Uint32Array(BT);
  for (let j = 0; j < BT; j++) {
    const token = Math.floor(keys[j] / BT);
    positions[j] = keys[j] - token * BT;
    if (j === 0 || token !== tokens[tokens.length - 1]) { tokens.push(token); starts.push(j); }
  }
  const U = tokens.length, csr = new Uint32Array(U + (U + 1) + BT);
  csr.set(tokens, 0);
  csr.set(starts, U);
  csr[2 * U] = BT;
  csr.set(positions, 2 * U + 1);
  return { tokens, csr };
}
