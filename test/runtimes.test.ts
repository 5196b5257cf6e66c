// The browser/Deno bundle (dist/index.mjs, built by `npm test`) outside Node: stories260K logits,
// full model and first-k sub-models, must match the PyTorch goldens to 1e-4
//   (a) in Deno (test/deno/forward.ts, Deno's own WebGPU), and
//   (b) in headless Chromium, inside a module web worker (test/browser/, driven by driver.ts).
// A missing deno or chromium skips its test, unless INHERITUNE_REQUIRE_RUNTIMES=1 (CI), which
// turns the skip into a failure. `bash scripts/setup.sh` installs both.
import { describe, expect, test } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, SHARED } from './helpers.js';
import { CHROMIUM_ARGS, findChromium, runBrowserCheck } from './browser/driver.js';

const REQUIRE = process.env.INHERITUNE_REQUIRE_RUNTIMES === '1';
const ATOL = 1e-4;
const CASES = ['full', 'k1', 'k2', 'k3', 'k4', 'k5'];
const BUNDLE = join(REPO, 'dist/index.mjs');

/** skip (or, with INHERITUNE_REQUIRE_RUNTIMES=1, fail) */
function missing(ctx: { skip: (note?: string) => never }, what: string): never {
  if (REQUIRE) throw new Error(`${what} (INHERITUNE_REQUIRE_RUNTIMES=1)\n---> HINT: run \`bash scripts/setup.sh\``);
  console.warn(`skipping: ${what}`);
  return ctx.skip(what);
}

/** the npm devDependency's deno (what `npx deno` runs), else one on PATH */
function findDeno(): string | null {
  for (const d of [join(REPO, 'node_modules/.bin/deno'), 'deno']) {
    const r = spawnSync(d, ['--version'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } });
    if (r.status === 0) return d;
  }
  return null;
}

/** diag: extra lines (browser console, request log) appended to every failure message */
function expectGoldens(result: any, label: string, diag = '') {
  expect(result, `${label}: no result${diag}`).toBeTruthy();
  expect(result.error, `${label}: ${result.error}${diag}`).toBeUndefined();
  expect(result.adapter, `${label}: no adapter${diag}`).toBeTruthy();
  expect(result.cases.map((c: any) => c.name), `${label}: cases${diag}`).toEqual(CASES);
  for (const c of result.cases) {
    expect(c.n, `${label} ${c.name}: logits length${diag}`).toBe(5 * 512);
    expect(c.maxAbsDiff, `${label} ${c.name}: max |logit - golden|${diag}`).toBeLessThanOrEqual(ATOL);
  }
  // golden.json prompt_argmax for the full model
  expect(result.cases[0].argmax, `${label}: argmax${diag}`).toEqual([403, 407, 261, 378, 432]);
  expect(result.ok, `${label}: ok${diag}`).toBe(true);
}

describe('runtimes: the browser/Deno bundle outside Node', () => {
  test('dist/index.mjs is built', () => {
    expect(existsSync(BUNDLE), `${BUNDLE} is missing: run \`npm run build\``).toBe(true);
  });

  test('Deno: stories260K logits match the goldens (full and k=1..5)', async (ctx) => {
    const deno = findDeno();
    if (!deno) missing(ctx, 'deno not found (npm devDependency `deno` or deno on PATH)');
    // flags: see the header of test/deno/forward.ts (no --unstable-webgpu needed on Deno 2.x)
    const args = ['run', '--no-prompt', `--allow-read=${SHARED}`, join(REPO, 'test/deno/forward.ts'), SHARED];
    const t0 = Date.now();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((ok) => {
      execFile(deno!, args, {
        cwd: REPO, timeout: 120_000, maxBuffer: 16 << 20,
        env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
      }, (err, stdout, stderr) => ok({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr }));
    });
    const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    const result = line ? JSON.parse(line) : null;
    console.log(`deno (${Date.now() - t0} ms): ${line ?? '(no JSON line)'}`);
    if (!result) throw new Error(`deno printed no result (exit ${code})\nstdout: ${stdout}\nstderr: ${stderr}`);
    expectGoldens(result, 'deno');
    expect(result.runtime).toBe('deno');
    expect(code, stderr).toBe(0);
  });

  test('Deno: inherit + training steps with the same bundle (loss falls, inherited logits = golden)', async (ctx) => {
    const deno = findDeno();
    if (!deno) missing(ctx, 'deno not found (npm devDependency `deno` or deno on PATH)');
    const args = ['run', '--no-prompt', `--allow-read=${SHARED}`, join(REPO, 'test/deno/train.ts'), SHARED];
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((ok) => {
      execFile(deno!, args, { cwd: REPO, timeout: 180_000, maxBuffer: 16 << 20, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' } },
        (_err, stdout, stderr) => ok({ stdout, stderr }));
    });
    const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    expect(line, `deno printed no result\n${stderr}`).toBeTruthy();
    const r = JSON.parse(line!);
    console.log(`deno train: ${line}`);
    expect(r.error).toBeUndefined();
    expect(r.runtime).toBe('deno');
    expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(r.losses.length).toBe(6);
    expect(r.losses[5]).toBeLessThan(r.losses[0]);
  });

  test('Chromium: stories260K logits in a web worker match the goldens (full and k=1..5)', async (ctx) => {
    const exe = findChromium();
    if (!exe) missing(ctx, 'chromium not found (set CHROMIUM_PATH, or apt-get install chromium)');
    const outDir = join(REPO, 'test-output');
    mkdirSync(outDir, { recursive: true });
    const run = await runBrowserCheck({ repo: REPO, shared: SHARED, executablePath: exe!, screenshot: join(outDir, 'browser.png'), timeoutMs: 90_000 });
    console.log(`chromium ${CHROMIUM_ARGS.join(' ')} (${run.ms} ms): ${JSON.stringify(run.result)}`);
    const diag = `\nconsole:\n${run.console.join('\n')}\nrequests:\n${run.requests.join('\n')}`;
    expect(run.result, `chromium: no window.__result${diag}`).toBeTruthy();
    expectGoldens(run.result, 'chromium', diag);
    expect(run.result.inWorker, `chromium: the check must run in a web worker${diag}`).toBe(true);
    expect(run.result.runtime).toBe('browser');
    expect(existsSync(join(outDir, 'browser.png'))).toBe(true);
  });
});
