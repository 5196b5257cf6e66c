// readback: Gpu.read's staging. One MAP_READ buffer of at most READ_CHUNK floats, kept between reads and
// reused (a view larger than it is read piece by piece), so that a checkpoint's many slice reads do not
// each make and free their own: on a CPU adapter (lavapipe) a freed buffer's pages stay in the driver's
// memory until a later buffer reuses the range, so per-read staging added to what the process holds.
// Reads that overlap (not awaited in turn) get a staging buffer of their own.
import type { View } from './view.js';
import { slice } from './view.js';

/** a staging buffer for reads back to the host (Gpu.reader) */
export interface Reader { read(v: View): Promise<Float32Array>; release(): void }

/** floats per piece of a large read: 64 MiB of staging at most */
export const READ_CHUNK = 1 << 24;

export class ReadBack {
  private kept: { r: Reader; numel: number } | null = null;
  private busy = false;

  constructor(private readonly make: (numel: number) => Reader) {}

  async read(v: View): Promise<Float32Array> {
    const per = Math.min(Math.max(v.numel, 1), READ_CHUNK), shared = !this.busy;
    if (shared && (!this.kept || this.kept.numel < per)) {
      this.kept?.r.release();
      this.kept = { r: this.make(per), numel: per };
    }
    const r = shared ? this.kept!.r : this.make(per);
    if (shared) this.busy = true;
    try {
      if (per >= v.numel) return await r.read(v);
      const out = new Float32Array(v.numel);
      for (let at = 0; at < v.numel; at += per) out.set(await r.read(slice(v, at, Math.min(per, v.numel - at))), at);
      return out;
    } catch (e) {
      if (shared) this.destroy();   // a failed read's staging is not trusted again
      throw e;
    } finally {
      if (shared) this.busy = false;
      else r.release();
    }
  }

  destroy(): void {
    this.kept?.r.release();
    this.kept = null;
  }
}
