// bench variant (not used by the package): the classic 16x16 workgroup-memory tiled matmul.
// Same bindings and uniforms as kernels/matmul.wgsl; one thread per output element.
const TILE: u32 = 16u;
struct Dims { N: u32, C: u32, OC: u32, ldo: u32, oc0: u32, has_bias: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;

var<workgroup> tile_in: array<array<f32, 16>, 16>;
var<workgroup> tile_w: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16)
fn matmul_tiled16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * TILE + lid.y;
  let col = wid.x * TILE + lid.x;
  let wrow = wid.x * TILE + lid.y;
  var acc = 0.0;
  for (var c0 = 0u; c0 < d.C; c0 += TILE) {
    let c = c0 + lid.x;
    tile_in[lid.y][lid.x] = select(0.0, inp[row * d.C + c], row < d.N && c < d.C);
    tile_w[lid.y][lid.x] = select(0.0, weight[wrow * d.C + c], wrow < d.OC && c < d.C);
    workgroupBarrier();
    for (var k = 0u; k < TILE; k++) { acc += tile_in[lid.y][k] * tile_w[lid.x][k]; }
    workgroupBarrier();
  }
  if (row < d.N && col < d.OC) { out[row * d.ldo + d.oc0 + col] = acc; }
}
