// env: what runtime we are in, computed once (the transformers.js `apis` pattern). No other file
// looks at `process`, `Deno` or `window` directly.
const g = globalThis as any;

export const env = Object.freeze({
  isDeno: typeof g.Deno !== 'undefined',
  isNode: typeof g.Deno === 'undefined' && typeof g.process?.versions?.node === 'string',
  isBrowser: typeof g.Deno === 'undefined' && (typeof g.window !== 'undefined' || typeof g.WorkerGlobalScope !== 'undefined'),
  /** navigator.gpu where the runtime has it (browsers, web workers, Deno); undefined in Node. */
  navigatorGpu: (g.navigator?.gpu as GPU | undefined) ?? undefined,
});

export function runtimeName(): string {
  return env.isDeno ? 'deno' : env.isNode ? 'node' : env.isBrowser ? 'browser' : 'unknown';
}
