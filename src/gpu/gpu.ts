// gpu: buffers, views, the pipeline cache and dispatch (the tinygrad "backend is four verbs" idea:
// alloc, upload, read, dispatch). A View is {buffer, offset, numel} in 4-byte elements; every view
// that is bound to a kernel starts on a 256-byte boundary (minStorageBufferOffsetAlignment).
// dispatch() owns: pipelines keyed by entry point + override constants (labelled with the entry
// name), uniform buffers and bind groups cached by content, grid folding above
// maxComputeWorkgroupsPerDimension, and the binding-size check against maxStorageBufferBindingSize.
import { WGSL } from '../gen/wgsl.js';
import { acquireDevice, type DeviceOptions } from './device.js';
import { runtimeName } from '../util/env.js';
import { assert, fail } from '../util/errors.js';

export interface View { buffer: GPUBuffer; offset: number; numel: number }
export interface Uniforms { u?: number[]; f?: number[] }
export type Grid = [number, number?, number?];

export const ALIGN = 64; // elements: 64 x 4 bytes = 256-byte binding alignment

export function alignUp(n: number, a = ALIGN): number {
  return Math.ceil(n / a) * a;
}

// which kernels/*.wgsl file defines each @compute entry point
const ENTRY_FILE = new Map<string, string>();
for (const [file, src] of Object.entries(WGSL)) {
  for (const m of src.matchAll(/@compute[^\n]*\n?\s*fn\s+(\w+)/g)) ENTRY_FILE.set(m[1], file);
}

export class Gpu {
  readonly limits: Record<string, number> = {};
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();
  private uniformCache = new Map<string, GPUBuffer>();
  private bindCache = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private error: GPUError | null = null;
  private dummy: GPUBuffer;
  /** number of dispatches issued, for tests and benches */
  dispatches = 0;

  constructor(readonly device: GPUDevice, readonly adapterInfo: Record<string, string>, private owned: boolean) {
    for (const k in device.limits) {
      const v = (device.limits as any)[k];
      if (typeof v === 'number') this.limits[k] = v;
    }
    // keep the first uncaptured validation/OOM error; the next read() throws it
    device.addEventListener('uncapturederror', (e: Event) => { this.error ??= (e as GPUUncapturedErrorEvent).error; });
    this.dummy = this.alloc(ALIGN, 'dummy');
  }

  get features(): string[] {
    return [...this.device.features].sort();
  }

  alloc(numel: number, label: string): GPUBuffer {
    const size = alignUp(Math.max(numel, 1)) * 4;
    if (size > this.limits.maxBufferSize) {
      fail(`buffer '${label}' needs ${size} bytes, over this device's maxBufferSize ${this.limits.maxBufferSize}`,
        'use a smaller batch/sequence length, or a device with a larger maxBufferSize');
    }
    const buffer = this.device.createBuffer({ label, size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.bufferIds.set(buffer, this.nextBufferId++);
    return buffer;
  }

  /** a whole new buffer as a view */
  tensor(numel: number, label: string): View {
    return { buffer: this.alloc(numel, label), offset: 0, numel };
  }

  /** a dummy binding for kernels with an optional input (e.g. no bias) */
  get none(): View {
    return { buffer: this.dummy, offset: 0, numel: 1 };
  }

  upload(v: View, data: Float32Array | Int32Array | Uint32Array): void {
    assert(data.length === v.numel, `upload: ${data.length} values into a view of ${v.numel}`);
    this.flush(); // keep queue order: earlier dispatches must not see this write
    this.device.queue.writeBuffer(v.buffer, v.offset * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  async read(v: View): Promise<Float32Array> {
    return new Float32Array(await this.readBytes(v));
  }

  async readU32(v: View): Promise<Uint32Array> {
    return new Uint32Array(await this.readBytes(v));
  }

  private async readBytes(v: View): Promise<ArrayBuffer> {
    const bytes = v.numel * 4;
    const staging = this.device.createBuffer({ size: alignUp(bytes, 4) || 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(v.buffer, v.offset * 4, staging, 0, bytes);
    this.flush();
    await staging.mapAsync(GPUMapMode.READ);
    const out = staging.getMappedRange().slice(0);
    staging.destroy();
    this.throwIfError();
    return out;
  }

  /** zero a view (in queue order with the dispatches around it) */
  clear(v: View): void {
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.clearBuffer(v.buffer, v.offset * 4, v.numel * 4);
  }

  /** copy src into dst (same length), in queue order */
  copy(dst: View, src: View): void {
    assert(dst.numel === src.numel, `copy: ${src.numel} values into a view of ${dst.numel}`);
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src.buffer, src.offset * 4, dst.buffer, dst.offset * 4, src.numel * 4);
  }

  /**
   * Encode one compute dispatch. bindings[i] is @binding(i + 1); @binding(0) is the uniform struct,
   * laid out as the u32 values then the f32 values, in order.
   */
  dispatch(entry: string, uni: Uniforms, bindings: View[], grid: Grid, constants?: Record<string, number>): void {
    const pipeline = this.pipeline(entry, constants);
    let [x, y = 1, z = 1] = grid;
    if (x === 0 || y === 0 || z === 0) return;
    const maxDim = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxDim) {
      // fold a long 1-D grid into 2-D (ORT's normalizeDispatchGroupSize); kernels flatten it back
      // with num_workgroups and skip the tail
      assert(y === 1 && z === 1, `${entry}: a ${x}x${y}x${z} grid exceeds maxComputeWorkgroupsPerDimension ${maxDim}`,
        'the launcher must chunk this dispatch');
      y = Math.ceil(x / maxDim);
      x = Math.ceil(x / y);
    }
    assert(y <= maxDim && z <= maxDim, `${entry}: grid ${x}x${y}x${z} exceeds maxComputeWorkgroupsPerDimension ${maxDim}`,
      'the launcher must chunk this dispatch');
    const maxBind = this.limits.maxStorageBufferBindingSize;
    let key = entry + '|' + JSON.stringify(constants ?? {}) + '|';
    for (const b of bindings) {
      if (b.numel * 4 > maxBind) {
        fail(`${entry}: a binding of ${b.numel * 4} bytes exceeds this device's maxStorageBufferBindingSize ${maxBind}`,
          'the launcher must split this tensor into chunks (see matmulForward), or use a device with larger bindings');
      }
      assert((b.offset * 4) % this.limits.minStorageBufferOffsetAlignment === 0,
        `${entry}: binding offset ${b.offset * 4} bytes is not ${this.limits.minStorageBufferOffsetAlignment}-byte aligned`);
      key += `${this.bufferIds.get(b.buffer)}:${b.offset}:${b.numel},`;
    }
    const ubuf = this.uniformBuffer(uni);
    key += (uni.u ?? []).join(',') + ';' + (uni.f ?? []).join(',');
    let group = this.bindCache.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: ubuf } }];
      bindings.forEach((b, i) => entries.push({ binding: i + 1, resource: { buffer: b.buffer, offset: b.offset * 4, size: Math.max(b.numel, 1) * 4 } }));
      group = this.device.createBindGroup({ label: entry, layout: pipeline.getBindGroupLayout(0), entries });
      if (this.bindCache.size > 8192) this.bindCache.clear();
      this.bindCache.set(key, group);
    }
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    // submit in batches so a long forward pass does not build one enormous command buffer
    if (++this.pending >= 256) this.flush();
  }

  /** end the open pass and submit what has been encoded */
  flush(): void {
    this.endPass();
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.pending = 0;
    }
  }

  /** wait for all submitted work; throws the first GPU error if one happened */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfError();
  }

  destroy(): void {
    this.flush();
    for (const b of this.uniformCache.values()) b.destroy();
    this.uniformCache.clear();
    this.bindCache.clear();
    if (this.owned) this.device.destroy();
  }

  report(): { runtime: string; adapter: Record<string, string>; features: string[]; limits: Record<string, number> } {
    return { runtime: runtimeName(), adapter: this.adapterInfo, features: this.features, limits: { ...this.limits } };
  }

  private endPass(): void {
    if (this.pass) { this.pass.end(); this.pass = null; }
  }

  private throwIfError(): void {
    if (this.error) {
      const e = this.error;
      this.error = null;
      fail(`GPU error: ${e.message}`, 'this is a bug in inheritune-rt or a device limit; please report it with `inheritune-rt info` output');
    }
  }

  private uniformBuffer(uni: Uniforms): GPUBuffer {
    const u = uni.u ?? [], f = uni.f ?? [];
    const key = u.join(',') + ';' + f.join(',');
    let buf = this.uniformCache.get(key);
    if (!buf) {
      const n = Math.max(4, alignUp(u.length + f.length, 4)); // uniform structs are 16-byte multiples
      buf = this.device.createBuffer({ label: 'uniforms', size: n * 4, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
      const ab = buf.getMappedRange();
      new Uint32Array(ab, 0, u.length).set(u.map((v) => { assert(Number.isInteger(v) && v >= 0 && v < 2 ** 32, `uniform u32 out of range: ${v}`); return v; }));
      new Float32Array(ab, u.length * 4, f.length).set(f);
      buf.unmap();
      if (this.uniformCache.size > 4096) { for (const b of this.uniformCache.values()) b.destroy(); this.uniformCache.clear(); this.bindCache.clear(); }
      this.uniformCache.set(key, buf);
    }
    return buf;
  }

  private pipeline(entry: string, constants?: Record<string, number>): GPUComputePipeline {
    const key = entry + JSON.stringify(constants ?? {});
    let p = this.pipelines.get(key);
    if (p) return p;
    const file = ENTRY_FILE.get(entry);
    if (!file) fail(`no kernel entry point '${entry}' in kernels/*.wgsl`, 'run `npm run gen` after editing kernels/');
    let module = this.modules.get(file);
    if (!module) {
      module = this.device.createShaderModule({ label: file, code: WGSL[file] });
      this.modules.set(file, module);
    }
    p = this.device.createComputePipeline({ label: entry, layout: 'auto', compute: { module, entryPoint: entry, constants } });
    this.pipelines.set(key, p);
    return p;
  }
}

/** Acquire a device (see DeviceOptions) and wrap it. */
export async function createGpu(opts: DeviceOptions = {}): Promise<Gpu> {
  const { device, adapterInfo, owned } = await acquireDevice(opts);
  return new Gpu(device, adapterInfo, owned);
}
