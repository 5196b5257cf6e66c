// node: the Node entry. Same API as src/index.ts, but createGpu() defaults to Dawn from the
// 'webgpu' package (imported only here), and file helpers read from disk.
/// <reference types="@webgpu/types" preserve="true" />
import { createGpu as createGpuCore, type Gpu, type GpuOptions } from '../gpu/gpu.js';
import { SUBGROUP_MATRIX, type DeviceOptions } from '../gpu/device.js';
import { fileTuneCache, forcedKernels } from './tunecache.js';
import { settle } from './settle.js';

export * from '../index.js';

let dawn: GPU | undefined;

/**
 * Dawn's GPU object. Kept module-local: a global reference would keep the process alive. Dawn lists its
 * experimental tensor-core feature (chromium-experimental-subgroup-matrix, src/gpu/device.ts) only on an
 * instance made with the allow_unsafe_apis toggle: that instance is kept only where its adapter offers
 * the feature, every other adapter gets a plain instance. INHERITUNE_SUBGROUP_MATRIX=0 never asks.
 */
export async function nodeGpu(): Promise<GPU> {
  if (!dawn) {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, ... as in browsers
    if (process.env.INHERITUNE_SUBGROUP_MATRIX !== '0') {
      const unsafe = create(['enable-dawn-features=allow_unsafe_apis']);
      const a = await unsafe.requestAdapter({ powerPreference: 'high-performance' });
      if (a?.features.has(SUBGROUP_MATRIX)) dawn = unsafe;
    }
    dawn ??= create([]);
  }
  return dawn;
}

/**
 * Dawn by default; kernel choices persist in the cache directory (src/node/tunecache.ts), and
 * INHERITUNE_MATMUL and INHERITUNE_ATTENTION force a matmul or attention variant, and INHERITUNE_F16=emulate
 * keeps --precision f16 in the f32 emulation on a shader-f16 device (GpuOptions.f16Arithmetic). Waits on the device
 * go through settle (src/node/settle.ts), which keeps Dawn's binding from busy-polling a CPU core.
 *
 * On drivers that report more than 16 dynamic buffers per pipeline layout (lavapipe, RADV), the first
 * adapter request of a process makes Dawn print two lines on stderr ("Warning: maxDynamic...
 * artificially reduced ... to fit dynamic offset allocation limit."). They come from native code
 * (dawn::WarningLog in NormalizeLimits, applied to the driver's own limits while the adapter is made,
 * before any requiredLimits are seen) with no toggle, instance option or log callback in front, and
 * Node cannot redirect its own file descriptor 2, so this API cannot keep them off stderr. The CLI
 * does it by running GPU commands in a child process whose stderr it filters (src/node/cli/stderr.ts);
 * a program that needs a clean stderr can do the same.
 */
export async function createGpu(opts: DeviceOptions & GpuOptions = {}): Promise<Gpu> {
  const o = { tuneCache: fileTuneCache(), settle, f16Arithmetic: process.env.INHERITUNE_F16 !== 'emulate', ...opts, force: { ...forcedKernels(), ...opts.force } };
  if (opts.device || opts.gpu) return createGpuCore(o);
  return createGpuCore({ ...o, gpu: await nodeGpu() });
}
export { BUILTIN_REFERENCE, BUILTIN_PRETRAIN, builtinReference, pretrainReference, writeReferenceModel, shippedReferenceDir, brownData, runOnDisk, type RunArgs } from './recipe.js';
export { trainRun, type TrainRun } from './train.js';
export { type PackFilesOptions, type PackFilesSummary } from './pack.js';
export { readModel, nodeDir, loadModel } from './models.js';
export { readTokenizer } from './tokfiles.js';
export { fileSource } from './filesource.js';
export { writeDirAtomic, writeModelDirAtomic } from './atomic.js';
export { brownText } from './brown.js';
export { downloadModel, defaultCacheDir, type DownloadOptions } from './hub.js';
export { exportOnnxFile, exportOnnxDir } from './onnx.js';
export { packFiles, listShards, openShards } from './pack.js';
export { readTaskFiles } from './tasks.js';
