// encoder: token embedding (and, for GPT-2, learned positions), llm.c encoder_forward/backward.
// out: (B,T,C)   ids: (B,T) u32   wte: (V,C)   wpe: (maxT,C), used when d.has_wpe = 1
// forward: out[b,t,:] = wte[ids[b,t],:] (+ wpe[pos0 + t,:]; pos0 > 0 after a KV cache), one thread per output element; the grid may be
//   folded into 2-D (see src/gpu/gpu.ts). A wte larger than one storage binding is bound in row chunks
//   [v0, v0 + nv): each dispatch writes the positions whose id falls in its chunk, so every element
//   is written exactly once.
// backward: dwte[v,:] += sum over the (b,t) with ids[b,t] = v of dout[b,t,:];  dwpe[t,:] += sum_b dout[b,t,:]
// = / +=: both are parameter gradients, so both accumulate (+=), for gradient accumulation.
// Deterministic without atomics: the launcher groups positions by token on the CPU (a CSR list,
// see encoderBackward in src/gpu/kernels/encoder.ts) and one thread owns each (token, c), summing in position order.
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/encoder.ts)
struct Dims { N: u32, T: u32, C: u32, has_wpe: u32, v0: u32, nv: u32, pos0: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> wte: array<f32>;
@group(0) @binding(4) var<storage, read> wpe: array<f32>;

@compute @workgroup_size(WG)
fn encoder_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat index into out (B*T*C)
  if (i >= d.N) { return; }
  let bt = i / d.C;
  let c = i % d.C;
  let id = ids[bt];
  if (id < d.v0 || id >= d.v0 + d.nv) { return; }  // another chunk's row
  var x = wte[(id - d.v0) * d.C + c];
  if (d.has_wpe == 1u) { x += wpe[(bt % d.T + d.pos0) * d.C + c]; }
  out[i] = x;
}

// csr = [tokens (U) | starts (U+1) | positions (B*T)], tokens ascending, positions ascending per token.
// This dispatch handles unique tokens [u0, u0+U) whose dwte rows lie in the bound chunk starting at row r0.
struct BDims { U: u32, C: u32, u0: u32, starts: u32, positions: u32, r0: u32 }
@group(0) @binding(0) var<uniform> bd: BDims;
@group(0) @binding(1) var<storage, read_write> dwte: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> csr: array<u32>;

@compute @workgroup_size(WG)
fn encoder_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat (unique token, c)
  if (i >= bd.U * bd.C) { return; }
  let u = bd.u0 + i / bd.C;                       // index into the CSR token list
  let c = i % bd.C;
  let j1 = csr[bd.starts + u + 1u];
  var s = 0.0;
  // sum dout[pos, c] over this token's positions, in increasing position order
  for (var j = csr[bd.starts + u]; j < j1; j++) { s += dout[csr[bd.positions + j] * bd.C + c]; }
  dwte[(csr[u] - bd.r0) * bd.C + c] += s;         // row of the token, relative to the bound chunk
}

struct PDims { B: u32, T: u32, C: u32 }
@group(0) @binding(0) var<uniform> pd: PDims;
@group(0) @binding(1) var<storage, read_write> dwpe: array<f32>;
@group(0) @binding(2) var<storage, read> pdout: array<f32>;

@compute @workgroup_size(WG)
fn encoder_backward_wpe(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;   // flat (t, c)
  if (i >= pd.T * pd.C) { return; }
  var s = 0.0;
  for (var b = 0u; b < pd.B; b++) { s += pdout[b * pd.T * pd.C + i]; }   // dout[b,t,c], b in order
  dwpe[i] += s;
}
