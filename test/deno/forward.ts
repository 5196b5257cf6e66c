// Deno check of the browser/Deno bundle: stories260K logits (full model and first-k sub-models,
// k = 1..5) on Deno's own WebGPU (navigator.gpu, wgpu) must match the PyTorch goldens to 1e-4.
//
//   npx deno run --no-prompt --allow-read=<data dir> test/deno/forward.ts [<data dir>]
//
// <data dir> is shared/data (default: ../shared/data beside the repo, resolved from this file).
// Flags, for Deno 2.9:
//   --allow-read=<data dir>  the only permission needed: reading the checkpoint and goldens.
//                            Static/dynamic imports of local modules need no read permission,
//                            and navigator.gpu needs no permission.
//   --no-prompt              fail instead of asking for a permission (CI has no stdin).
//   no --unstable-webgpu     WebGPU is stable in Deno 2.x; the flag is accepted but unnecessary.
// Prints one JSON line {ok, runtime, adapter, cases: [{name, maxAbsDiff, ok}], ...}; exits 1 on
// any mismatch or error. DENO_NO_UPDATE_CHECK=1 in the environment keeps Deno offline.

// (typed loosely on purpose: this file is also seen by the Node-side `tsc`, which knows no Deno)
declare const Deno: {
  args: string[];
  readFile(path: string): Promise<Uint8Array>;
  exit(code: number): never;
};

// @ts-ignore -- resolved by Deno; Node's tsc has no declarations for the built bundle
import * as api from '../../dist/index.mjs';
// @ts-ignore -- plain JS shared with the browser worker
import * as core from '../browser/core.js';

// static imports on purpose: they need no --allow-read (a computed dynamic import would)
const dataDir = (Deno.args[0] ?? decodeURIComponent(new URL('../../../shared/data', import.meta.url).pathname)).replace(/\/+$/, '');
const base = `${dataDir}/stories260k`;

let result: Record<string, unknown>;
try {
  const model = await Deno.readFile(`${base}/stories260K.bin`);
  const goldens: Record<string, Uint8Array> = {};
  for (const c of core.CASES) goldens[c.file] = await Deno.readFile(`${base}/golden/${c.file}`);
  result = await core.runForwardCheck(api, model, goldens);
} catch (e) {
  result = { ok: false, error: String((e as Error)?.stack ?? e) };
}
console.log(JSON.stringify(result));
Deno.exit(result.ok ? 0 : 1);
