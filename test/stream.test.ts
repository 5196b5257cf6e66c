// stream: checkpoints that go tensor by tensor (issue 12 item 1). A small sharded bf16 Llama directory
// written here by hand (header JSON + raw bits, not the package's writer) -> `inherit` copies the kept
// tensors byte for byte in bf16 (no f32 round trip), writes the same inheritune.json as the in-memory
// path, shards under a tiny --max-shard-size with transformers' index, converts with --dtype; the CPU
// narrowing (round to nearest even) and the GPU widening kernel are held against IEEE decodings
// computed here from the bit patterns.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readHfModel } from '../src/formats/hf.js';
import { nodeDir, loadModel } from '../src/node/models.js';
import { inherit, type InheritOptions } from '../src/method/inherit.js';
import { f32BitsToBf16, f32BitsToF16 } from '../src/formats/dtype.js';
import { parseSize } from '../src/formats/stwrite.js';
import { convertToF32 } from '../src/gpu/kernels/convert.js';
import { REPO, testGpu, rng } from './helpers.js';
import type { Gpu } from '../src/node/index.js';

const run = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { maxBuffer: 1 << 26 });

// --- IEEE decodings by definition (sign, exponent, fraction), in f64 ---
function decode(bits: number, E: number, M: number): number {
  const s = bits >>> (E + M) & 1 ? -1 : 1, e = (bits >>> M) & ((1 << E) - 1), m = bits & ((1 << M) - 1), bias = (1 << (E - 1)) - 1;
  if (e === (1 << E) - 1) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** (1 - bias - M) : s * (1 + m / 2 ** M) * 2 ** (e - bias);
}
const bf16 = (h: number) => decode(h, 8, 7), f16 = (h: number) => decode(h, 5, 10);
const f32Bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];
const bitsF32 = (b: number) => new Float32Array(Uint32Array.of(b).buffer)[0];

/** the nearest of a format's finite values to x (ties to the even bit pattern), overflow as IEEE rounds it */
function nearest(x: number, values: { v: number; h: number }[], maxFinite: number, inf: number, halfUlpMax: number): number {
  if (Number.isNaN(x)) return -1;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0, a = Math.abs(x);
  if (a >= maxFinite + halfUlpMax) return sign | inf; // at or beyond the midpoint to the next power: infinity (ties go to the even infinity)
  let lo = 0, hi = values.length - 1;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (values[mid].v <= a) lo = mid; else hi = mid; }
  const [p, q] = [values[lo], values[hi]];
  const d1 = a - p.v, d2 = q.v - a;
  const pick = d1 < d2 ? p : d2 < d1 ? q : (p.h & 1 ? q : p);
  return sign | pick.h;
}
const positives = (dec: (h: number) => number, top: number) => Array.from({ length: top }, (_, h) => ({ v: dec(h), h })).filter((e) => Number.isFinite(e.v));

describe('CPU narrowing: round to nearest even against the nearest value by definition', () => {
  const samples: number[] = [];
  const r = rng(7);
  for (let i = 0; i < 20000; i++) samples.push(bitsF32((r() * 2 ** 32) >>> 0));              // any bit pattern
  for (let i = 0; i < 5000; i++) samples.push((r() - 0.5) * 2 ** Math.floor(r() * 60 - 30)); // the usual range
  for (const x of [0, -0, 1, -1, 65504, 65519.99, 65520, 65536, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 2 ** -14, 3.3895e38, Infinity, -Infinity, NaN]) samples.push(Math.fround(x));
  // exact ties: halfway between neighbouring bf16 / f16 values
  for (let h = 0; h < 0x7f80; h += 97) samples.push(bitsF32(((h << 16) | 0x8000) >>> 0));
  for (let h = 1; h < 0x7bff; h += 89) samples.push(Math.fround((f16(h) + f16(h + 1)) / 2));

  it('f32 -> bf16', () => {
    const vals = positives(bf16, 0x7f80), max = bf16(0x7f7f);
    for (const x of samples) {
      const want = nearest(bitsF32(f32Bits(x)), vals, max, 0x7f80, 2 ** (127 - 8)), got = f32BitsToBf16(f32Bits(x));
      if (want < 0) expect(Number.isNaN(bf16(got))).toBe(true);
      else expect(got, `x = ${x}`).toBe(want);
    }
  });

  it('f32 -> f16 (subnormals, overflow to infinity)', () => {
    const vals = positives(f16, 0x7c00), max = 65504;
    for (const x of samples) {
      const want = nearest(bitsF32(f32Bits(x)), vals, max, 0x7c00, 16), got = f32BitsToF16(f32Bits(x));
      if (want < 0) expect(Number.isNaN(f16(got))).toBe(true);
      else expect(got, `x = ${x}`).toBe(want);
    }
  });

  it("max_shard_size as transformers reads it", () => {
    expect(parseSize('5GB')).toBe(5e9);
    expect(parseSize('500MB')).toBe(5e8);
    expect(parseSize('2GiB')).toBe(2 * 2 ** 30);
    expect(parseSize('10KB')).toBe(10000);
    expect(parseSize('8Mb')).toBe(1e6);
    expect(parseSize('1234')).toBe(1234);
    expect(() => parseSize('5 potatoes')).toThrow(/not a size/);
  });
});

// --- a small sharded bf16 Llama directory, written by hand ---
const C = 64, H = 96, L = 4, NH = 4, V = 128;
const CONFIG = { model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: C, intermediate_size: H, num_hidden_layers: L,
  num_attention_heads: NH, num_key_value_heads: NH, vocab_size: V, max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000,
  tie_word_embeddings: false, hidden_act: 'silu', torch_dtype: 'bfloat16' };

function refTensors(): Map<string, { shape: number[]; bits: Uint16Array }> {
  const r = rng(3), out = new Map<string, { shape: number[]; bits: Uint16Array }>();
  const add = (k: string, shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1), bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) bits[i] = f32Bits((r() - 0.5) * 0.2) >>> 16; // truncated f32: any finite bf16
    out.set(k, { shape, bits });
  };
  add('model.embed_tokens.weight', [V, C]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    add(p + 'input_layernorm.weight', [C]); add(p + 'post_attention_layernorm.weight', [C]);
    for (const m of ['q', 'k', 'v', 'o']) add(`${p}self_attn.${m}_proj.weight`, [C, C]);
    add(p + 'mlp.gate_proj.weight', [H, C]); add(p + 'mlp.up_proj.weight', [H, C]); add(p + 'mlp.down_proj.weight', [C, H]);
  }
  add('model.norm.weight', [C]); add('lm_head.weight', [V, C]);
  return out;
}

function stFile(entries: [string, { shape: number[]; bits: Uint16Array }][]): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const [k, t] of entries) { header[k] = { dtype: 'BF16', shape: t.shape, data_offsets: [off, off + 2 * t.bits.length] }; off += 2 * t.bits.length; }
  const json = Buffer.from(JSON.stringify(header)), len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...entries.map(([, t]) => Buffer.from(t.bits.buffer))]);
}

/** a parsed safetensors file: {key: {dtype, shape, bytes}} */
function readSt(path: string): Map<string, { dtype: string; shape: number[]; bytes: Buffer }> {
  const b = readFileSync(path), n = Number(b.readBigUInt64LE(0)), h = JSON.parse(b.subarray(8, 8 + n).toString());
  const out = new Map<string, { dtype: string; shape: number[]; bytes: Buffer }>();
  for (const [k, t] of Object.entries(h as Record<string, any>)) if (k !== '__metadata__') out.set(k, { dtype: t.dtype, shape: t.shape, bytes: b.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]) });
  return out;
}

/** every tensor of an output directory, sharded or not, and the index if any */
function readDir(dir: string): { tensors: Map<string, { dtype: string; shape: number[]; bytes: Buffer }>; index: any } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  const tensors = new Map<string, { dtype: string; shape: number[]; bytes: Buffer }>();
  for (const f of files) for (const [k, t] of readSt(join(dir, f))) tensors.set(k, t);
  const index = files.includes('model.safetensors') ? null : JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  return { tensors, index };
}

const root = mkdtempSync(join(tmpdir(), 'inheritune-stream-'));
const REF = join(root, 'ref');
const ref = refTensors();
const keys = [...ref.keys()];
beforeAll(() => {
  mkdirSync(REF);
  writeFileSync(join(REF, 'config.json'), JSON.stringify(CONFIG));
  // two shards, split mid-model, with an index as transformers writes it
  const cut = Math.floor(keys.length / 2), parts = [keys.slice(0, cut), keys.slice(cut)];
  const weightMap: Record<string, string> = {};
  parts.forEach((ks, i) => {
    const name = `model-0000${i + 1}-of-00002.safetensors`;
    writeFileSync(join(REF, name), stFile(ks.map((k) => [k, ref.get(k)!])));
    for (const k of ks) weightMap[k] = name;
  });
  writeFileSync(join(REF, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
});

describe('streaming inherit from a sharded bf16 directory', () => {
  const select = [3, 1];
  it('copies the kept tensors byte for byte in bf16; the record is the in-memory path\'s; the output loads back', async () => {
    const out = join(root, 'out');
    await cli('inherit', '--model', REF, '--select', select.join(','), '--out', out);
    const { tensors, index } = readDir(out);
    expect(index).toBe(null); // 5GB default: one file
    const want = new Map<string, string>([['model.embed_tokens.weight', 'model.embed_tokens.weight'], ['model.norm.weight', 'model.norm.weight'], ['lm_head.weight', 'lm_head.weight']]);
    select.forEach((b, i) => { for (const k of keys) if (k.startsWith(`model.layers.${b}.`)) want.set(k.replace(`layers.${b}.`, `layers.${i}.`), k); });
    expect([...tensors.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, from] of want) {
      const t = tensors.get(k)!, r = ref.get(from)!;
      expect(t.dtype, k).toBe('BF16');
      expect(t.shape).toEqual(r.shape);
      expect(Buffer.compare(t.bytes, Buffer.from(r.bits.buffer)), `${k} = reference ${from}`).toBe(0);
    }
    const record = JSON.parse(readFileSync(join(out, 'inheritune.json'), 'utf8'));
    const mem = inherit(await readHfModel(nodeDir(REF)), { select }, REF).record;
    expect({ ...record, tokenizer_files: undefined }).toEqual({ ...JSON.parse(JSON.stringify(mem)), tokenizer_files: undefined });
    const back = await readHfModel(nodeDir(out));
    expect(back.config.nLayers).toBe(2);
    const wq = ref.get('model.layers.1.self_attn.q_proj.weight')!.bits;
    expect(Array.from(back.tensors.wq.subarray(C * C, 2 * C * C))).toEqual(Array.from(wq, bf16));
  });

  it('--max-shard-size splits the output into shards with transformers\' index; the shards load back to the same model', async () => {
    const out = join(root, 'sharded'), limit = 3 * C * H * 2; // a few tensors per shard
    const { stdout } = await cli('inherit', '--model', REF, '--select', select.join(','), '--max-shard-size', String(limit), '--out', out, '--json');
    const files = readdirSync(out).filter((f) => f.endsWith('.safetensors')).sort();
    expect(files.length).toBeGreaterThan(3);
    files.forEach((f, i) => expect(f).toBe(`model-${String(i + 1).padStart(5, '0')}-of-${String(files.length).padStart(5, '0')}.safetensors`));
    expect(JSON.parse(stdout).weight_files).toEqual([...files, 'model.safetensors.index.json']);
    const { tensors, index } = readDir(out);
    let total = 0;
    for (const [k, t] of tensors) { total += t.bytes.length; expect(readSt(join(out, index.weight_map[k])).has(k)).toBe(true); }
    expect(Object.keys(index.weight_map).sort()).toEqual([...tensors.keys()].sort());
    expect(index.metadata.total_size).toBe(total);
    for (const f of files) {
      const sizes = [...readSt(join(out, f)).values()].map((t) => t.bytes.length);
      if (sizes.length > 1) expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(limit);
    }
    const one = await readHfModel(nodeDir(join(root, 'out'))), many = await readHfModel(nodeDir(out));
    for (const k of Object.keys(one.tensors)) expect(many.tensors[k], k).toEqual(one.tensors[k]);
  });

  it('--dtype f32 widens exactly; --dtype f16 rounds each value to its nearest f16', async () => {
    const o32 = join(root, 'f32'), o16 = join(root, 'f16');
    await cli('inherit', '--model', REF, '--layers', '1', '--dtype', 'f32', '--out', o32);
    await cli('inherit', '--model', REF, '--layers', '1', '--dtype', 'f16', '--out', o16);
    const k = 'model.layers.0.mlp.down_proj.weight', r = ref.get(k)!.bits;
    const t32 = readDir(o32).tensors.get(k)!, t16 = readDir(o16).tensors.get(k)!;
    expect([t32.dtype, t16.dtype]).toEqual(['F32', 'F16']);
    expect(Array.from(new Float32Array(t32.bytes.buffer.slice(t32.bytes.byteOffset, t32.bytes.byteOffset + t32.bytes.length)))).toEqual(Array.from(r, bf16));
    const got16 = new Uint16Array(t16.bytes.buffer.slice(t16.bytes.byteOffset, t16.bytes.byteOffset + t16.bytes.length));
    const vals = positives(f16, 0x7c00);
    for (let i = 0; i < r.length; i++) expect(got16[i]).toBe(nearest(bf16(r[i]), vals, 65504, 0x7c00, 16));
  });

  it('--preset official initializes the embeddings in the reference\'s dtype and records it', async () => {
    const out = join(root, 'official');
    await cli('inherit', '--model', REF, '--layers', '2', '--preset', 'official', '--out', out);
    const { tensors } = readDir(out);
    expect(tensors.get('model.embed_tokens.weight')!.dtype).toBe('BF16');
    const record = JSON.parse(readFileSync(join(out, 'inheritune.json'), 'utf8'));
    expect(record.tensors['model.embed_tokens.weight'].source).toBe('init');
    expect(record.tensors['model.norm.weight'].source).toBe('init');
    const mem = inherit(await readHfModel(nodeDir(REF)), { layers: 2, preset: 'official' }, REF).record;
    expect(record.tensors).toEqual(mem.tensors);
  });
});

describe('streaming inherit of every family: what the in-memory path inherits', () => {
  it('test/ref/hf GPT-2 (transposed Conv1D), NeoX (interleaved qkv), Qwen3, Llama with biases: --select 1,0 and --preset official', async () => {
    for (const d of ['gpt2-tiny', 'fam-neox-bf16', 'fam-qwen3-f32', 'llama-bias-tiny']) {
      const dir = resolve(REPO, 'test/ref/hf', d), refCk = await readHfModel(nodeDir(dir));
      const cases: [string[], InheritOptions][] = [[['--select', '1,0'], { select: [1, 0] }], [['--layers', '1', '--preset', 'official'], { layers: 1, preset: 'official' }]];
      for (const [flags, opts] of cases) {
        const out = join(root, `fam-${d}-${flags.length}`);
        await cli('inherit', '--model', dir, ...flags, '--out', out);
        const got = await readHfModel(nodeDir(out)), want = inherit(refCk, opts, dir).checkpoint;
        expect(got.config).toEqual(want.config);
        // inherited tensors: the stored values either way (bf16 is exact in f32); fresh ones (official: final norm, Llama's
        // and NeoX's embeddings, GPT-2's positions) are written in the source's dtype, so within bf16's (or f16's) rounding of the f32 init
        const fresh = new Set(flags.includes('official') ? ['token_embedding', 'rms_final', 'lnfw', 'lnfb', 'wpe', ...(refCk.config.family === 'gpt2' ? [] : ['wte'])] : []);
        const narrow = [...readDir(dir).tensors.values()].some((t) => t.dtype !== 'F32');
        for (const k of Object.keys(want.tensors)) {
          if (!fresh.has(k) || !narrow) { expect(got.tensors[k], `${d} ${flags.join(' ')} ${k}`).toEqual(want.tensors[k]); continue; }
          want.tensors[k].forEach((x, i) => expect(Math.abs(got.tensors[k][i] - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -8 + 2 ** -24));
        }
      }
    }
  });
});

describe('checkpoints written tensor by tensor', () => {
  it('saveCheckpoint with weight writes: shards + index under a small limit, trainer.json last, read back equal', async () => {
    const { saveCheckpoint } = await import('../src/node/checkpoint.js');
    const { hfWrites, hfConfigFiles } = await import('../src/formats/hf.js');
    const ck = await readHfModel(nodeDir(REF)), run = join(root, 'run');
    await saveCheckpoint(run, 7, { ...hfConfigFiles(ck.config), 'trainer.json': [new TextEncoder().encode('{}')] }, { writes: hfWrites(ck), maxShardSize: 100_000 });
    const dir = join(run, 'checkpoint'), files = readdirSync(dir);
    expect(files).toContain('model.safetensors.index.json');
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(2);
    const back = await readHfModel(nodeDir(dir));
    for (const k of Object.keys(ck.tensors)) expect(back.tensors[k], k).toEqual(ck.tensors[k]);
    expect([...readDir(dir).tensors.values()].every((t) => t.dtype === 'F32')).toBe(true);
  });

  it('a model on the GPU written in chunks of 100 floats (as big slices are: 64 MiB at a time) reads back equal, in f32 and bf16', async (ctx) => {
    const g = await testGpu();
    if (!g) return ctx.skip();
    const { saveCheckpoint } = await import('../src/node/checkpoint.js');
    const { hfSliceWrites, hfConfigFiles } = await import('../src/formats/hf.js');
    const { f32ToRaw, rawToF32 } = await import('../src/formats/dtype.js');
    const ck = await readHfModel(nodeDir(REF)), m = await loadModel(g, REF);
    for (const dtype of ['F32', 'BF16'] as const) {
      const run = join(root, `chunked-${dtype}`);
      const reads: number[] = [];
      await saveCheckpoint(run, 1, { ...hfConfigFiles(ck.config), 'trainer.json': [new TextEncoder().encode('{}')] },
        { writes: hfSliceWrites(ck.config, (name, l, start, n) => { reads.push(n); return m.params.readSlice(name, l, start, n); }, dtype, 100) });
      expect(Math.max(...reads)).toBe(100);
      const back = await readHfModel(nodeDir(join(run, 'checkpoint')));
      for (const k of Object.keys(ck.tensors)) {
        const want = dtype === 'F32' ? ck.tensors[k] : rawToF32(f32ToRaw(ck.tensors[k], 'BF16'), 'BF16'); // bf16: the nearest, as a whole-slice write gives
        expect(back.tensors[k], `${dtype} ${k}`).toEqual(want);
      }
    }
    m.destroy();
    g.destroy();
  });
});

describe('GPU: bf16/f16 widened on the GPU', () => {
  let g: Gpu | null = null;
  beforeAll(async () => { g = await testGpu(); });
  afterAll(() => g?.destroy());

  it('every one of the 65536 bit patterns, bf16 and f16, against its IEEE value', async (ctx) => {
    if (!g) return ctx.skip();
    const N = 65536, words = new Uint32Array(N / 2);
    for (let i = 0; i < N / 2; i++) words[i] = (2 * i) | ((2 * i + 1) << 16);
    for (const [dtype, dec] of [['BF16', bf16], ['F16', f16]] as const) {
      const inp = g.tensor(N / 2, 'in'), out = g.tensor(N, 'out');
      g.upload(inp, words);
      convertToF32(g, out, inp, N, dtype);
      const got = await g.read(out);
      for (let h = 0; h < N; h++) {
        const want = dec(h);
        if (Number.isNaN(want)) expect(Number.isNaN(got[h]), `${dtype} ${h.toString(16)}`).toBe(true);
        else expect(Object.is(got[h], want) || (got[h] === want && want !== 0), `${dtype} 0x${h.toString(16)}: ${got[h]} vs ${want}`).toBe(true);
      }
      g.release(inp.buffer); g.release(out.buffer);
    }
  });

  it('a bf16 directory loaded tensor by tensor gives the logits of the same model read into f32 on the CPU', async (ctx) => {
    if (!g) return ctx.skip();
    const { Model } = await import('../src/model/model.js');
    const streamed = await loadModel(g, REF), cpu = Model.create(g, await readHfModel(nodeDir(REF)));
    const ids = [1, 5, 9, 100, 3];
    expect(Array.from(await streamed.logits(ids))).toEqual(Array.from(await cpu.logits(ids)));
    const a = await streamed.readCheckpoint(), b = await cpu.readCheckpoint();
    for (const k of Object.keys(b.tensors)) expect(a.tensors[k], k).toEqual(b.tensors[k]);
    streamed.destroy(); cpu.destroy();
  });

  it('every test/ref/hf directory (each family, F32/F16/BF16, sharded, transposed GPT-2, NeoX qkv), whole and cut to one block: the parameters of the CPU path, bit for bit', async (ctx) => {
    if (!g) return ctx.skip();
    const { Model } = await import('../src/model/model.js');
    const { selectLayers } = await import('../src/model/surgery.js');
    const base = resolve(REPO, 'test/ref/hf');
    for (const d of readdirSync(base)) {
      const dir = join(base, d), ck = await readHfModel(nodeDir(dir));
      for (const layers of [undefined, 1]) {
        const a = await loadModel(g, dir, { layers }), b = Model.create(g, layers ? selectLayers(ck, [0]) : ck);
        const ta = (await a.readCheckpoint()).tensors, tb = (await b.readCheckpoint()).tensors;
        for (const k of Object.keys(tb)) expect(ta[k], `${d} ${k}`).toEqual(tb[k]);
        a.destroy(); b.destroy();
      }
    }
  });
});
