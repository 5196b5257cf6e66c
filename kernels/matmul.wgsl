// matmul: out = inp @ weight^T (+ bias), PyTorch nn.Linear layout (llm.c matmul_forward).
// out: (N, ldo) of which columns [oc0, oc0+OC) are written   inp: (N, C)   weight: (OC, C)   bias: (OC)
// The launcher (src/kernels.ts matmulForward) splits large weights/outputs into chunks that fit
// maxStorageBufferBindingSize; each chunk binds weight rows [oc0, oc0+OC) and out rows [n0, n0+N).
// 16x16 output tile per workgroup: 1) stage 16x16 tiles of inp and weight in workgroup memory
// 2) accumulate over C in steps of 16  3) write (+bias). Works for any N, C, OC (tails are guarded).
const TILE: u32 = 16u;
struct Dims { N: u32, C: u32, OC: u32, ldo: u32, oc0: u32, has_bias: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

var<workgroup> tile_in: array<array<f32, 16>, 16>;   // [row][c]
var<workgroup> tile_w: array<array<f32, 16>, 16>;    // [out col][c]

@compute @workgroup_size(16, 16)
fn matmul_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * TILE + lid.y;     // row of inp/out this thread writes
  let col = wid.x * TILE + lid.x;     // output column (within this chunk) this thread writes
  let wrow = wid.x * TILE + lid.y;    // weight row this thread stages
  var acc = 0.0;
  for (var c0 = 0u; c0 < d.C; c0 += TILE) {
    // 1) stage: thread (x,y) loads inp[row, c0+x] and weight[wrow, c0+x]
    let c = c0 + lid.x;
    tile_in[lid.y][lid.x] = select(0.0, inp[row * d.C + c], row < d.N && c < d.C);
    tile_w[lid.y][lid.x] = select(0.0, weight[wrow * d.C + c], wrow < d.OC && c < d.C);
    workgroupBarrier();
    // 2) accumulate this slice of C
    for (var k = 0u; k < TILE; k++) { acc += tile_in[lid.y][k] * tile_w[lid.x][k]; }
    workgroupBarrier();
  }
  // 3) write
  if (row < d.N && col < d.OC) {
    if (d.has_bias == 1u) { acc += bias[col]; }
    out[row * d.ldo + d.oc0 + col] = acc;
  }
}
