// sgmatrix_emul: kernels/matmul_sgmatrix.wgsl with the subgroup-matrix builtins emulated (test/matmul_sgmatrix.test.ts)
// The kernel with Dawn's four subgroup-matrix builtins replaced by plain WGSL with the semantics Dawn
// documents (types <T, columns, rows>; row_major: element (r, c) at offset + r * stride + c; col_major:
// at offset + c * stride + r; multiply-accumulate: C + A B): a left or right matrix is a handle to the
// staged tile in workgroup memory, a result matrix one of 16 accumulator tiles there, and each lane owns
// the elements e = lane (mod SG) of every tile, so no two lanes touch one element. The kernel's tiling,
// staging, layouts, tails and epilogue and the TS launchers so run on any adapter, against the oracle;
// what this cannot check is the hardware's builtins themselves.
const EMULATION = `
struct SMView { off: u32, stride: u32 }
var<workgroup> smAcc: array<f32, 4096>;   // 16 result tiles of 16 x 16, [h * 256 + r * 16 + c]
var<private> smLane: u32;
var<private> smE: u32;   // 256, and smK 16, as values the compiler cannot see (M is never 2^32 - 1), so it
var<private> smK: u32;   // does not unroll the emulation's 16 inlined calls into one enormous kernel
fn smZero(h: u32) -> u32 { for (var e = smLane; e < smE; e += SG) { smAcc[h * 256u + e] = 0.0; } return h; }
fn smLoadA(off: u32, stride: u32) -> SMView { return SMView(off, stride); }
fn smLoadB(off: u32, stride: u32) -> SMView { return SMView(off, stride); }
fn smMMA(a: SMView, b: SMView, h: u32) -> u32 {
  for (var e = smLane; e < smE; e += SG) {
    let r = e / 16u; let n = e % 16u;
    var s = smAcc[h * 256u + e];
    for (var k = 0u; k < smK; k++) { s = fma(f32(smA[a.off + r * a.stride + k]), f32(smB[b.off + n * b.stride + k]), s); }
    smAcc[h * 256u + e] = s;
  }
  return h;
}
fn smStoreC(off: u32, h: u32, stride: u32) { for (var e = smLane; e < smE; e += SG) { smC[off + (e / 16u) * stride + e % 16u] = smAcc[h * 256u + e]; } }
`;
export function emulated(code: string): string {
  const out = code.replace('enable chromium_experimental_subgroup_matrix;', '')
    .replace(/var c(\d)(\d) = subgroup_matrix_result<f32, 16, 16>\(\);/g, (_, i, j) => `var c${i}${j} = smZero(${4 * Number(i) + Number(j)}u);`)
    .replaceAll('subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&smA, ', 'smLoadA(')
    .replaceAll('subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&smB, ', 'smLoadB(')
    .replaceAll('subgroupMatrixMultiplyAccumulate(', 'smMMA(')
    .replaceAll('subgroupMatrixStore<row_major>(&smC, ', 'smStoreC(')
    .replace('let m0 = wg.y * SM_TM;', 'smLane = lane; smE = select(256u, 0u, gd.M == 0xffffffffu); smK = select(16u, 0u, gd.M == 0xffffffffu); let m0 = wg.y * SM_TM;')
    .replace('@compute @workgroup_size(SG)\nfn gemm_sm', EMULATION + '\n@compute @workgroup_size(SG)\nfn gemm_sm');
  if (/subgroup_?[mM]atrix/.test(out.split('\n').filter((l) => !l.trimStart().startsWith('//')).join('\n'))) throw new Error('emulation left a subgroup-matrix builtin');
  return out;
}

