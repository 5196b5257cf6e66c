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
  owned: boolean;
}

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
    return { device: opts.device, adapterInfo: infoOf(info), subgroupSize: subgroupsOf(opts.device, info), owned: false };
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
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  return { device, adapterInfo: infoOf(adapter.info), subgroupSize: subgroupsOf(device, adapter.info), owned: true };
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
