// stwrite: safetensors written tensor by tensor. Every tensor's dtype and shape are known before any
// data exists, so each file's header is written first and then each tensor's bytes as its producer
// hands them over, in chunks: no file, and no tensor, is ever held whole in memory. Above a size the
// tensors are split into shards as transformers' save_pretrained does (huggingface_hub's
// split_torch_state_dict_into_shards: tensors in order, a new shard when the next tensor would pass
// the limit, a tensor bigger than the limit alone in its shard), named model-00001-of-0000N.safetensors,
// with model.safetensors.index.json ({"metadata": {"total_size"}, "weight_map"}) beside them. Files are
// written through an abstract opener (a file in Node, OPFS in a browser).
import { safetensorsHeader, type Dtype } from './safetensors.js';
import { FLOAT_SIZE, type FloatDtype } from './dtype.js';
import { fail } from '../util/errors.js';
import { INDEX } from './hfweights.js';

/** one tensor to write: its bytes come from produce(), in any number of chunks, in order */
export interface TensorWrite {
  name: string;
  dtype: FloatDtype | 'U8';
  shape: number[];
  produce(emit: (bytes: Uint8Array) => Promise<void>): Promise<void>;
}

export interface FileSink { write(bytes: Uint8Array): Promise<void>; close(): Promise<void> }
export type OpenFile = (name: string) => Promise<FileSink>;

/** transformers' default max_shard_size */
export const DEFAULT_SHARD_SIZE = '5GB';

/**
 * A size as transformers' max_shard_size takes it (convert_file_size_to_int): bytes as a plain integer,
 * or an integer with KB/MB/GB (powers of 10) or KiB/MiB/GiB (powers of 2), any case; a lowercase final
 * b (5Gb) means bits.
 */
export function parseSize(s: string | number): number {
  if (typeof s === 'number') return s;
  const m = /^\s*(\d+)\s*(|B|[KMG]I?B)\s*$/i.exec(s);
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(n) || n <= 0) fail(`size '${s}' is not a size`, 'pass bytes or an integer with a unit, e.g. 5GB, 500MB, 2GiB (as transformers\' max_shard_size)');
  const unit = m[2].toUpperCase();
  const scale = { '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30 }[unit]!;
  const bits = unit.length === 2 && m[2].endsWith('b');
  return bits ? Math.floor((n * scale) / 8) : n * scale;
}

export function tensorBytes(t: { dtype: FloatDtype | 'U8'; shape: number[] }): number {
  return t.shape.reduce((a, b) => a * b, t.dtype === 'U8' ? 1 : FLOAT_SIZE[t.dtype]);
}

/** which tensors go in which file: one model.safetensors, or shards and the index */
export function planShards<T extends { name: string; dtype: FloatDtype | 'U8'; shape: number[] }>(tensors: T[], maxShardSize: number, single = 'model.safetensors'): { files: { name: string; tensors: T[] }[]; index: string | null } {
  const shards: T[][] = [];
  let size = 0;
  for (const t of tensors) {
    const b = tensorBytes(t);
    if (!shards.length || (size + b > maxShardSize && shards.at(-1)!.length)) { shards.push([]); size = 0; }
    shards.at(-1)!.push(t);
    size += b;
  }
  if (shards.length <= 1) return { files: [{ name: single, tensors: shards[0] ?? [] }], index: null };
  const N = String(shards.length).padStart(5, '0');
  const files = shards.map((ts, i) => ({ name: `model-${String(i + 1).padStart(5, '0')}-of-${N}.safetensors`, tensors: ts }));
  const weightMap: Record<string, string> = {};
  for (const f of files) for (const t of f.tensors) weightMap[t.name] = f.name;
  const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const total = tensors.reduce((a, t) => a + tensorBytes(t), 0);
  return { files, index: JSON.stringify({ metadata: { total_size: total }, weight_map: sorted }, null, 2) + '\n' };
}

/**
 * Write tensors as safetensors through `open`: one file, or shards + index above maxShardSize bytes.
 * Returns the names of the files written. A producer that hands over more or fewer bytes than its
 * dtype and shape say is an error (the header is already written).
 */
export async function writeSafetensors(tensors: TensorWrite[], open: OpenFile,
                                       opts: { maxShardSize?: number; metadata?: Record<string, string>; fileName?: string; onTensor?: (done: number, total: number) => void } = {}): Promise<string[]> {
  const plan = planShards(tensors, opts.maxShardSize ?? parseSize(DEFAULT_SHARD_SIZE), opts.fileName);
  let done = 0;
  for (const f of plan.files) {
    const { header } = safetensorsHeader(f.tensors.map((t) => ({ name: t.name, dtype: t.dtype as Dtype, shape: t.shape })), opts.metadata ?? { format: 'pt' });
    const sink = await open(f.name);
    try {
      await sink.write(header);
      for (const t of f.tensors) {
        const want = tensorBytes(t);
        let got = 0;
        await t.produce(async (bytes) => {
          got += bytes.byteLength;
          if (got > want) fail(`safetensors: tensor '${t.name}' produced more than its ${want} bytes`);
          await sink.write(bytes);
        });
        if (got !== want) fail(`safetensors: tensor '${t.name}' produced ${got} of its ${want} bytes`);
        opts.onTensor?.(++done, tensors.length);
      }
    } finally {
      await sink.close();
    }
  }
  if (plan.index !== null) {
    const sink = await open(INDEX);
    try { await sink.write(new TextEncoder().encode(plan.index)); } finally { await sink.close(); }
  }
  return [...plan.files.map((f) => f.name), ...(plan.index !== null ? [INDEX] : [])];
}
