// gpu/options: the types a Gpu is made and driven with (createGpu's options, a dispatch's uniforms and grid,
// the precision of matmul operands, an f16 copy of a tensor), apart from the class so gpu.ts stays its verbs.
import type { View } from './view.js';
import type { TuneCache } from './tune.js';

/** the precision of matmul operands (Model.setPrecision; each matmul launch is given it: src/gpu/kernels/matmul.ts) */
export type Precision = 'f32' | 'f16';
export interface Uniforms { u?: number[]; f?: number[] }
export type Grid = [number, number?, number?];

export interface GpuOptions {
  /** uniform buffers kept before the cache is emptied (default 4096; tests force it tiny) */
  uniformCacheSize?: number;
  /** force a kernel variant per op, e.g. { matmul: 'regs' } (src/gpu/tune.ts); 'auto' = tune */
  force?: Record<string, string>;
  /** where tuned choices persist between processes (Node: a JSON file in the cache directory) */
  tuneCache?: TuneCache;
  /** the largest buffer one parameter arena part may be, in bytes (default: maxBufferSize; tests force it small) */
  arenaPartBytes?: number;
  /** how to await the device's promises (Node: src/node/settle.ts, which keeps Dawn from busy-polling) */
  settle?: <T>(p: Promise<T>) => Promise<T>;
  /**
   * --precision f16 in real f16 arithmetic where the device has shader-f16 (default true); false keeps the
   * f32 emulation of f16 operands everywhere (Node: INHERITUNE_F16=emulate)
   */
  f16Arithmetic?: boolean;
}

/** an f16 copy of an f32 tensor: at element `offset` of its buffer, `numel` values, two per word of `copy` */
export interface HalfCopy { offset: number; numel: number; copy: View }
