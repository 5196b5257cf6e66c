// gelu: out = gelu(x), the tanh form ("gelu_new") of GPT-2, and (gelu_erf_*) the exact erf form of
// GPT-NeoX; the functions and their derivatives are in kernels/_gelu.wgsl, which the gemm epilogues of
// kernels/matmul.wgsl share (src/gpu/kernels/matmul.ts fuses these passes there when it can).
// out, inp: (N)   reference: llm.c gelu_forward/gelu_backward; PyTorch F.gelu(approximate='tanh'|'none')
// backward: dinp = dout * gelu'(inp); the *_inplace entries take dout from dinp and overwrite it
// (the fallback of a fused matmul backward).  = / +=: out and dinp are written (=).
//#include _gelu.wgsl
override WG: u32;   // threads per workgroup: set by the launcher (src/gpu/kernels/pointwise.ts)
struct Dims { N: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 { return (wid.y * nwg.x + wid.x) * WG + lid.x; }

@compute @workgroup_size(WG)
fn gelu_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i < d.N) { out[i] = gelu_tanh(inp[i]); }
}

@compute @workgroup_size(WG)
fn gelu_erf_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i < d.N) { out[i] = gelu_erf(inp[i]); }
}

@group(0) @binding(1) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(2) var<storage, read> binp: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;

@compute @workgroup_size(WG)
fn gelu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i < d.N) { dinp[i] = gelu_tanh_grad(binp[i]) * dout[i]; }
}

@compute @workgroup_size(WG)
fn gelu_erf_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i < d.N) { dinp[i] = gelu_erf_grad(binp[i]) * dout[i]; }
}

@compute @workgroup_size(WG)
fn gelu_backward_inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i < d.N) { dinp[i] = gelu_tanh_grad(binp[i]) * dinp[i]; }
}

@compute @workgroup_size(WG)
fn gelu_erf_backward_inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                             @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = index(wid, nwg, lid);
  if (i < d.N) { dinp[i] = gelu_erf_grad(binp[i]) * dinp[i]; }
}
