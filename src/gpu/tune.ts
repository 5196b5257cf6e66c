// tune: which variant of a kernel runs, per adapter and shape class. A launcher asks pick() with the
// variants valid for its shapes (best guess first) and a bench closure; the answer is, in order: a
// variant forced by the caller (GpuOptions.force, e.g. INHERITUNE_MATMUL in Node), a choice already
// made for this key (tuned, loaded from the on-disk cache, or restored from a checkpoint), or the first
// candidate, in which case the key waits for tune(). tune() times every candidate of the waiting keys on
// a capped problem of their shape class, checks that each variant computes what the last one (the one
// with the fewest assumptions) does (a variant that disagrees, e.g. a subgroup layout this adapter does
// not have, is never chosen), and keeps the fastest. The variants of one kernel sum in the same order
// (bar the tensor-core matmul, whose f32 sums run in the hardware's order), so a choice changes speed,
// not results; choices are still recorded with checkpoints (used()) so that a resumed run uses the same.
import { fail } from '../util/errors.js';

/** a closure that runs one variant once at the tuning shape, and reads its output back */
export interface Bench { run(variant: string): void; read(): Promise<Float32Array>; release(): void }

/** operands for a Bench: a fixed LCG stream in [-0.5, 0.5), so every run of the tuner times the same numbers */
export function benchOperands(...sizes: number[]): Float32Array[] {
  let s = 1;
  return sizes.map((n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5));
}

/** persistent choices per adapter (Node: src/node/tunecache.ts, a JSON file in the cache directory) */
export interface TuneCache { load(adapter: string): Record<string, string>; save(adapter: string, choices: Record<string, string>): void }

interface Waiting { candidates: string[]; bench: () => Bench }

export class Tuner {
  private choices = new Map<string, string>();
  private usedKeys = new Map<string, string>();
  private waiting = new Map<string, Waiting>();

  constructor(private adapter: string, private force: Record<string, string> = {}, private cache?: TuneCache) {
    for (const [k, v] of Object.entries(cache?.load(adapter) ?? {})) if (typeof v === 'string') this.choices.set(k, v);
  }

  /**
   * The variant to run for `op` on shape class `key`. candidates: the variants to tune between, best
   * guess first; fallback: the variant that runs any shape (what a forced variant that cannot run this
   * shape becomes).
   */
  pick(op: string, key: string, candidates: string[], fallback: string, bench: () => Bench): string {
    const forced = this.force[op];
    let v: string;
    if (forced !== undefined && forced !== 'auto') {
      v = candidates.includes(forced) || forced === fallback ? forced : fallback;
    } else if (candidates.length === 0) {
      v = fallback;
    } else {
      const known = this.choices.get(`${op}:${key}`);
      if (known !== undefined && candidates.includes(known)) v = known;
      else {
        v = candidates[0];
        if (candidates.length > 1) this.waiting.set(`${op}:${key}`, { candidates, bench });
      }
    }
    this.usedKeys.set(`${op}:${key}`, v);
    return v;
  }

  /** keys seen but not chosen yet */
  get pending(): number {
    return this.waiting.size;
  }

  /** time the candidates of every waiting key and keep the fastest that agrees with the first */
  async tune(sync: () => Promise<void>): Promise<void> {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const [key, w] of waiting) {
      const b = w.bench();
      try {
        // compile, warm up and check every candidate, then time them round-robin (the best of 3 runs of
        // each, interleaved), so that a burst of load on a shared machine slows all of them, not one;
        // a candidate over twice the best after a run drops out
        // the reference is the LAST candidate: launchers list the variant with the fewest assumptions (no
        // subgroup layout, no subgroup width, f32 sums in order) last, so a variant whose assumption fails
        // on this adapter is the one dropped, not the ones that agree with each other
        const ms = new Map<string, number>(), checkOrder = [...w.candidates.slice(-1), ...w.candidates.slice(0, -1)];
        let ref: Float32Array | null = null;
        const good = new Set<string>();
        for (const v of checkOrder) {
          b.run(v); await sync();
          const out = await b.read();
          if (ref && !agrees(out, ref)) continue;    // wrong on this adapter: never chosen
          ref ??= out;
          good.add(v);
        }
        const ok = w.candidates.filter((v) => good.has(v));
        for (let r = 0; r < 3; r++) {
          const best = Math.min(Infinity, ...ms.values());
          for (const v of ok) {
            if ((ms.get(v) ?? 0) > 2 * best) continue;
            const t0 = performance.now();
            b.run(v);
            await sync();
            ms.set(v, Math.min(ms.get(v) ?? Infinity, performance.now() - t0));
          }
        }
        const best = ok.reduce((x, v) => (ms.get(v)! < ms.get(x)! ? v : x), ok[0]);
        this.choices.set(key, best);
      } finally {
        b.release();
      }
    }
    if (waiting.length) this.cache?.save(this.adapter, Object.fromEntries(this.choices));
  }

  /** the choices made for every key used so far (saved with a checkpoint) */
  used(): Record<string, string> {
    return Object.fromEntries(this.usedKeys);
  }

  /** restore choices saved by used() (resume); they win over tuning */
  use(saved: Record<string, string>): void {
    for (const [k, v] of Object.entries(saved)) {
      if (typeof v !== 'string') fail(`kernel choice for ${k} is not a variant name`, 'the checkpoint\'s trainer.json is damaged');
      this.choices.set(k, v);
    }
  }
}

// the same numbers up to float rounding of a different (but fixed) summation order
function agrees(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) if (!(Math.abs(a[i] - b[i]) <= 1e-4 * scale + 1e-6)) return false;
  return true;
}
