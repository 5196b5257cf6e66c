// dtype: the float dtypes weights are stored in (F32, F16, BF16) as raw little-endian bytes, and the
// conversions between them on the CPU: widening is exact, narrowing rounds to nearest, ties to even
// (as torch's .to(torch.bfloat16) / .to(torch.float16) do), overflow goes to infinity, NaN stays a
// quiet NaN. The GPU widens with kernels/convert.wgsl (src/gpu/kernels/convert.ts) instead.
import { fail } from '../util/errors.js';

export type FloatDtype = 'F32' | 'F16' | 'BF16';
export const FLOAT_SIZE: Record<FloatDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export function isFloatDtype(d: string): d is FloatDtype {
  return d === 'F32' || d === 'F16' || d === 'BF16';
}

/** `--dtype f32|f16|bf16` (any case; float32/float16/bfloat16 as torch spells them) -> the safetensors name */
export function parseDtype(s: string): FloatDtype {
  const d = ({ f32: 'F32', float32: 'F32', fp32: 'F32', f16: 'F16', float16: 'F16', fp16: 'F16', bf16: 'BF16', bfloat16: 'BF16' } as const)[s.toLowerCase() as 'f32'];
  return d ?? fail(`dtype '${s}' is not a float dtype weights are written in`, 'pass f32, f16 or bf16');
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);

/** f16 bits -> the number they encode */
export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** bf16 bits -> the number they encode (the top half of an f32) */
export function bf16ToNumber(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** f32 bits -> bf16 bits, round to nearest even (torch's round_to_nearest_even) */
export function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f32 bits -> f16 bits, round to nearest even; subnormals kept, overflow to infinity */
export function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000, exp = (bits >>> 23) & 0xff, mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // the f16 biased exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;                  // below half the smallest subnormal: zero
    const m = mant | 0x800000, shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;                            // a carry into bit 10 is the smallest normal, as it should be
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent reaches infinity correctly
  return sign | h;
}

/** raw values of `from` -> raw values of `to` (a fresh array unless the dtypes agree) */
export function convertRaw(bytes: Uint8Array, from: FloatDtype, to: FloatDtype): Uint8Array {
  if (from === to) return bytes;
  const n = bytes.byteLength / FLOAT_SIZE[from];
  const src = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint8Array(n * FLOAT_SIZE[to]), dst = new DataView(out.buffer);
  const bitsAt = (i: number): number => {
    if (from === 'F32') return src.getUint32(4 * i, true);
    const h = src.getUint16(2 * i, true);
    if (from === 'BF16') return h << 16 >>> 0;
    f32[0] = f16ToNumber(h); // exact: every f16 is an f32
    return u32[0];
  };
  for (let i = 0; i < n; i++) {
    const b = bitsAt(i);
    if (to === 'F32') dst.setUint32(4 * i, b, true);
    else dst.setUint16(2 * i, to === 'BF16' ? f32BitsToBf16(b) : f32BitsToF16(b), true);
  }
  return out;
}

/** raw values -> f32 */
export function rawToF32(bytes: Uint8Array, dtype: FloatDtype): Float32Array {
  const raw = convertRaw(bytes, dtype, 'F32');
  return raw === bytes ? new Float32Array(bytes.slice().buffer) : new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
}

export function f32ToRaw(data: Float32Array, dtype: FloatDtype): Uint8Array {
  return convertRaw(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 'F32', dtype);
}

/** the index of the first NaN or infinity in raw values (by their exponent bits), or -1 */
export function firstNonFinite(bytes: Uint8Array, dtype: FloatDtype): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    for (let i = 0, n = bytes.byteLength / 4; i < n; i++) if ((dv.getUint32(4 * i, true) & 0x7f800000) === 0x7f800000) return i;
    return -1;
  }
  const mask = dtype === 'BF16' ? 0x7f80 : 0x7c00;
  for (let i = 0, n = bytes.byteLength / 2; i < n; i++) if ((dv.getUint16(2 * i, true) & mask) === mask) return i;
  return -1;
}

/** the value at element i of raw values (for messages) */
export function rawValue(bytes: Uint8Array, dtype: FloatDtype, i: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') return dv.getFloat32(4 * i, true);
  const h = dv.getUint16(2 * i, true);
  return dtype === 'BF16' ? bf16ToNumber(h) : f16ToNumber(h);
}
