// device: get a GPUDevice in Node (Dawn through the 'webgpu' package, passed in by src/node/index.ts),
// browsers, web workers and Deno (navigator.gpu), or use the caller's own device. Requests the
// adapter's full storage/workgroup limits (the defaults, 128 MiB bindings and 8 storage buffers per
// stage, are too small for real models) and fails with a message that says how to get an adapter.
import { env, runtimeName } from '../util/env.js';
import { fail } from '../util/errors.js';

export interface DeviceOptions {
  /** a GPU object (navigator.gpu or Dawn's create()); defaults to navigator.gpu */
  gpu?: GPU;
  /** use this device as it is (the caller owns it; destroy() will not destroy it) */
  device?: GPUDevice;
  powerPreference?: GPUPowerPreference;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapterInfo: Record<string, string>;
  /** lanes per subgroup (min, max) when the device has the `subgroups` feature */
  subgroupSize: { min: number; max: number } | null;
  /** the subgroup-matrix tile kernels/matmul_sgmatrix.wgsl uses, when the device has the feature and the config */
  subgroupMatrix: SubgroupMatrixTile | null;
  owned: boolean;
}

/** one f16 x f16 -> f32 subgroup-matrix config (adapter.info.subgroupMatrixConfigs), in the lanes it runs at */
export interface SubgroupMatrixTile { M: number; N: number; K: number; lanes: number }

/** Dawn's experimental tensor-core feature (Vulkan cooperative matrices); its adapters list it only
 * when the instance was made with the allow_unsafe_apis toggle (src/node/index.ts) */
export const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix';
// the one config kernels/matmul_sgmatrix.wgsl is written for
const SGMATRIX_TILE = { M: 16, N: 16, K: 16 };

// optional features the kernels use when present: subgroup shuffles (src/gpu/kernels/matmul.ts), f16
const WANTED_FEATURES = ['subgroups', 'shader-f16'] as const;

// the limits the package's kernels may use, requested at the adapter's maximum
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupsPerDimension', 'maxBindGroups', 'maxUniformBufferBindingSize',
] as const;

export const NO_ADAPTER_HINT: Record<string, string> = {
  node: 'Dawn found no GPU adapter. On a machine without a GPU install a Vulkan driver: on Debian 12, add the ' +
    'bookworm-backports suite to apt sources and run `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1` ' +
    '(lavapipe, a CPU Vulkan driver; bookworm\'s own mesa 22.3 is too old for Dawn). Elsewhere install your GPU\'s Vulkan/Metal/D3D12 driver.',
  deno: 'Deno found no WebGPU adapter. Install a Vulkan driver (on Debian 12: mesa-vulkan-drivers and libvulkan1 from ' +
    'bookworm-backports) and run Deno with --unstable-webgpu if your Deno version needs it.',
  browser: 'this browser exposes no WebGPU adapter. Use a browser with WebGPU (Chrome/Edge 113+, Safari 26+, Firefox 141+), ' +
    'or for headless Chromium pass --enable-unsafe-webgpu (and on Linux a Vulkan driver).',
  unknown: 'no WebGPU implementation was found; pass one in: createGpu({ gpu }) or createGpu({ device }).',
};

export async function acquireDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  const rt = runtimeName();
  if (opts.device) {
    const info = (opts.device as any).adapterInfo;
    return { device: opts.device, adapterInfo: infoOf(info), subgroupSize: subgroupsOf(opts.device, info),
      subgroupMatrix: opts.device.features.has(SUBGROUP_MATRIX) ? sgmatrixTile(info) : null, owned: false };
  }
  const gpu = opts.gpu ?? env.navigatorGpu;
  if (!gpu) fail(`no WebGPU in this ${rt} runtime (navigator.gpu is missing)`, NO_ADAPTER_HINT[rt]);
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) fail(`requestAdapter() returned null: no WebGPU adapter in this ${rt} runtime`, NO_ADAPTER_HINT[rt]);
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) {
    const v = (adapter.limits as any)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as string[];
  // subgroup matrices only where the adapter offers them with the tile the kernel is written for
  const tile = adapter.features.has(SUBGROUP_MATRIX) && requiredFeatures.includes('shader-f16') ? sgmatrixTile(adapter.info) : null;
  if (tile) requiredFeatures.push(SUBGROUP_MATRIX);
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: requiredFeatures as GPUFeatureName[] });
  return { device, adapterInfo: infoOf(adapter.info), subgroupSize: subgroupsOf(device, adapter.info),
    subgroupMatrix: tile && device.features.has(SUBGROUP_MATRIX) ? tile : null, owned: true };
}

// the f16 x f16 -> f32 config of SGMATRIX_TILE's shape, where a workgroup of subgroupMaxSize lanes is
// one subgroup (min == max: the kernel runs one subgroup per workgroup and assumes no width it is not given)
function sgmatrixTile(info: any): SubgroupMatrixTile | null {
  const min = Number(info?.subgroupMinSize), max = Number(info?.subgroupMaxSize);
  if (!Number.isInteger(max) || max < 1 || min !== max) return null;
  const configs: any[] = [...(info?.subgroupMatrixConfigs ?? [])];
  const ok = configs.some((c) => c?.componentType === 'f16' && c?.resultComponentType === 'f32' &&
    Number(c.M) === SGMATRIX_TILE.M && Number(c.N) === SGMATRIX_TILE.N && Number(c.K) === SGMATRIX_TILE.K);
  return ok ? { ...SGMATRIX_TILE, lanes: max } : null;
}

/** the adapter's subgroup-matrix configs as text ('f16xf16->f32 16x16x16, ...'; '' when none), for reports */
export function subgroupMatrixConfigs(info: any): string {
  return [...(info?.subgroupMatrixConfigs ?? [])].map((c: any) => `${c.componentType}x${c.componentType}->${c.resultComponentType} ${c.M}x${c.N}x${c.K}`).join(', ');
}

function subgroupsOf(device: GPUDevice, info: any): { min: number; max: number } | null {
  if (!device.features.has('subgroups')) return null;
  const min = Number(info?.subgroupMinSize), max = Number(info?.subgroupMaxSize);
  return Number.isInteger(min) && Number.isInteger(max) && min >= 1 ? { min, max } : null;
}

function infoOf(info: GPUAdapterInfo | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!info) return out;
  for (const k of ['vendor', 'architecture', 'device', 'description'] as const) {
    const v = (info as any)[k];
    if (typeof v === 'string' && v) out[k] = v;
  }
  return out;
}
