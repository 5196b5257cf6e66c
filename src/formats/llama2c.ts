// llama2c: read llama2.c checkpoints, both the legacy layout (7 x int32 header, run.c) and the
// "version 1" export (256-byte header with magic "ak42"), into a Checkpoint with llama2.c's tensor
// names. Byte layouts: llama2.c export.py legacy_export / version1_export. Every size is checked
// against the header before a single float is read, so a truncated or foreign file gets an error
// that names what was expected.
import type { Checkpoint, ModelConfig } from '../model/config.js';
import { fail } from '../util/errors.js';

const MAGIC_V1 = 0x616b3432; // "ak42" little-endian

export function parseLlama2c(bytes: Uint8Array, name = 'checkpoint'): Checkpoint {
  if (bytes.byteLength < 28) {
    fail(`${name}: ${bytes.byteLength} bytes is too small for a llama2.c checkpoint (the header alone is 28 bytes)`,
      'pass a llama2.c model .bin (e.g. stories260K.bin); the file may be truncated');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, true);
  if (magic === MAGIC_V1) {
    const version = dv.getInt32(4, true);
    if (version !== 1) {
      fail(`${name}: llama2.c export version ${version} is not supported (only the fp32 version 1 and the legacy layout are)`,
        'version 2 is int8-quantized; re-export with `python export.py --version 1` or use the legacy .bin');
    }
    if (bytes.byteLength < 256) fail(`${name}: truncated version-1 header (${bytes.byteLength} of 256 bytes)`, 'the file is incomplete; download or export it again');
    const h = readHeader(dv, 8, name);
    const shared = bytes[36] !== 0;
    return readTensors(bytes, 256, h, shared, false, name);
  }
  const h = readHeader(dv, 0, name);
  const shared = h.vocabSigned > 0;
  return readTensors(bytes, 28, h, shared, true, name);
}

interface Header { dim: number; hidden: number; layers: number; heads: number; kvHeads: number; vocab: number; vocabSigned: number; seqLen: number }

function readHeader(dv: DataView, at: number, name: string): Header {
  const f = (i: number) => dv.getInt32(at + 4 * i, true);
  const h = { dim: f(0), hidden: f(1), layers: f(2), heads: f(3), kvHeads: f(4), vocabSigned: f(5), vocab: Math.abs(f(5)), seqLen: f(6) };
  const ok = h.dim > 0 && h.hidden > 0 && h.layers > 0 && h.heads > 0 && h.kvHeads > 0 && h.vocab > 0 && h.seqLen > 0 &&
    h.dim % h.heads === 0 && h.heads % h.kvHeads === 0 && (h.dim / h.heads) % 2 === 0 &&
    h.dim <= 1 << 16 && h.hidden <= 1 << 18 && h.layers <= 1024 && h.vocab <= 1 << 22 && h.seqLen <= 1 << 20;
  if (!ok) {
    fail(`${name}: not a llama2.c checkpoint: header reads dim=${h.dim} hidden_dim=${h.hidden} n_layers=${h.layers} ` +
      `n_heads=${h.heads} n_kv_heads=${h.kvHeads} vocab_size=${h.vocabSigned} seq_len=${h.seqLen} (bad magic or header)`,
      'pass a llama2.c .bin written by export.py (legacy or --version 1); Hugging Face directories are read with their config.json');
  }
  return h;
}

function readTensors(bytes: Uint8Array, start: number, h: Header, shared: boolean, legacy: boolean, name: string): Checkpoint {
  const { dim: C, hidden: H, layers: L, heads: NH, kvHeads: KVH, vocab: V, seqLen } = h;
  const HS = C / NH;
  const kvDim = KVH * HS;
  const layerOrder: [string, number[]][] = legacy
    ? [['token_embedding', [V, C]], ['rms_att', [L, C]], ['wq', [L, C, C]], ['wk', [L, kvDim, C]], ['wv', [L, kvDim, C]],
      ['wo', [L, C, C]], ['rms_ffn', [L, C]], ['w1', [L, H, C]], ['w2', [L, C, H]], ['w3', [L, H, C]], ['rms_final', [C]],
      ['freq_cis_real', [seqLen, HS / 2]], ['freq_cis_imag', [seqLen, HS / 2]]]
    : [['rms_att', [L, C]], ['rms_ffn', [L, C]], ['rms_final', [C]], ['token_embedding', [V, C]], ['wq', [L, C, C]],
      ['wk', [L, kvDim, C]], ['wv', [L, kvDim, C]], ['wo', [L, C, C]], ['w1', [L, H, C]], ['w2', [L, C, H]], ['w3', [L, H, C]]];
  if (!shared) layerOrder.push(['wcls', [V, C]]);
  const floats = layerOrder.reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0);
  const expected = start + 4 * floats;
  if (bytes.byteLength !== expected) {
    const what = bytes.byteLength < expected ? 'truncated' : 'has trailing bytes';
    fail(`${name}: file ${what}: ${bytes.byteLength} bytes, but its header (dim=${C}, hidden_dim=${H}, n_layers=${L}, ` +
      `n_heads=${NH}, n_kv_heads=${KVH}, vocab=${V}, seq_len=${seqLen}, ${legacy ? 'legacy' : 'version 1'} layout, ` +
      `${shared ? 'tied' : 'separate'} classifier) says ${expected}`, 'the file is incomplete or not this format; download or export it again');
  }
  // copy into aligned Float32Arrays (the input may sit at any byte offset)
  const tensors: Record<string, Float32Array> = {};
  let off = bytes.byteOffset + start;
  for (const [key, shape] of layerOrder) {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = new Float32Array(n);
    new Uint8Array(t.buffer).set(new Uint8Array(bytes.buffer, off, n * 4));
    off += n * 4;
    if (!key.startsWith('freq_cis')) tensors[key] = t; // RoPE tables are recomputed (src/model/rope.ts ropeTables)
  }
  for (const [key, t] of Object.entries(tensors)) {
    for (let i = 0; i < t.length; i++) {
      if (!Number.isFinite(t[i])) fail(`${name}: tensor ${key} holds a non-finite value (${t[i]}) at index ${i}`, 'the checkpoint is corrupt; export it again');
    }
  }
  const config: ModelConfig = {
    family: 'llama', dim: C, hiddenDim: H, nLayers: L, nHeads: NH, nKvHeads: KVH, vocabSize: V, maxSeqLen: seqLen,
    normEps: 1e-5, ropeTheta: 10000, ropeMode: 'interleaved', tiedEmbeddings: shared,
  };
  return { config, tensors };
}
