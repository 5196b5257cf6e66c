// settle (src/node/settle.ts): a poller that re-posts itself with the global setImmediate until its
// work is done (what Dawn's Node binding does while a promise of its is pending) spins without it and
// sleeps between looks with it; values and errors pass through; nothing stays patched after a wait.
import { describe, it, expect } from 'vitest';
import { settle } from '../src/node/settle.js';

// Dawn's pattern: poll, and while the work is pending, post the next poll with setImmediate
function dawnLikeWait(ms: number): { done: Promise<number>; polls: () => number } {
  let polls = 0, finished = false;
  setTimeout(() => { finished = true; }, ms);
  const done = new Promise<number>((resolve) => {
    const poll = () => { polls++; if (finished) resolve(ms); else globalThis.setImmediate(poll); };
    globalThis.setImmediate(poll);
  });
  return { done, polls: () => polls };
}

describe('settle: awaiting a busy-polling promise without a busy loop', () => {
  it('the poller spins when awaited directly and mostly sleeps under settle', async () => {
    const busy = dawnLikeWait(100);
    expect(await busy.done).toBe(100);
    const calm = dawnLikeWait(100);
    expect(await settle(calm.done)).toBe(100);
    // it spins for the first 2 ms of the 100 (a wait that short keeps its latency), then polls from
    // timers: ~1/50 of the busy loop's polls, which keep a core at 100 % for the whole wait
    expect(busy.polls()).toBeGreaterThan(10 * calm.polls());
  });

  it('passes values and errors through, nests, and restores setImmediate / clearImmediate', async () => {
    const [set, clear] = [globalThis.setImmediate, globalThis.clearImmediate];
    const inner = settle(new Promise((r) => setTimeout(() => r('inner'), 10)));
    await expect(settle(Promise.reject(new Error('lost device')))).rejects.toThrow('lost device');
    expect(globalThis.setImmediate).not.toBe(set); // the inner wait is still pending
    expect(await inner).toBe('inner');
    expect(globalThis.setImmediate).toBe(set);
    expect(globalThis.clearImmediate).toBe(clear);
  });

  it('a callback posted and cleared during a wait never runs', async () => {
    let ran = false;
    await settle(new Promise<void>((resolve) => {
      setTimeout(() => {
        const h = globalThis.setImmediate(() => { ran = true; });
        globalThis.clearImmediate(h);
        setTimeout(resolve, 10);
      }, 5);
    }));
    expect(ran).toBe(false);
  });
});
