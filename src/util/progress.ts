// progress: a one-line progress bar for long work (eval windows, training steps). Isomorphic: it
// writes through a callback, which the Node CLI points at a TTY stderr and leaves off otherwise.
export class Progress {
  private start = Date.now();
  private last = 0;

  constructor(private label: string, public total: number, private write: ((s: string) => void) | null) {}

  update(done: number, extra = ''): void {
    if (!this.write) return;
    const now = Date.now();
    if (done < this.total && now - this.last < 100) return; // at most 10 redraws a second
    this.last = now;
    const frac = this.total > 0 ? done / this.total : 1;
    const width = 30;
    const fill = Math.round(frac * width);
    const secs = (now - this.start) / 1000;
    const eta = frac > 0 ? secs / frac - secs : 0;
    this.write(`\r${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${this.total} ` +
      `${secs.toFixed(1)}s${done < this.total ? ` eta ${eta.toFixed(1)}s` : ''} ${extra}\x1b[K`);
    if (done >= this.total) this.write('\n');
  }
}
