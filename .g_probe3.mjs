import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create(['enable-dawn-features=allow_unsafe_apis']);
const a = await gpu.requestAdapter();
const d = await a.requestDevice({ requiredFeatures: ['shader-f16', 'subgroups'] });
const good = `enable f16;
enable chromium_experimental_subgroup_matrix;
var<workgroup> ta: array<f16, 1024>;
@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(32) fn main() {
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&ta, 0u, 16u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&ta, 0u, 16u);
  var acc = subgroup_matrix_result<f32, 16, 16>();
  acc = subgroupMatrixMultiplyAccumulate(l, r, acc);
  subgroupMatrixStore<row_major>(&o, 0u, acc, 16u);
}`;
for (const [n, code] of [['good', good], ['bad', good.replace('row_major>(&ta', 'rowmajor>(&ta').replace('16u);\n  var', '16u, 3u);\n  var')]]) {
  d.pushErrorScope('validation');
  const m = d.createShaderModule({ code });
  const info = await m.getCompilationInfo();
  const e = await d.popErrorScope();
  console.log(n, info.messages.map((x) => `${x.type} ${x.lineNum}:${x.linePos} ${x.message}`).join('\n'), e?.message?.slice(0, 300));
}
process.exit(0);
