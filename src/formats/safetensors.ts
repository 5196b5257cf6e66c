// safetensors: read (lazily, tensor by tensor) and write the safetensors format.
// Layout: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:
// [begin, end]}, "__metadata__": {str: str}}, then the data; offsets are relative to the data start.
// The header is validated completely before any tensor is read, as the spec (and the Rust reader) say: UTF-8
// JSON starting with "{" and padded only with spaces, no key twice, dtypes, shape x dtype size = byte range,
// and the ranges tile the data section exactly (no overlap, no gap, no trailing bytes: a header length cut
// into its padding shifts every tensor, and is caught here). Values read must be finite. Reading goes through a ByteSource, so a
// large checkpoint is never read into one buffer (a file handle in Node, a Blob/File or HTTP Range
// reads in a browser). F32, F16 and BF16 are converted to f32.
import { parse as parseJsonAst, type AnyNode } from '@humanwhocodes/momoa';
import { fail } from '../util/errors.js';
import { show } from '../util/check.js';
import { isFloatDtype, rawToF32, firstNonFinite, rawValue, FLOAT_SIZE, type FloatDtype } from './dtype.js';

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

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL' |
  'F8_E4M3' | 'F8_E5M2';
const DTYPE_SIZE: Record<Dtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4,
  U16: 2, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1 };
const TENSOR_KEYS = new Set(['dtype', 'shape', 'data_offsets']);

export interface TensorInfo { dtype: Dtype; shape: number[]; begin: number; end: number }
export const dtypeSize = (d: Dtype): number => DTYPE_SIZE[d];

const MAX_HEADER = 100 * 1024 * 1024; // the reference implementation's limit
const REWRITE = 'the file is truncated or corrupt, or not safetensors; write it again (e.g. with safetensors.torch.save_file)';

/** shape x dtype size in bytes, or Infinity past 2^53 (never overflows into a wrong match) */
function byteSize(shape: number[], size: number): number {
  if (shape.includes(0)) return 0;
  let n = size;
  for (const d of shape) { n *= d; if (n > Number.MAX_SAFE_INTEGER) return Infinity; }
  return n;
}

/** How deep objects and arrays nest in JSON text (a linear scan: the text has already parsed). */
function nesting(json: string): number {
  let depth = 0, max = 0, inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) { if (c === 0x5c) i++; else if (c === 0x22) inString = false; continue; }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** The key that appears twice in one object of the header, if any (JSON.parse keeps the last silently). Only
 *  called on a header at most 3 deep (checked first), so momoa's recursive parser is safe on it. */
function duplicateKey(json: string): string | null {
  const stack: AnyNode[] = [parseJsonAst(json, { mode: 'json', ranges: false, tokens: false }).body];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.type === 'Array') for (const e of n.elements) stack.push(e.value);
    if (n.type !== 'Object') continue;
    const names = new Set<string>();
    for (const m of n.members) {
      const k = m.name.type === 'String' ? m.name.value : m.name.name;
      if (names.has(k)) return k;
      names.add(k);
      stack.push(m.value);
    }
  }
  return null;
}

export class SafetensorsFile {
  private constructor(readonly name: string, private src: ByteSource, readonly tensors: Map<string, TensorInfo>,
                      readonly metadata: Record<string, string>, private dataStart: number) {}

  static async open(src: ByteSource, name = 'model.safetensors'): Promise<SafetensorsFile> {
    const bad: (problem: string) => never = (problem) => fail(`${name}: not a valid safetensors file: ${problem}`, REWRITE);
    if (!(Number.isSafeInteger(src.size) && src.size >= 8)) bad(`${src.size} bytes, shorter than the 8-byte header length`);
    const lenBytes = await src.read(0, 8);
    if (lenBytes.byteLength !== 8) bad(`reading the 8-byte header length gave ${lenBytes.byteLength} bytes`);
    const dv = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
    const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
    if (n > MAX_HEADER) bad(`header length ${n} exceeds ${MAX_HEADER} bytes`);
    if (8 + n > src.size) bad(`header length ${n} runs past the end of the ${src.size}-byte file`);
    if (n < 2) bad(`header length ${n} is too short for a JSON object`);
    const raw = await src.read(8, n);
    if (raw.byteLength !== n) bad(`reading the ${n}-byte header gave ${raw.byteLength} bytes`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
    } catch {
      bad('the header is not UTF-8 JSON (invalid UTF-8)');
    }
    // the spec: the header starts with "{"; it may be padded at the end with spaces (0x20), nothing else
    let e = text.length;
    while (e > 0 && text.charCodeAt(e - 1) === 0x20) e--;
    const json = text.slice(0, e);
    let header: unknown;
    try {
      header = JSON.parse(json);
    } catch (err) {
      bad(`the header is not UTF-8 JSON (${(err as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('the header is not a JSON object');
    if (json[0] !== '{' || json[e - 1] !== '}') {
      bad('the header must start with "{" and end with "}" followed only by space (0x20) padding ' +
        `(found ${show(json[0])} ... ${show(json[e - 1])}: the header length ${n} may be wrong)`);
    }
    const dataSize = src.size - 8 - n;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [key, raw] of Object.entries(header as Record<string, unknown>)) {
      const k = show(key);
      if (key === '__metadata__') {
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
          bad('__metadata__ must map strings to strings');
        }
        metadata = raw as Record<string, string>;
        continue;
      }
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof t !== 'object' || t === null || Array.isArray(t)) bad(`entry ${k} is ${show(t)}, not an object`);
      const extra = Object.keys(t).find((x) => !TENSOR_KEYS.has(x));
      if (extra !== undefined) bad(`tensor ${k} has the key ${show(extra)}; a tensor has only dtype, shape and data_offsets`);
      if (typeof t.dtype !== 'string' || !Object.hasOwn(DTYPE_SIZE, t.dtype)) bad(`tensor ${k} has unknown dtype ${show(t.dtype)}`);
      const dtype = t.dtype as Dtype;
      if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) bad(`tensor ${k} has an invalid shape ${show(t.shape)}`);
      const shape = t.shape as number[];
      const off = t.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || off.some((d) => !Number.isSafeInteger(d) || d < 0)) bad(`tensor ${k} has invalid data_offsets ${show(off)}`);
      const [begin, end] = off as number[];
      if (begin > end) bad(`tensor ${k} has data_offsets [${begin}, ${end}] with begin > end`);
      if (end > dataSize) bad(`tensor ${k} ends at byte ${end} of a ${dataSize}-byte data section (truncated file?)`);
      const bytes = byteSize(shape, DTYPE_SIZE[dtype]);
      if (bytes !== end - begin) bad(`tensor ${k}: shape [${shape}] x ${dtype} is ${bytes} bytes, but its range holds ${end - begin}`);
      tensors.set(key, { dtype, shape, begin, end });
    }
    // {name: {shape: [...]}} is 3 deep; a deeper value hides in a key given twice (JSON.parse kept the other one)
    if (nesting(json) > 3) bad('the header nests objects or arrays more than 3 deep (a key given twice may hide one)');
    const dup = duplicateKey(json);
    if (dup !== null) bad(`the header has the key ${show(dup)} twice in one object (a JSON reader would silently keep the last)`);
    // the tensors tile the data section: in offset order, each starts where the previous ended, the last ends at its end
    const sorted = [...tensors.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
    let at = 0, prev = '';
    for (const [key, t] of sorted) {
      if (t.begin < at) bad(`tensors ${show(prev)} and ${show(key)} overlap`);
      if (t.begin > at) bad(`bytes ${at}..${t.begin} of the data section belong to no tensor (before ${show(key)}): the header length or an offset is wrong`);
      at = t.end;
      prev = key;
    }
    if (at !== dataSize) {
      bad(`the tensors cover ${at} bytes but the data section holds ${dataSize} (${dataSize - at} trailing bytes): the header length or an offset is wrong`);
    }
    return new SafetensorsFile(name, src, tensors, metadata, 8 + n);
  }

  /** bytes [offset, offset + length) of one tensor's raw data (default: all of it); only those bytes are read */
  async readRaw(key: string, offset = 0, length?: number): Promise<Uint8Array> {
    const t = this.info(key);
    const n = length ?? t.end - t.begin - offset;
    if (!(offset >= 0 && n >= 0 && offset + n <= t.end - t.begin)) fail(`${this.name}: bytes ${offset}..${offset + n} are outside tensor '${key}' (${t.end - t.begin} bytes)`);
    const bytes = await this.src.read(this.dataStart + t.begin + offset, n);
    if (bytes.byteLength !== n) {
      fail(`${this.name}: reading tensor '${key}' (${n} bytes at byte ${this.dataStart + t.begin + offset}) gave ${bytes.byteLength} bytes`,
        'the file changed or was truncated after it was opened; open it again');
    }
    return bytes;
  }

  /** a tensor's entry, or an error naming what the file holds */
  info(key: string): TensorInfo {
    const t = this.tensors.get(key);
    if (!t) fail(`${this.name}: no tensor '${key}'`, `it holds: ${[...this.tensors.keys()].slice(0, 20).join(', ')}${this.tensors.size > 20 ? ', ...' : ''}`);
    return t;
  }

  /** read one tensor as f32 (only its bytes are read); NaN and infinite values are refused */
  async read(key: string): Promise<Float32Array> {
    const t = this.info(key);
    if (!isFloatDtype(t.dtype)) fail(`${this.name}: tensor '${key}' is ${t.dtype}; only F32, F16 and BF16 weights are read`, 'convert the checkpoint to a float dtype');
    const bytes = await this.readRaw(key);
    checkFinite(bytes, t.dtype, `${this.name}: tensor '${key}'`);
    return rawToF32(bytes, t.dtype);
  }

  /** read one U8 tensor's bytes (an 8-bit optimizer's codes) */
  async readU8(key: string): Promise<Uint8Array> {
    const t = this.tensors.get(key);
    if (!t) fail(`${this.name}: no tensor '${key}'`);
    if (t.dtype !== 'U8') fail(`${this.name}: tensor '${key}' is ${t.dtype}, not U8`);
    const bytes = await this.src.read(this.dataStart + t.begin, t.end - t.begin);
    if (bytes.byteLength !== t.end - t.begin) fail(`${this.name}: reading tensor '${key}' gave ${bytes.byteLength} of ${t.end - t.begin} bytes`, 'the file changed or was truncated after it was opened; open it again');
    return bytes.slice();
  }

  async close(): Promise<void> {
    await this.src.close?.();
  }
}

/** refuse NaN and infinite weights (raw values of one tensor, or a chunk at element `first`) */
export function checkFinite(bytes: Uint8Array, dtype: FloatDtype, what: string, first = 0, total?: number): void {
  const i = firstNonFinite(bytes, dtype);
  if (i < 0) return;
  fail(`${what} holds ${rawValue(bytes, dtype, i)} at element ${first + i} (of ${total ?? bytes.byteLength / FLOAT_SIZE[dtype]}): weights must be finite`,
    'the checkpoint is corrupt or diverged in training; use an earlier or a re-exported checkpoint');
}

export interface TensorOut { name: string; shape: number[]; data: Float32Array | Uint8Array }

/**
 * The header of a safetensors file holding tensors (name, dtype, shape) in this order: the u64 length and
 * the JSON, padded with spaces to an 8-byte boundary as the reference writer does; and the data size.
 */
export function safetensorsHeader(tensors: { name: string; dtype: Dtype; shape: number[] }[], metadata: Record<string, string> = {}): { header: Uint8Array; dataSize: number } {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (Object.hasOwn(header, t.name)) fail(`safetensors: tensor '${t.name}' given twice`);
    const bytes = byteSize(t.shape, DTYPE_SIZE[t.dtype]);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let jb = enc.encode(json);
  if (jb.byteLength % 8) { json += ' '.repeat(8 - (jb.byteLength % 8)); jb = enc.encode(json); }
  const out = new Uint8Array(8 + jb.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(jb.byteLength), true);
  out.set(jb, 8);
  return { header: out, dataSize: offset };
}

/**
 * Serialize f32 and u8 tensors (in the given order) to safetensors bytes. Returns the parts to write in
 * order, so that a large model is never copied into one buffer.
 */
export function serializeSafetensors(tensors: TensorOut[], metadata: Record<string, string> = {}): Uint8Array[] {
  for (const t of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) fail(`safetensors: tensor '${t.name}' has ${t.data.length} values for shape [${t.shape}]`);
  }
  const u8 = (t: TensorOut) => t.data instanceof Uint8Array;
  const { header } = safetensorsHeader(tensors.map((t) => ({ name: t.name, dtype: u8(t) ? 'U8' : 'F32', shape: t.shape })), metadata);
  // little-endian f32: copy via a fresh aligned array so subarrays at any offset work
  return [header, ...tensors.map((t) => (t.data instanceof Uint8Array ? Uint8Array.from(t.data) : new Uint8Array(Float32Array.from(t.data).buffer)))];
}
