// gpu: buffers, the pipeline cache and dispatch (the tinygrad "backend is four verbs" idea:
// alloc, upload, read, dispatch), and the one place GPU buffer lifetimes end (release).
// dispatch() owns: pipelines keyed by entry point + override constants (labelled with the entry
// name), uniform buffers and bind groups cached by content, grid folding above
// maxComputeWorkgroupsPerDimension, and the binding-size check against maxStorageBufferBindingSize.
// Work is encoded into one command encoder and submitted in batches (flush); a buffer that encoded
// but unsubmitted work still uses must not be destroyed, so every buffer goes back through
// release(), which destroys it only after the work that uses it has been submitted.
import { WGSL } from '../gen/wgsl.js';
import { acquireDevice, type DeviceOptions, type SubgroupMatrixTile } from './device.js';
import { ALIGN, alignUp, slice, type View } from './view.js';
import { ReadBack, type Reader } from './readback.js';
import { runtimeName } from '../util/env.js';
import { Tuner } from './tune.js';
import { HalfCopies } from './halves.js';
import { assert, fail } from '../util/errors.js';

export type { View } from './view.js';
export type { Precision, Uniforms, Grid, GpuOptions, HalfCopy } from './options.js';
import type { Uniforms, Grid, GpuOptions } from './options.js';

// which module (kernels/*.wgsl file) defines each @compute entry point: the first that has it, since a
// NAME_subgroup module holds the whole file NAME as well as its subgroup section (scripts/gen.mjs)
const ENTRY_FILE = new Map<string, string>();
for (const [file, src] of Object.entries(WGSL)) {
  for (const m of src.matchAll(/@compute[^\n]*\n?\s*fn\s+(\w+)/g)) if (!ENTRY_FILE.has(m[1])) ENTRY_FILE.set(m[1], file);
}

export class Gpu {
  readonly limits: Record<string, number> = {};
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();
  private uniformCache = new Map<string, GPUBuffer>();
  private readonly uniformCacheSize: number;
  private bindCache = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  /** buffers released while encoded work may still use them: destroyed after the next submit */
  private released: GPUBuffer[] = [];
  private scratches = new Map<string, View>();
  private readBack = new ReadBack((n) => this.reader(n));   // read()'s staging, kept
  private error: GPUError | null = null;
  private dummy: GPUBuffer;
  /** number of dispatches issued, for tests and benches */
  dispatches = 0;
  /** bytes of storage buffers alive now and the most alive at once (reset with resetPeak()) */
  readonly memory = { live: 0, peak: 0 };
  private sizes = new WeakMap<GPUBuffer, number>();
  /** floats one parameter-arena part may hold (src/model/arena.ts) */
  readonly arenaPartFloats: number;
  /** kernel variant choices (src/gpu/tune.ts) */
  readonly tuner: Tuner;
  private readonly settle: <T>(p: Promise<T>) => Promise<T>;
  private readonly f16Allowed: boolean;
  // f16 copies of f32 tensors by the f32 buffer, kept fresh by their owner (src/model/half.ts)
  /** the f16 copies of f32 tensors (real f16 arithmetic), by buffer: src/gpu/halves.ts */
  readonly halves = new HalfCopies();

  constructor(readonly device: GPUDevice, readonly adapterInfo: Record<string, string>, private owned: boolean, opts: GpuOptions = {},
              /** lanes per subgroup when the device has the `subgroups` feature */
              readonly subgroupSize: { min: number; max: number } | null = null,
              /** the f16 subgroup-matrix tile when the device has Dawn's subgroup-matrix feature (kernels/matmul_sgmatrix.wgsl) */
              readonly subgroupMatrix: SubgroupMatrixTile | null = null) {
    // choices are kept per adapter AND per subgroup width (lavapipe is one adapter at 8 or 16 lanes,
    // LP_NATIVE_VECTOR_WIDTH) and tensor-core availability, so a cached choice never outlives what it assumed
    const lanes = subgroupSize ? ` / ${subgroupSize.min}-${subgroupSize.max} lanes` : '';
    this.tuner = new Tuner((Object.values(adapterInfo).join(' / ') || 'unknown adapter') + lanes + (subgroupMatrix ? ' / sgmatrix' : ''),
      opts.force, opts.tuneCache);
    for (const k in device.limits) {
      const v = (device.limits as any)[k];
      if (typeof v === 'number') this.limits[k] = v;
    }
    this.uniformCacheSize = opts.uniformCacheSize ?? 4096;
    this.settle = opts.settle ?? ((p) => p);
    this.f16Allowed = opts.f16Arithmetic ?? true;
    this.arenaPartFloats = Math.floor(Math.min(opts.arenaPartBytes ?? Infinity, this.limits.maxBufferSize) / 4);
    // every error lands in an error scope (Dawn prints uncaptured errors to stdout, which would spoil a
    // command's output); the next read() or sync() collects the scopes and throws the first error.
    // The listener catches what escapes a scope (a device's own errors)
    device.addEventListener('uncapturederror', (e: Event) => { this.error ??= (e as GPUUncapturedErrorEvent).error; });
    this.openScopes();
    this.dummy = this.alloc(ALIGN, 'dummy');
  }

  get features(): string[] { return [...this.device.features].sort(); }

  /** floats one storage binding may hold on this device */
  get bindingFloats(): number {
    return Math.floor(this.limits.maxStorageBufferBindingSize / 4);
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
    this.sizes.set(buffer, size);
    this.memory.live += size;
    this.memory.peak = Math.max(this.memory.peak, this.memory.live);
    return buffer;
  }

  /** start measuring the peak of live storage bytes from now */
  resetPeak(): void { this.memory.peak = this.memory.live; }

  /** a whole new buffer as a view */
  tensor(numel: number, label: string): View {
    return { buffer: this.alloc(numel, label), offset: 0, numel };
  }

  /**
   * The end of a buffer's life, the only one: destroyed now when no encoded work is pending, else
   * after the next submit (work already submitted keeps its buffers alive; encoded work does not).
   */
  release(buffer: GPUBuffer): void {
    if (buffer === this.dummy) return;
    this.memory.live -= this.sizes.get(buffer) ?? 0;
    this.sizes.delete(buffer);
    if (this.encoder) this.released.push(buffer);
    else buffer.destroy();
  }

  /**
   * A scratch view of at least numel floats per purpose, grown on demand (the old one released); its
   * contents do not outlive one launcher call.
   */
  scratch(name: string, numel: number): View {
    let v = this.scratches.get(name);
    if (!v || v.numel < numel) {
      if (v) this.release(v.buffer);
      v = this.tensor(Math.max(numel, 2 * (v?.numel ?? 0)), name);
      this.scratches.set(name, v);
    }
    return slice(v, 0, numel);
  }

  /** a dummy binding for kernels with an optional input (e.g. no bias) */
  get none(): View {
    return { buffer: this.dummy, offset: 0, numel: 1 };
  }

  /**
   * Write data into v, in order with the dispatches around it, without a submit: with nothing encoded
   * a queue write; otherwise the bytes go into a mapped staging buffer and a copy joins the commands.
   */
  upload(v: View, data: Float32Array | Int32Array | Uint32Array): void {
    assert(data.length === v.numel, `upload: ${data.length} values into a view of ${v.numel}`);
    if (!this.encoder) {
      this.device.queue.writeBuffer(v.buffer, v.offset * 4, data.buffer, data.byteOffset, data.byteLength);
      return;
    }
    const staging = this.device.createBuffer({ label: 'upload', size: Math.max(4, data.byteLength), usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    staging.unmap();
    this.copyBytes(staging, 0, v.buffer, v.offset * 4, data.byteLength);
    this.release(staging);
  }

  /** v's values, after all work encoded so far (through a kept staging buffer: src/gpu/readback.ts) */
  read(v: View): Promise<Float32Array> {
    return this.readBack.read(v);
  }

  /** a staging buffer for repeated reads of up to numel floats (one per training step, say) */
  reader(numel: number): Reader {
    const staging = this.device.createBuffer({ label: 'readback', size: Math.max(4, numel * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    return {
      read: async (v: View) => {
        assert(v.numel <= numel, `read: ${v.numel} values through a reader of ${numel}`);
        this.copyBytes(v.buffer, v.offset * 4, staging, 0, v.numel * 4);
        this.flush();
        const mapped = staging.mapAsync(GPUMapMode.READ, 0, Math.max(4, v.numel * 4));
        await this.collectErrors();
        await this.settle(mapped).catch(() => { this.throwIfError(); throw new Error('read: the GPU buffer could not be mapped'); });
        const out = new Float32Array(staging.getMappedRange(0, v.numel * 4).slice(0));
        staging.unmap();
        this.throwIfError();
        return out;
      },
      release: () => this.release(staging),
    };
  }

  /** zero a view (in queue order with the dispatches around it) */
  clear(v: View): void {
    this.encoderOutsidePass().clearBuffer(v.buffer, v.offset * 4, v.numel * 4);
  }

  /** copy src into dst (same length), in queue order */
  copy(dst: View, src: View): void {
    assert(dst.numel === src.numel, `copy: ${src.numel} values into a view of ${dst.numel}`);
    this.copyBytes(src.buffer, src.offset * 4, dst.buffer, dst.offset * 4, src.numel * 4);
  }

  /**
   * Encode one compute dispatch. bindings[i] is @binding(i + 1); @binding(0) is the uniform struct,
   * laid out as the u32 values then the f32 values, in order. constants: the entry's override values.
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
      assert(!b.dtype, `${entry}: a packed 16-bit view is bound by words (packedWords in src/gpu/view.ts)`, 'this kernel reads f32: widen the weights, or use a kernel that reads 16-bit weights');
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
    if (!this.pass) this.pass = this.encoderOutsidePass().beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    // submit in batches so a long forward pass does not build one enormous command buffer
    if (++this.pending >= 256) this.flush();
  }

  /** end the open pass, submit what has been encoded, then destroy what was released meanwhile */
  flush(): void {
    this.endPass();
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.pending = 0;
    }
    for (const b of this.released) b.destroy();
    this.released = [];
  }

  /**
   * threads per row of the row-reduction kernels (norms, cross-entropy): on a driver whose subgroups
   * are at most 8 lanes (a CPU's SIMD width: lavapipe), one subgroup, since its workgroup barriers are
   * emulated and dear (3-5x faster rows there); 64 elsewhere. Fixed per adapter, so results are too.
   */
  get rowThreads(): number {
    const s = this.subgroupSize;
    return s !== null && s.max >= 4 && s.max <= 8 && (s.max & (s.max - 1)) === 0 ? s.max : 64;
  }

  /** the device has shader-f16 */
  get shaderF16(): boolean {
    return this.device.features.has('shader-f16');
  }

  /** a CPU adapter (lavapipe, SwiftShader): its "GPU memory" is host RAM, and it has no f16 units */
  get cpuAdapter(): boolean { return /llvmpipe|lavapipe|swiftshader|software|cpu/i.test(Object.values(this.adapterInfo).join(' ')); }

  /** precision 'auto' picks f16 here: shader-f16 on a GPU, not on a CPU adapter (real f16 measured 3-9x slower on lavapipe) */
  get autoF16(): boolean { return this.shaderF16 && !this.cpuAdapter; }

  /** --precision f16 runs in real f16 arithmetic (kernels/matmul_f16.wgsl): the device has shader-f16 and it is not turned off */
  get f16Arithmetic(): boolean {
    return this.shaderF16 && this.f16Allowed;
  }

  /** subgroup kernels run: the feature, and subgroups made of whole groups of 8 lanes */
  get subgroups8(): boolean {
    const s = this.subgroupSize;
    return s !== null && s.min >= 8 && s.min % 8 === 0 && s.max % 8 === 0;
  }

  /** time the kernel variants of the shapes seen so far and keep the fastest (src/gpu/tune.ts) */
  async tune(): Promise<void> {
    if (this.tuner.pending) await this.tuner.tune(() => this.sync());
  }

  /** wait for all submitted work; throws the first GPU error if one happened */
  async sync(): Promise<void> {
    this.flush();
    await this.settle(this.device.queue.onSubmittedWorkDone());
    await this.collectErrors();
    this.throwIfError();
  }

  destroy(): void {
    for (const b of this.uniformCache.values()) this.release(b);
    for (const v of this.scratches.values()) this.release(v.buffer);
    this.readBack.destroy();
    this.uniformCache.clear();
    this.scratches.clear();
    this.bindCache.clear();
    this.flush();
    if (this.owned) this.device.destroy();
  }

  report(): { runtime: string; adapter: Record<string, string>; features: string[]; limits: Record<string, number> } {
    return { runtime: runtimeName(), adapter: this.adapterInfo, features: this.features, limits: { ...this.limits } };
  }

  private encoderOutsidePass(): GPUCommandEncoder {
    this.endPass();
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private copyBytes(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.encoderOutsidePass().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  private endPass(): void {
    if (this.pass) { this.pass.end(); this.pass = null; }
  }

  private openScopes(): void {
    for (const f of ['validation', 'out-of-memory', 'internal'] as const) this.device.pushErrorScope(f);
  }

  // close the open error scopes (and open new ones at once, so no later error goes uncaptured)
  private async collectErrors(): Promise<void> {
    const pops = [this.device.popErrorScope(), this.device.popErrorScope(), this.device.popErrorScope()];
    this.openScopes();
    for (const e of await this.settle(Promise.all(pops))) if (e) this.error ??= e;
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
      if (this.uniformCache.size >= this.uniformCacheSize) {
        // evict everything: dispatches encoded since the last submit may still bind these, so release()
        for (const b of this.uniformCache.values()) this.release(b);
        this.uniformCache.clear();
        this.bindCache.clear();
      }
      const n = Math.max(4, alignUp(u.length + f.length, 4)); // uniform structs are 16-byte multiples
      buf = this.device.createBuffer({ label: 'uniforms', size: n * 4, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
      const ab = buf.getMappedRange();
      new Uint32Array(ab, 0, u.length).set(u.map((v) => { assert(Number.isInteger(v) && v >= 0 && v < 2 ** 32, `uniform u32 out of range: ${v}`); return v; }));
      new Float32Array(ab, u.length * 4, f.length).set(f);
      buf.unmap();
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
export async function createGpu(opts: DeviceOptions & GpuOptions = {}): Promise<Gpu> {
  const { device, adapterInfo, owned, subgroupSize, subgroupMatrix } = await acquireDevice(opts);
  return new Gpu(device, adapterInfo, owned, opts, subgroupSize, subgroupMatrix);
}
