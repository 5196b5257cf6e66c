// settle: how the Node entry awaits Dawn. Dawn's Node binding resolves its promises (onSubmittedWorkDone,
// mapAsync, popErrorScope) by polling the device from a callback that re-posts itself with the global
// setImmediate for as long as one is pending: a busy loop that holds a CPU core for the whole wait. On a
// CPU driver (lavapipe, 2 cores) that core is taken from the driver's own worker threads, and a training
// step took 1.6x as long as its work (the small bench config: ~195 ms awaited, ~120 ms with the main
// thread asleep). While settle() awaits, setImmediate callbacks posted after the first SPIN_MS run from
// setTimeout instead (Node's 1 ms minimum), so the poll sleeps between looks: at most ~1 ms more latency
// for a wait that outlasts SPIN_MS, nothing for a shorter one. Outside a wait nothing is changed; other
// code's setImmediate during a wait is served the same way, later by at most a millisecond.
const SPIN_MS = 2;

let waiting = 0;
let since = 0;
let original: { set: typeof setImmediate; clear: typeof clearImmediate } | null = null;
const deferred = new WeakSet<object>();

export async function settle<T>(p: Promise<T>): Promise<T> {
  if (waiting++ === 0) begin();
  try {
    return await p;
  } finally {
    if (--waiting === 0) end();
  }
}

function begin(): void {
  since = performance.now();
  original = { set: globalThis.setImmediate, clear: globalThis.clearImmediate };
  const { set, clear } = original;
  const gentle = (fn: (...a: unknown[]) => void, ...args: unknown[]) => {
    if (performance.now() - since < SPIN_MS) return set(fn, ...args);
    const t = setTimeout(fn, 0, ...args);
    deferred.add(t);
    return t;
  };
  globalThis.setImmediate = Object.assign(gentle, { __promisify__: set.__promisify__ }) as unknown as typeof setImmediate;
  globalThis.clearImmediate = ((h: NodeJS.Immediate | NodeJS.Timeout | undefined) => {
    if (h && deferred.has(h)) clearTimeout(h as NodeJS.Timeout);
    else clear(h as NodeJS.Immediate | undefined);
  }) as typeof clearImmediate;
}

function end(): void {
  if (!original) return;
  globalThis.setImmediate = original.set;
  globalThis.clearImmediate = original.clear;
  original = null;
}
