// safetensors: read (lazily, tensor by tensor) and write the safetensors format.
// Layout: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:
// [begin, end]}, "__metadata__": {str: str}}, then the data; offsets are relative to the data start.
// The header is validated completely before any tensor is read: JSON, dtypes, shape x dtype size =
// byte range, ranges inside the file and not overlapping. Reading goes through a ByteSource, so a
// large checkpoint is never read into one buffer (a file handle in Node, a Blob/File or HTTP Range
// reads in a browser). F32, F16 and BF16 are converted to f32.
import { fail } from '../util/errors.js';

/** random access to bytes: a file, a Blob, an HTTP resource with Range support, or memory */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.byteLength, read: async (o, n) => bytes.subarray(o, o + n) };
}

export function blobSource(blob: Blob): ByteSource {
  return { size: blob.size, read: async (o, n) => new Uint8Array(await blob.slice(o, o + n).arrayBuffer()) };
}

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
const DTYPE_SIZE: Record<Dtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

export interface TensorInfo { dtype: Dtype; shape: number[]; begin: number; end: number }

const MAX_HEADER = 100 * 1024 * 1024; // the reference implementation's limit

export class SafetensorsFile {
  private constructor(readonly name: string, private src: ByteSource, readonly tensors: Map<string, TensorInfo>,
                      readonly metadata: Record<string, string>, private dataStart: number) {}

  static async open(src: ByteSource, name = 'model.safetensors'): Promise<SafetensorsFile> {
    const bad = (problem: string): never => fail(`${name}: not a valid safetensors file: ${problem}`,
      'the file is truncated or corrupt, or not safetensors; write it again (e.g. with safetensors.torch.save_file)');
    if (src.size < 8) bad(`${src.size} bytes, shorter than the 8-byte header length`);
    const lenBytes = await src.read(0, 8);
    const dv = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
    const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
    if (n > MAX_HEADER) bad(`header length ${n} exceeds ${MAX_HEADER} bytes`);
    if (8 + n > src.size) bad(`header length ${n} runs past the end of the ${src.size}-byte file`);
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await src.read(8, n)));
    } catch (e) {
      bad(`the header is not UTF-8 JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('the header is not a JSON object');
    const dataSize = src.size - 8 - n;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [key, raw] of Object.entries(header as Record<string, unknown>)) {
      if (key === '__metadata__') {
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
          bad('__metadata__ must map strings to strings');
        }
        metadata = raw as Record<string, string>;
        continue;
      }
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof t !== 'object' || t === null) bad(`entry '${key}' is not an object`);
      if (typeof t.dtype !== 'string' || !(t.dtype in DTYPE_SIZE)) bad(`tensor '${key}' has unknown dtype ${JSON.stringify(t.dtype)}`);
      const dtype = t.dtype as Dtype;
      if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) bad(`tensor '${key}' has an invalid shape ${JSON.stringify(t.shape)}`);
      const shape = t.shape as number[];
      const off = t.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || off.some((d) => !Number.isSafeInteger(d) || d < 0)) bad(`tensor '${key}' has invalid data_offsets ${JSON.stringify(off)}`);
      const [begin, end] = off as number[];
      if (begin > end) bad(`tensor '${key}' has data_offsets [${begin}, ${end}] with begin > end`);
      if (end > dataSize) bad(`tensor '${key}' ends at byte ${end} of a ${dataSize}-byte data section (truncated file?)`);
      const numel = shape.reduce((a, b) => a * b, 1);
      if (numel * DTYPE_SIZE[dtype] !== end - begin) {
        bad(`tensor '${key}': shape [${shape}] x ${dtype} is ${numel * DTYPE_SIZE[dtype]} bytes, but its range holds ${end - begin}`);
      }
      tensors.set(key, { dtype, shape, begin, end });
    }
    const sorted = [...tensors.entries()].filter(([, t]) => t.end > t.begin).sort((a, b) => a[1].begin - b[1].begin);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i][1].begin < sorted[i - 1][1].end) bad(`tensors '${sorted[i - 1][0]}' and '${sorted[i][0]}' overlap`);
    }
    return new SafetensorsFile(name, src, tensors, metadata, 8 + n);
  }

  /** read one tensor as f32 (only its bytes are read) */
  async read(key: string): Promise<Float32Array> {
    const t = this.tensors.get(key);
    if (!t) fail(`${this.name}: no tensor '${key}'`, `it holds: ${[...this.tensors.keys()].slice(0, 20).join(', ')}${this.tensors.size > 20 ? ', ...' : ''}`);
    if (!FLOAT_DTYPES.has(t.dtype)) fail(`${this.name}: tensor '${key}' is ${t.dtype}; only F32, F16 and BF16 weights are read`, 'convert the checkpoint to a float dtype');
    const bytes = await this.src.read(this.dataStart + t.begin, t.end - t.begin);
    return toF32(bytes, t.dtype);
  }

  async close(): Promise<void> {
    await this.src.close?.();
  }
}

function toF32(bytes: Uint8Array, dtype: Dtype): Float32Array {
  const n = bytes.byteLength / DTYPE_SIZE[dtype];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  if (dtype === 'F32') return new Float32Array(bytes.slice().buffer); // little-endian, as WebGPU hosts are
  if (dtype === 'BF16') for (let i = 0; i < n; i++) out[i] = bf16(dv.getUint16(2 * i, true));
  else for (let i = 0; i < n; i++) out[i] = f16(dv.getUint16(2 * i, true));
  return out;
}

const scratch = new DataView(new ArrayBuffer(4));
function bf16(h: number): number {
  scratch.setUint32(0, h << 16, true);
  return scratch.getFloat32(0, true);
}

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;          // subnormal
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export interface TensorOut { name: string; shape: number[]; data: Float32Array }

/**
 * Serialize f32 tensors (in the given order) to safetensors bytes. The header is padded with
 * spaces to an 8-byte boundary, as the reference writer does. Returns the parts to write in order,
 * so that a large model is never copied into one buffer.
 */
export function serializeSafetensors(tensors: TensorOut[], metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) fail(`safetensors: tensor '${t.name}' has ${t.data.length} values for shape [${t.shape}]`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * numel] };
    offset += 4 * numel;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  while (enc.encode(json).byteLength % 8 !== 0) json += ' ';
  const jb = enc.encode(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setUint32(0, jb.byteLength, true);
  const parts = [len, jb];
  for (const t of tensors) {
    // little-endian f32: copy via a fresh aligned array so subarrays at any offset work
    parts.push(new Uint8Array(Float32Array.from(t.data).buffer));
  }
  return parts;
}
