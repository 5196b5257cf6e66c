// loader: batches of (B, T) input/target windows over llm.c token shards (shard.ts), isomorphic. The shards come
// from a ShardSource: memoryShards() here, or src/node/pack.ts openShards() reading windows from files.
//   sequential  llm.c dataloader.h (single process, no shuffling): a batch is B*T+1 consecutive tokens at the
//               cursor, x = buf[0:B*T], y = buf[1:B*T+1]; the cursor advances by B*T; when the next batch would
//               run past the shard's end it moves to the next shard; after the last shard, the next epoch.
//   random      nanoGPT get_batch with replacement: each of the B rows is a window of T+1 tokens starting
//               uniformly at random over every valid start of every shard (xoshiro128** seeded by `seed`).
//               With `aligned`, each row is instead a whole aligned window (window i of a shard = its tokens
//               [i*T, i*T+T]) drawn uniformly over every shard's aligned windows: the windows a cache of
//               teacher logits holds (src/node/distill_cache.ts), one per index.
// Windows are numbered across the shards in order (shard s's window i is i plus the aligned windows of the
// shards before it); sequential and aligned batches carry the index of each row's window (Batch.windows).
// state() is plain JSON; new ShardLoader(source, opts, state) continues with exactly the batches that would have
// come next. Shapes: x, y are Int32Array (B*T), row-major (B, T).
import { fail } from '../util/errors.js';
import { parseShard, type ShardTokens } from './shard.js';

export interface ShardSource {
  /** Tokens per shard. */
  readonly sizes: readonly number[];
  /** Tokens [start, start + n) of shard i. */
  read(shard: number, start: number, n: number): ShardTokens | Promise<ShardTokens>;
  /** What each shard is called in errors (its file: openShards); default "shard i". */
  readonly names?: readonly string[];
}

/** Shards held in memory: whole shard files (bytes) or token arrays. */
export function memoryShards(shards: readonly (Uint8Array | ShardTokens)[]): ShardSource {
  const toks = shards.map((s, i) => s instanceof Uint16Array || s instanceof Uint32Array ? s : parseShard(s, `shard ${i}`).tokens);
  return { sizes: toks.map((t) => t.length), read: (i, start, n) => toks[i].subarray(start, start + n) };
}

export interface LoaderOptions {
  /** Batch size and sequence length: each batch is B windows of T inputs (and T shifted targets). */
  B: number;
  T: number;
  mode: 'sequential' | 'random';
  /** Random mode's seed (default 1337). */
  seed?: number;
  /** Stop (next() returns null) after this many epochs; random mode counts B*T tokens per batch. Default: never. */
  epochs?: number;
  /** The model's vocab_size: every token served must be below it (a shard of another tokenizer is an error). */
  vocabSize?: number;
  /** Random mode: whole aligned windows, uniformly over the window indices (default false: any offset). */
  aligned?: boolean;
}

export interface LoaderState {
  version: 1;
  mode: 'sequential' | 'random';
  B: number;
  T: number;
  seed: number;
  /** Batches served. */
  step: number;
  /** Completed passes over the data (sequential) or floor(tokens served / tokens held) (random). */
  epoch: number;
  /** Sequential cursor: shard index and token position. */
  shard: number;
  pos: number;
  /** xoshiro128** state (random mode). */
  rng: [number, number, number, number];
  /** Random mode over aligned windows (absent otherwise, so other states stay as they were). */
  aligned?: true;
}

/** windows: the global index of each row's aligned window (sequential and aligned random batches) */
export interface Batch { x: Int32Array; y: Int32Array; step: number; epoch: number; windows?: number[] }

/** aligned windows of T+1 tokens (window i = tokens [i*T, i*T+T]) in a shard of n tokens */
export const alignedWindows = (n: number, T: number): number => Math.floor(Math.max(0, n - 1) / T);

/** splitmix32, to seed xoshiro128** from one 32-bit seed */
function seedRng(seed: number): [number, number, number, number] {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  return [next(), next(), next(), next()];
}

export class ShardLoader {
  private readonly st: LoaderState;
  private readonly total: number;
  private readonly starts: number[]; // random mode: prefix sums of valid window starts per shard
  private readonly wins: number[];   // prefix sums of aligned windows per shard

  constructor(readonly source: ShardSource, opts: LoaderOptions, state?: LoaderState) {
    const { B, T, mode } = opts;
    if (!(Number.isInteger(B) && B > 0 && Number.isInteger(T) && T > 0)) fail(`loader: B and T must be positive integers, got B=${B} T=${T}`);
    if (mode !== 'sequential' && mode !== 'random') fail(`loader: mode must be 'sequential' or 'random', got '${mode}'`);
    const seed = (opts.seed ?? 1337) >>> 0;
    this.total = source.sizes.reduce((a, b) => a + b, 0);
    this.starts = [0];
    for (const n of source.sizes) this.starts.push(this.starts[this.starts.length - 1] + Math.max(0, n - T));
    this.wins = [0];
    for (const n of source.sizes) this.wins.push(this.wins[this.wins.length - 1] + alignedWindows(n, T));
    const aligned = mode === 'random' && !!opts.aligned;
    if (opts.aligned && mode !== 'random') fail(`loader: \`aligned\` applies to random mode, not ${mode}`, 'sequential batches are aligned windows already');
    const need = mode === 'sequential' ? B * T + 1 : T + 1;
    if (!source.sizes.some((n) => n >= need)) {
      fail(`loader: no shard holds ${need} tokens (${mode} batches of B=${B}, T=${T}); the largest has ${Math.max(0, ...source.sizes)}`,
        'pack more text, or use smaller B/T (or shardTokens)');
    }
    if (state) {
      if (state.version !== 1 || state.mode !== mode || state.B !== B || state.T !== T || state.seed !== seed || !!state.aligned !== aligned) {
        const al = (a: boolean) => (a ? ' aligned' : '');
        fail(`loader: the saved state (${state.mode}${al(!!state.aligned)}, B=${state.B}, T=${state.T}, seed=${state.seed}) is for another loader ` +
          `(${mode}${al(aligned)}, B=${B}, T=${T}, seed=${seed})`, 'resume with the options the state was saved with');
      }
      if (state.shard >= source.sizes.length) fail(`loader: the saved state points at shard ${state.shard} of ${source.sizes.length}`, 'resume over the same shards');
      this.st = { ...state, rng: [...state.rng] as LoaderState['rng'] };
    } else {
      this.st = { version: 1, mode, B, T, seed, step: 0, epoch: 0, shard: 0, pos: 0, rng: seedRng(seed), ...(aligned ? { aligned: true as const } : {}) };
    }
    this.epochs = opts.epochs ?? Infinity;
    if (opts.vocabSize !== undefined && !(Number.isInteger(opts.vocabSize) && opts.vocabSize > 0)) {
      fail(`loader: \`vocabSize\` must be a positive integer, got ${opts.vocabSize}`, "pass the model's vocab_size");
    }
    this.vocabSize = opts.vocabSize ?? Infinity;
  }

  private readonly epochs: number;
  private readonly vocabSize: number;

  /** n tokens of shard i from the source, checked: as many as asked, each below the vocabulary */
  private async window(i: number, start: number, n: number): Promise<ShardTokens> {
    const buf = await this.source.read(i, start, n);
    if (buf.length !== n) {
      fail(`loader: shard ${i} gave ${buf.length} tokens at ${start} where ${n} were asked for (it holds ${this.source.sizes[i]})`,
        'the shard changed after it was opened, or the ShardSource returns short windows');
    }
    for (let k = 0; k < n; k++) {
      if (buf[k] >= this.vocabSize) {
        fail(`loader: ${this.source.names?.[i] ?? `shard ${i}`} holds the token ${buf[k]} at position ${start + k}, not below the model's vocab_size ${this.vocabSize}`,
          'pack the text again with the tokenizer of this model');
      }
    }
    return buf;
  }

  /** A JSON-serializable copy of the cursor. */
  state(): LoaderState { return { ...this.st, rng: [...this.st.rng] as LoaderState['rng'] }; }

  get step(): number { return this.st.step; }
  get epoch(): number { return this.st.epoch; }

  /** xoshiro128**: next u32 */
  private u32(): number {
    const s = this.st.rng;
    const r = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >>> 21);
    for (let i = 0; i < 4; i++) s[i] >>>= 0;
    return r;
  }

  /** uniform integer in [0, n), n < 2^53 (53 random bits, so the bias is below 2^-20 for any corpus) */
  private below(n: number): number {
    const x = (this.u32() >>> 5) * 67108864 + (this.u32() >>> 6); // 53 bits
    return Math.floor((x / 9007199254740992) * n);
  }

  /** The next batch, or null once `epochs` epochs are done. */
  async next(): Promise<Batch | null> {
    const { B, T } = this.st;
    if (this.st.epoch >= this.epochs) return null;
    const x = new Int32Array(B * T), y = new Int32Array(B * T), windows: number[] = [];
    if (this.st.mode === 'sequential') {
      const n = B * T + 1, sizes = this.source.sizes;
      // skip shards (and wrap epochs) until a whole batch fits
      for (let guard = 0; this.st.pos + n > sizes[this.st.shard]; guard++) {
        this.st.shard++;
        this.st.pos = 0;
        if (this.st.shard === sizes.length) {
          this.st.shard = 0;
          this.st.epoch++;
          if (this.st.epoch >= this.epochs) return null;
        }
        if (guard > 2 * sizes.length) fail('loader: no shard holds a whole batch'); // unreachable: checked above
      }
      const buf = await this.window(this.st.shard, this.st.pos, n);
      for (let i = 0; i < B * T; i++) { x[i] = buf[i]; y[i] = buf[i + 1]; }
      for (let b = 0; b < B; b++) windows.push(this.wins[this.st.shard] + this.st.pos / T + b); // pos is a multiple of B*T
      this.st.pos += B * T;
    } else if (this.st.aligned) {
      const total = this.wins[this.wins.length - 1];
      for (let b = 0; b < B; b++) {
        const r = this.below(total);
        const s = this.shardOf(this.wins, r);
        const buf = await this.window(s, (r - this.wins[s]) * T, T + 1);
        for (let t = 0; t < T; t++) { x[b * T + t] = buf[t]; y[b * T + t] = buf[t + 1]; }
        windows.push(r);
      }
      this.st.epoch = Math.floor(((this.st.step + 1) * B * T) / this.total);
    } else {
      const total = this.starts[this.starts.length - 1];
      for (let b = 0; b < B; b++) {
        const r = this.below(total);
        const lo = this.shardOf(this.starts, r);
        const buf = await this.window(lo, r - this.starts[lo], T + 1);
        for (let t = 0; t < T; t++) { x[b * T + t] = buf[t]; y[b * T + t] = buf[t + 1]; }
      }
      this.st.epoch = Math.floor(((this.st.step + 1) * B * T) / this.total);
    }
    this.st.step++;
    const out: Batch = { x, y, step: this.st.step - 1, epoch: this.st.mode === 'sequential' ? this.st.epoch : Math.floor(((this.st.step - 1) * B * T) / this.total) };
    if (windows.length) out.windows = windows;
    return out;
  }

  /** the shard whose range in the prefix sums `at` holds r (the last such shard: empty ones are skipped) */
  private shardOf(at: number[], r: number): number {
    let lo = 0, hi = this.source.sizes.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (at[mid] <= r) lo = mid; else hi = mid - 1; }
    return lo;
  }
}
