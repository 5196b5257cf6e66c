// safetensors: writer -> reader round trip, dtype conversion, and a fuzzer: malformed headers must
// give an InherituneError (never another exception, a crash or a hang).
import { describe, it, expect } from 'vitest';
import { SafetensorsFile, serializeSafetensors, memorySource, InherituneError } from '../src/index.js';
import { rng } from './helpers.js';

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.byteLength; }
  return out;
};

/** a file with the given header object and `dataBytes` bytes of data */
function withHeader(header: unknown, dataBytes: number, rawHeader?: Uint8Array): Uint8Array {
  const jb = rawHeader ?? new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + jb.byteLength + dataBytes);
  new DataView(out.buffer).setUint32(0, jb.byteLength, true);
  out.set(jb, 8);
  return out;
}

const raw = (s: string) => new TextEncoder().encode(s);

async function openBytes(b: Uint8Array) {
  return SafetensorsFile.open(memorySource(b), 'fuzz.safetensors');
}

describe('safetensors', () => {
  it('round-trips f32 tensors, metadata, and an 8-byte-aligned header', async () => {
    const a = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 3), b = Float32Array.from([1e-30, -2, 3.25]);
    const bytes = concat(serializeSafetensors([{ name: 'a', shape: [3, 4], data: a }, { name: 'b.c', shape: [3], data: b }], { format: 'pt' }));
    const n = new DataView(bytes.buffer).getUint32(0, true);
    expect((8 + n) % 8).toBe(0);
    const f = await openBytes(bytes);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.tensors.get('a')).toMatchObject({ dtype: 'F32', shape: [3, 4] });
    expect(Array.from(await f.read('a'))).toEqual(Array.from(a));
    expect(Array.from(await f.read('b.c'))).toEqual(Array.from(b));
    await expect(f.read('nope')).rejects.toThrow(/no tensor 'nope'/);
  });

  it('converts F16 and BF16 exactly', async () => {
    // F16: 1.0 = 0x3c00, -2.5 = 0xc100, 65504 = 0x7bff, smallest subnormal 2^-24 = 0x0001
    // BF16: 1.0 = 0x3f80, -2.5 = 0xc020, 3.140625 = 0x4049
    const f16 = [0x3c00, 0xc100, 0x7bff, 0x0001], bf16 = [0x3f80, 0xc020, 0x4049];
    const data = new Uint8Array(14);
    const dv = new DataView(data.buffer);
    f16.forEach((h, i) => dv.setUint16(2 * i, h, true));
    bf16.forEach((h, i) => dv.setUint16(8 + 2 * i, h, true));
    const file = withHeader({ h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] }, b: { dtype: 'BF16', shape: [3], data_offsets: [8, 14] } }, 14);
    file.set(data, file.byteLength - 14);
    const f = await openBytes(file);
    expect(Array.from(await f.read('h'))).toEqual([1, -2.5, 65504, 2 ** -24]);
    expect(Array.from(await f.read('b'))).toEqual([1, -2.5, 3.140625]);
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /shorter than the 8-byte header length/],
    ['huge header length', (() => { const b = new Uint8Array(64); new DataView(b.buffer).setUint32(4, 0xffffffff, true); return b; })(), /header length .* exceeds/],
    ['header past the end', (() => { const b = new Uint8Array(64); new DataView(b.buffer).setUint32(0, 1000, true); return b; })(), /runs past the end/],
    ['not JSON', withHeader(null, 0, new TextEncoder().encode('{"a": ')), /not UTF-8 JSON/],
    ['JSON array', withHeader([1, 2], 0), /not a JSON object/],
    ['unknown dtype', withHeader({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1), /unknown dtype "F8"/],
    ['negative shape', withHeader({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /invalid shape/],
    ['size mismatch', withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 8), /is 8 bytes, but its range holds 4/],
    ['range past the data', withHeader({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /ends at byte 16 of a 8-byte data section/],
    ['begin > end', withHeader({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 8), /begin > end/],
    ['overlap', withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /overlap/],
    ['bad metadata', withHeader({ __metadata__: { a: 1 } }, 0), /__metadata__ must map strings to strings/],
    ['a duplicate tensor name', withHeader(null, 8, raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}')), /the key "a" twice in one object/],
    ['a duplicate field in a tensor', withHeader(null, 4, raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"dtype":"F32"}}')), /the key "dtype" twice/],
    ['a field the spec does not have', withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4], strides: [1] } }, 4), /has the key "strides"/],
    ['padding other than spaces', withHeader(null, 4, raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}\n  ')), /followed only by space \(0x20\) padding/],
    ['leading whitespace', withHeader(null, 4, raw(' {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}')), /must start with "\{"/],
    ['a gap between tensors', withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, 12), /bytes 4\.\.8 of the data section belong to no tensor \(before "b"\)/],
    ['trailing bytes', withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 6), /cover 4 bytes but the data section holds 6 \(2 trailing bytes\)/],
    ['a shape whose size overflows', withHeader({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, 4), /is Infinity bytes, but its range holds 4/],
    ['a key given twice that hides deep nesting', withHeader(null, 4, raw('{"a":' + '['.repeat(100000) + ']'.repeat(100000) + ',"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}')), /nests objects or arrays more than 3 deep/],
    ['invalid UTF-8 in the header', withHeader(null, 0, Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), /not UTF-8 JSON \(invalid UTF-8\)/],
  ];
  for (const [name, bytes, re] of cases) {
    it(`rejects ${name}`, async () => {
      const err = await openBytes(bytes).catch((e) => e);
      expect(err).toBeInstanceOf(InherituneError);
      expect(err.message).toMatch(re);
      expect(err.message).toMatch(/HINT/);
    });
  }

  it('rejects a header length cut into its space padding (every tensor would be read shifted)', async () => {
    const good = concat(serializeSafetensors([{ name: 'w', shape: [5], data: Float32Array.from([1, 2, 3, 4, 5]) }]));
    const n = new DataView(good.buffer).getUint32(0, true);
    const pad = new TextDecoder().decode(good.subarray(8, 8 + n)).match(/ *$/)![0].length;
    expect(pad).toBeGreaterThan(0); // the writer pads this header
    expect(Array.from(await (await openBytes(good)).read('w'))).toEqual([1, 2, 3, 4, 5]);
    for (let k = 1; k <= pad; k++) {
      const b = good.slice();
      new DataView(b.buffer).setUint32(0, n - k, true);
      const err = await openBytes(b).catch((e) => e);
      expect(err, `length - ${k}`).toBeInstanceOf(InherituneError);
      expect(err.message).toMatch(new RegExp(`the tensors cover 20 bytes but the data section holds ${20 + k} \\(${k} trailing bytes\\)`));
    }
  });

  it('refuses NaN and infinite weights when read, naming the tensor (F32, F16, BF16)', async () => {
    const data = new Uint8Array(4 * 3 + 2 * 2 + 2 * 2);
    const dv = new DataView(data.buffer);
    dv.setFloat32(0, 1, true); dv.setFloat32(4, NaN, true); dv.setFloat32(8, 2, true);
    dv.setUint16(12, 0x3c00, true); dv.setUint16(14, 0xfc00, true); // F16 1, -Inf
    dv.setUint16(16, 0x7fc0, true); dv.setUint16(18, 0x3f80, true); // BF16 NaN, 1
    const file = withHeader({ f: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, h: { dtype: 'F16', shape: [2], data_offsets: [12, 16] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [16, 20] } }, 20);
    file.set(data, file.byteLength - 20);
    const f = await openBytes(file);
    for (const [key, re] of [['f', /tensor 'f' holds NaN at element 1 \(of 3\)/], ['h', /tensor 'h' holds -Infinity at element 1 \(of 2\)/],
      ['b', /tensor 'b' holds NaN at element 0 \(of 2\)/]] as const) {
      const err = await f.read(key).catch((e) => e);
      expect(err).toBeInstanceOf(InherituneError);
      expect(err.message).toMatch(re);
    }
  });

  it('refuses a short read (the file changed after it was opened)', async () => {
    const good = concat(serializeSafetensors([{ name: 'w', shape: [4], data: new Float32Array(4) }]));
    let cut = false;
    const src = { size: good.byteLength, read: async (o: number, n: number) => good.subarray(o, cut ? o + n - 4 : o + n) };
    const f = await SafetensorsFile.open(src, 'shrinking.safetensors');
    cut = true;
    await expect(f.read('w')).rejects.toThrow(/reading tensor 'w' \(16 bytes at byte \d+\) gave 12 bytes/);
  });

  it('fuzz: 2000 mutated files give an InherituneError or a valid file, never another exception (a hang fails the test timeout)', async () => {
    const r = rng(7);
    const good = concat(serializeSafetensors([
      { name: 'w', shape: [4, 3], data: new Float32Array(12).fill(1) }, { name: 'b', shape: [3], data: new Float32Array(3) },
    ]));
    let rejected = 0, accepted = 0;
    for (let i = 0; i < 2000; i++) {
      let b: Uint8Array;
      const kind = i % 5;
      if (kind === 0) b = Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)); // random bytes
      else if (kind === 1) { b = good.slice(); for (let j = 0; j < 1 + r() * 4; j++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256); } // byte flips
      else if (kind === 2) { b = good.slice(); new DataView(b.buffer).setUint32(Math.floor(r() * 2) * 4, Math.floor(r() * 2 ** 32), true); } // length field
      else if (kind === 3) b = good.slice(0, Math.floor(r() * good.length)); // truncation
      else {
        // random but well-formed JSON entries: offsets, shapes and dtypes drawn at random
        const dtypes = ['F32', 'F16', 'BF16', 'I8', 'X', 7];
        const h: Record<string, unknown> = {};
        for (let j = 0; j < 1 + r() * 3; j++) {
          const s = Math.floor(r() * 40), e = Math.floor(r() * 40);
          h['t' + j] = { dtype: dtypes[Math.floor(r() * dtypes.length)], shape: [Math.floor(r() * 5) - (r() < 0.1 ? 3 : 0)], data_offsets: r() < 0.1 ? 'x' : [s, e] };
        }
        b = withHeader(h, Math.floor(r() * 40));
      }
      try {
        const f = await openBytes(b);
        for (const k of f.tensors.keys()) await f.read(k).catch((e) => { if (!(e instanceof InherituneError)) throw e; });
        accepted++;
      } catch (e) {
        if (!(e instanceof InherituneError)) throw new Error(`case ${i} (kind ${kind}) threw ${(e as Error).name}: ${(e as Error).message}`);
        rejected++;
      }
    }
    expect(rejected + accepted).toBe(2000);
    expect(rejected).toBeGreaterThan(1000);
  });
});
