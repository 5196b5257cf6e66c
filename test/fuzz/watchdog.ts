// fuzz/watchdog: a case that never returns (an infinite or exponential loop) blocks the event loop, so no timer
// of the test can fire and the run would hang for good. This watchdog thread sees the case's start time in
// shared memory; past `limitMs` it writes the case out (stderr and `out`) and kills the process, so the run
// fails at once, naming the case, instead of hanging.
import { Worker } from 'node:worker_threads';

const CODE = `
const { workerData } = require('node:worker_threads');
const { writeSync, writeFileSync } = require('node:fs');
const { sab, limitMs, out } = workerData;
const started = new Float64Array(sab, 0, 1), len = new Int32Array(sab, 8, 1), text = new Uint8Array(sab, 12);
const nap = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  Atomics.wait(nap, 0, 0, 250);
  const t = started[0];
  if (t > 0 && Date.now() - t > limitMs) {
    const what = new TextDecoder().decode(text.slice(0, len[0]));
    const msg = 'fuzz watchdog: a case has run for ' + (Date.now() - t) + ' ms (a hang): ' + what + '\\n';
    writeSync(2, msg);
    try { writeFileSync(out, JSON.stringify({ hang: what, ms: Date.now() - t }) + '\\n'); } catch {}
    process.kill(process.pid, 'SIGKILL');
  }
}`;

export interface Watchdog { start(what: string): void; stop(): void; close(): Promise<void> }

export function watchdog(limitMs: number, out: string): Watchdog {
  const sab = new SharedArrayBuffer(12 + 4096);
  const started = new Float64Array(sab, 0, 1), len = new Int32Array(sab, 8, 1), text = new Uint8Array(sab, 12);
  const w = new Worker(CODE, { eval: true, workerData: { sab, limitMs, out } });
  w.unref();
  const enc = new TextEncoder();
  return {
    start(what) {
      const { written } = enc.encodeInto(what.slice(0, 1000), text);
      len[0] = written;
      started[0] = Date.now();
    },
    stop() { started[0] = 0; },
    async close() { started[0] = 0; await w.terminate(); },
  };
}
