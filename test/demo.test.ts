// The demo page (dist/demo/, built by `npm run build`) in headless Debian Chromium, driven through
// its own controls: load stories260K (llama2.c .bin + tok512.bin) and a TinyStories slice from file
// inputs, inherit k=3, and check the worker's logits of the untrained inherited model against the
// PyTorch golden (first 3 blocks) and against Node's own run of the same inherited model (1e-4);
// train 20 steps in the worker with a cancel mid-run and a resume (the step count must continue),
// then the random-init baseline; the training loss must fall; the Sample card at temperature 0 gives
// the greedy ids of the worker's logits. Screenshot: test-output/demo.png.
// Then through the worker API: download bytes, save to OPFS and load back, load an HF directory
// over HTTP Range reads (a plain URL and a Hub layout), and an error crossing the worker boundary
// as an InherituneError.
// First, the one-click start a visitor without files gets: the built-in reference and Brown text.
// A missing chromium skips, unless INHERITUNE_REQUIRE_RUNTIMES=1 (as test/runtimes.test.ts).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parseAst } from 'rollup/parseAst';
import { parseLlama2c, Model, hfFiles, type Gpu } from '../src/node/index.js';
import { inherit } from '../src/method/inherit.js';
import { REPO, SHARED, testGpu } from './helpers.js';
import { CHROMIUM_ARGS, findChromium } from './browser/driver.js';
import { startDemoServer, type DemoServer } from './browser/demo_driver.js';

const REQUIRE = process.env.INHERITUNE_REQUIRE_RUNTIMES === '1';
const DIR = join(SHARED, 'stories260k');
const PROMPT = [1, 403, 407, 261, 378];
const ATOL = 1e-4;
const STEPS = 20;
const OUT = join(REPO, 'test-output');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) { const d = Math.abs(a[i] - b[i]); if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d; }
  return m;
}

const f32 = (file: string) => { const b = readFileSync(file); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };

/** module specifiers a bundle loads (static, dynamic, require) */
function imports(code: string): string[] {
  const out: string[] = [];
  const walk = (n: any): void => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) { n.forEach(walk); return; }
    if (/^(Import|ExportNamed|ExportAll)Declaration$/.test(n.type) && n.source) out.push(String(n.source.value));
    else if (n.type === 'ImportExpression') out.push(n.source.type === 'Literal' ? String(n.source.value) : '<computed>');
    else if (n.type === 'CallExpression' && n.callee.type === 'Identifier' && n.callee.name === 'require') out.push('require()');
    for (const k of Object.keys(n)) if (k !== 'type' && k !== 'start' && k !== 'end') walk(n[k]);
  };
  walk(parseAst(code));
  return out;
}

test('dist/demo: index.html, demo.mjs, worker.mjs, each self-contained (no Node built-ins, no imports)', () => {
  for (const f of ['index.html', 'demo.mjs', 'worker.mjs']) expect(existsSync(join(REPO, 'dist/demo', f)), `dist/demo/${f}: run \`npm run build\``).toBe(true);
  for (const f of ['demo.mjs', 'worker.mjs']) expect(imports(readFileSync(join(REPO, 'dist/demo', f), 'utf8')), f).toEqual([]);
  // the page itself stays small: no kernels, no wasm (those live in the worker)
  expect(readFileSync(join(REPO, 'dist/demo/demo.mjs'), 'utf8')).not.toMatch(/@compute|ASM_WASM/);
});

describe('demo page in Chromium (web worker, SwiftShader WebGPU)', () => {
  const exe = findChromium();
  let gpu: Gpu | null = null;
  let nodeLogits: Float32Array | null = null;
  let hfDir = '';
  let srv: DemoServer | null = null;
  let browser: Browser | null = null;
  let page: Page;
  const lines: string[] = [];
  const diag = () => `\nconsole:\n${lines.slice(-40).join('\n')}\nrequests:\n${srv?.log.slice(-30).join('\n')}`;

  beforeAll(async () => {
    if (!exe) return;
    // Node's run of the same inherited model, and an HF directory of it for the Range test
    const ref = parseLlama2c(new Uint8Array(readFileSync(join(DIR, 'stories260K.bin'))));
    const { checkpoint } = inherit(ref, { layers: 3 });
    gpu = await testGpu();
    if (gpu) {
      const m = Model.create(gpu, checkpoint);
      nodeLogits = await m.logits(PROMPT);
      m.destroy();
    }
    hfDir = mkdtempSync(join(tmpdir(), 'inheritune-demo-hf-'));
    for (const [f, parts] of Object.entries(hfFiles(checkpoint))) writeFileSync(join(hfDir, f), Buffer.concat(parts));
    writeFileSync(join(hfDir, 'tokenizer.bin'), readFileSync(join(DIR, 'tok512.bin')));
    srv = await startDemoServer({ repo: REPO, shared: SHARED, hf: { k3: hfDir, k3cut: hfDir },
      cutOnce: { path: /\/hub\/test\/k3cut\/resolve\/main\/model\.safetensors$/, bytes: 100_000 } });
    browser = await chromium.launch({ executablePath: exe, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('console', (m) => lines.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await srv?.close();
    gpu?.destroy();
    if (hfDir) rmSync(hfDir, { recursive: true, force: true });
  });

  /** wait for a condition on window.__demo.state; fail at once on a page error */
  async function until(cond: string, timeout = 60_000): Promise<void> {
    try {
      await page.waitForFunction(`(() => { const s = window.__demo && window.__demo.state; if (s && s.errors.length) return true; return ${cond}; })()`,
        null, { timeout, polling: 100 });
    } catch (e) {
      throw new Error(`timeout waiting for ${cond}: ${(e as Error).message.split('\n')[0]}${diag()}`);
    }
    const errors = await page.evaluate(() => (window as any).__demo.state.errors);
    expect(errors, `page errors${diag()}`).toEqual([]);
  }

  test('one click, no files: the built-in reference (assets/reference over Range reads) and the Brown text slices of dist/demo/', async (ctx) => {
    if (!exe) return ctx.skip('chromium not found');
    await page.goto(`${srv!.origin}/demo/index.html`, { timeout: 30_000 });
    await until('s.ready', 30_000);
    await page.click('#builtin');
    await until('s.analysis !== null');
    const s = await page.evaluate(() => { const st = (window as any).__demo.state; return { ref: st.ref, data: st.data, analysis: st.analysis, train: !(document.getElementById('train') as HTMLButtonElement).disabled }; });
    const shipped = JSON.parse(readFileSync(join(REPO, 'assets/reference/config.json'), 'utf8'));
    expect(s.ref.format).toBe('hf');
    expect(s.ref.config.nLayers).toBe(shipped.num_hidden_layers);
    expect(s.ref.config.vocabSize).toBe(256);
    expect(s.ref.tokenizer.files).toContain('tokenizer.json');
    // byte-level: one token per byte of each file, and the validation text is its own (not held out of the training text)
    expect(s.data).toEqual({ train_tokens: statSync(join(REPO, 'dist/demo/brown-train.txt')).size, val_tokens: statSync(join(REPO, 'dist/demo/brown-val.txt')).size, held_out: false });
    expect(s.analysis.blocks.length).toBe(shipped.num_hidden_layers);
    expect(s.train, 'Train is enabled').toBe(true);
    expect(srv!.log.filter((l) => /^206 GET \/assets\/reference\/model\.safetensors bytes=/.test(l)).length, `Range reads${diag()}`).toBeGreaterThan(0);

    // the distillation switch: 3 steps of the inherited model with the reference as teacher; each step
    // reports ce and kd, and its loss is (1 - A) ce + A kd at the worker's defaults (A 0.5, T 1)
    for (const [id, v] of [['steps', 3], ['batch', 2], ['seq', 32], ['eval-every', 0], ['val-windows', 2]] as const) await page.fill(`#${id}`, String(v));
    await page.uncheck('#baseline');
    await page.check('#distill');
    await page.click('#train');
    await until("s.phase === 'done'", 120_000);
    const kd = await page.evaluate(() => (window as any).__demo.state.runs.map((r: any) => ({ label: r.label, steps: r.steps.map((x: any) => ({ loss: x.loss, ce: x.ce, kd: x.kd })) })));
    expect(kd.length).toBe(1);
    expect(kd[0].label).toMatch(/inherited \+ KD$/);
    expect(kd[0].steps.length).toBe(3);
    for (const x of kd[0].steps) {
      expect(x.kd, 'a distilled step reports kd').toBeGreaterThan(0);
      expect(Math.abs(x.loss - (0.5 * x.ce + 0.5 * x.kd))).toBeLessThan(1e-4 * x.loss);
    }
  });

  test('load, inherit k=3 (logits = golden = Node), train with cancel + resume, baseline, screenshot; OPFS, Range, errors', async (ctx) => {
    if (!exe) {
      if (REQUIRE) throw new Error('chromium not found (INHERITUNE_REQUIRE_RUNTIMES=1)\n---> HINT: run `bash scripts/setup.sh`');
      return ctx.skip('chromium not found (set CHROMIUM_PATH, or apt-get install chromium)');
    }
    expect(existsSync(join(REPO, 'dist/demo/index.html')), 'dist/demo is missing: run `npm run build`').toBe(true);
    const t0 = Date.now();
    const mark = (what: string) => console.log(`demo: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await page.goto(`${srv!.origin}/demo/index.html`, { timeout: 30_000 });
    await until('s.ready', 30_000);
    const device = await page.textContent('#device');
    expect(device, 'the page names the adapter').toMatch(/WebGPU adapter .*swiftshader/i);

    // 1) the model and a text through the page's file inputs
    const text = readFileSync(join(SHARED, 'tinystories-sample/tinystories_val.txt'), 'utf8');
    const slice = text.slice(0, text.indexOf('\n', 100_000) + 1);
    await page.setInputFiles('#model-files', [join(DIR, 'stories260K.bin'), join(DIR, 'tok512.bin')]);
    await page.setInputFiles('#text-file', { name: 'tinystories.txt', mimeType: 'text/plain', buffer: Buffer.from(slice) });
    await page.click('#load');
    await until('s.analysis !== null');
    mark('loaded + analyzed');
    const st0 = await page.evaluate(() => { const s = (window as any).__demo.state; return { ref: s.ref, data: s.data, analysis: s.analysis }; });
    expect(st0.ref.format).toBe('llama2c');
    expect(st0.ref.config.nLayers).toBe(5);
    expect(st0.ref.tokenizer.files).toEqual(['tok512.bin']);
    expect(st0.data.train_tokens).toBeGreaterThan(STEPS * 2 * 33);
    expect(st0.analysis.blocks.map((b: any) => b.block)).toEqual([0, 1, 2, 3, 4]);
    for (const b of st0.analysis.blocks) expect(b.max_rank).toBeGreaterThanOrEqual(1);

    // 2) inherit k=3; the untrained model's logits from the worker
    await page.$eval('#k', (el: HTMLInputElement) => { el.value = '3'; el.dispatchEvent(new Event('input')); });
    await page.click('#inherit');
    await until('s.inherited !== null');
    const inh = await page.evaluate(() => (window as any).__demo.state.inherited);
    expect(inh.blocks).toEqual([0, 1, 2]);
    const logits: number[] = await page.evaluate(async (ids) => Array.from(await (window as any).__demo.worker.logits('inherited', ids)), PROMPT);
    const golden = f32(join(DIR, 'golden/prompt_logits_k3.f32'));
    expect(logits.length).toBe(PROMPT.length * 512);
    const dGolden = maxAbsDiff(logits, golden);
    console.log(`demo: worker k=3 logits vs PyTorch golden max|diff| ${dGolden.toExponential(2)}` +
      (nodeLogits ? `, vs Node ${maxAbsDiff(logits, nodeLogits).toExponential(2)}` : ' (no Node GPU: golden only)'));
    expect(dGolden).toBeLessThanOrEqual(ATOL);
    if (nodeLogits) expect(maxAbsDiff(logits, nodeLogits)).toBeLessThanOrEqual(ATOL);
    else if (process.env.INHERITUNE_REQUIRE_GPU === '1') throw new Error('no Node GPU for the Node-side logits');

    // 3) train (B=2, T=32), cancel mid-run, resume; then the baseline
    for (const [id, v] of [['steps', STEPS], ['batch', 2], ['seq', 32], ['eval-every', 5], ['val-windows', 4]] as const) await page.fill(`#${id}`, String(v));
    // the main thread stays free while the worker trains: record its long tasks (>= 50 ms)
    await page.evaluate(() => {
      const w = window as any;
      w.__longTasks = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) w.__longTasks.push(e.duration); }).observe({ type: 'longtask' });
    });
    await page.evaluate(() => { (window as any).__demo.cancelAfter = 5; }); // presses Cancel after step 5
    await page.click('#train');
    await until("s.phase === 'cancelled'");
    await page.evaluate(() => { (window as any).__demo.cancelAfter = undefined; });
    const cancelledAt: number = await page.evaluate(() => (window as any).__demo.state.runs[0].steps.length);
    mark(`cancelled after ${cancelledAt} steps`);
    expect(cancelledAt).toBeGreaterThanOrEqual(5);
    expect(cancelledAt).toBeLessThan(STEPS);
    expect(await page.isEnabled('#resume')).toBe(true);
    await page.click('#resume');
    await until("s.phase === 'done'", 120_000);
    mark('trained (inherited + baseline)');
    const runs = await page.evaluate(() => (window as any).__demo.state.runs.map((r: any) => ({
      model: r.model, done: r.done, initVal: r.initVal, steps: r.steps.map((s: any) => s.step), loss: r.steps.map((s: any) => s.loss),
      val: r.steps.filter((s: any) => s.val_loss !== undefined).map((s: any) => s.val_loss) })));
    const refVal = await page.evaluate(() => (window as any).__demo.state.refVal);
    const longTasks: number[] = await page.evaluate(() => (window as any).__longTasks);
    console.log(`demo: main-thread long tasks while training: ${longTasks.length}, longest ${Math.max(0, ...longTasks).toFixed(0)} ms`);
    expect(Math.max(0, ...longTasks), 'the main thread blocked while training').toBeLessThan(500);
    const [k3, base] = runs;
    // the step count continues across cancel + resume: 0..19, each once
    expect(k3.steps).toEqual(Array.from({ length: STEPS }, (_, i) => i));
    expect(k3.done).toBe(true);
    console.log(`demo: k=3 loss ${k3.loss[0].toFixed(4)} -> ${k3.loss.at(-1).toFixed(4)}, val ${k3.initVal.toFixed(4)} -> ${k3.val.at(-1).toFixed(4)}; ` +
      `baseline loss ${base.loss[0].toFixed(4)} -> ${base.loss.at(-1).toFixed(4)}; reference val ${refVal.toFixed(4)}`);
    expect(k3.loss.at(-1)).toBeLessThan(k3.loss[0]);
    expect(k3.val.length).toBe(STEPS / 5);
    expect(base.model).toBe('baseline');
    expect(base.steps).toEqual(Array.from({ length: STEPS }, (_, i) => i));
    expect(base.loss.at(-1)).toBeLessThan(base.loss[0]);
    // Inheritune's point, already at step 0: the inherited model starts far below random init
    expect(k3.initVal).toBeLessThan(base.initVal);
    expect((await page.innerHTML('#chart')).startsWith('<svg')).toBe(true);

    // the Sample card: the trained model at temperature 0 = greedy argmax of the worker's logits
    await page.selectOption('#sample-model', 'inherited');
    await page.fill('#sample-tokens', '12');
    await page.fill('#sample-temp', '0');
    await page.click('#sample');
    await until('s.sample.ids.length === 12 && !s.sample.running');
    const sample = await page.evaluate(async (prompt) => {
      const w = (window as any).__demo.worker, seq = [...prompt];
      for (let i = 0; i < 12; i++) {
        const l = await w.logits('inherited', seq) as Float32Array, o = (seq.length - 1) * 512;
        let b = 0;
        for (let v = 1; v < 512; v++) if (l[o + v] > l[o + b]) b = v;
        seq.push(b);
      }
      return { ids: (window as any).__demo.state.sample.ids, greedy: seq.slice(prompt.length), shown: document.getElementById('sample-out')!.textContent };
    }, PROMPT);
    expect(sample.ids).toEqual(sample.greedy);
    expect(sample.shown!.startsWith('Once upon a time')).toBe(true);
    mark('sampled');

    // 4) download: config.json + model.safetensors of the trained model, as blob links on the page
    await page.click('#download');
    await page.waitForSelector('#downloads a', { timeout: 30_000 });
    const files = await page.evaluate(async () => {
      const out: Record<string, { size: number; text?: string }> = {};
      for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>('#downloads a'))) {
        const b = await (await fetch(a.href)).blob();
        out[a.download] = { size: b.size, text: a.download.endsWith('.json') ? await b.text() : undefined };
      }
      return out;
    });
    expect(Object.keys(files).sort()).toEqual(['config.json', 'generation_config.json', 'inheritune.json', 'model.safetensors', 'model_config.yaml', 'special_tokens_map.json', 'tok512.bin', 'tokenizer.json', 'tokenizer_config.json']);
    expect(JSON.parse(files['config.json'].text!).num_hidden_layers).toBe(3);
    expect(JSON.parse(files['inheritune.json'].text!).blocks).toEqual([0, 1, 2]);
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'demo.png'), fullPage: true });

    // 5) OPFS round trip and an HF directory over HTTP Range, through the worker API
    const r = await page.evaluate(async (ids) => {
      const w = (window as any).__demo.worker;
      const trained = Array.from(await w.logits('inherited', ids) as Float32Array);
      const saved = await w.save({ model: 'inherited', to: 'opfs', name: 'k3-test' });
      const fromOpfs = await w.load({ source: 'opfs', name: 'k3-test' });
      const opfsLogits = Array.from(await w.logits('reference', ids) as Float32Array);
      const fromUrl = await w.load({ source: 'url', url: '/hf/k3/' });
      const urlLogits = Array.from(await w.logits('reference', ids) as Float32Array);
      const fromHub = await w.load({ source: 'hub', spec: 'hf:test/k3', endpoint: `${location.origin}/hub` });
      const hubLogits = Array.from(await w.logits('reference', ids) as Float32Array);
      // the Hub with the OPFS cache: the first load downloads, the second reads only OPFS
      const cached1 = await w.load({ source: 'hub', spec: 'hf:test/k3', endpoint: `${location.origin}/hub`, cache: true });
      const cachedLogits1 = Array.from(await w.logits('reference', ids) as Float32Array);
      (window as any).__hubMark = true;
      const cached2 = await w.load({ source: 'hub', spec: 'hf:test/k3', endpoint: `${location.origin}/hub`, cache: true });
      const cachedLogits2 = Array.from(await w.logits('reference', ids) as Float32Array);
      // a download cut off mid-file fails; loading again resumes it with a Range request
      let cutErr: any = null;
      try { await w.load({ source: 'hub', spec: 'hf:test/k3cut', endpoint: `${location.origin}/hub`, cache: true }); } catch (e: any) { cutErr = e.message; }
      await w.load({ source: 'hub', spec: 'hf:test/k3cut', endpoint: `${location.origin}/hub`, cache: true });
      const resumedLogits = Array.from(await w.logits('reference', ids) as Float32Array);
      let err: any = null;
      try { await w.load({ source: 'url', url: '/hf/missing/' }); } catch (e: any) { err = { name: e.name, message: e.message, hint: e.hint }; }
      return { trained, saved, fromOpfs, opfsLogits, fromUrl, urlLogits, fromHub, hubLogits, cached1, cached2, cachedLogits1, cachedLogits2, cutErr, resumedLogits, err };
    }, PROMPT);
    expect(r.saved.opfs).toBe('inheritune/k3-test');
    expect(r.fromOpfs.config.nLayers).toBe(3);
    expect(r.fromOpfs.tokenizer.files).toEqual(['tok512.bin']);
    expect(maxAbsDiff(r.opfsLogits, r.trained), 'trained model, saved to OPFS and loaded back').toBeLessThanOrEqual(ATOL);
    expect(maxAbsDiff(r.trained, golden), 'training changed the model').toBeGreaterThan(1e-3);
    expect(r.fromUrl.format).toBe('hf');
    expect(r.fromUrl.tokenizer.files).toEqual(['tokenizer.bin']);
    expect(maxAbsDiff(r.urlLogits, golden), 'HF directory over HTTP Range').toBeLessThanOrEqual(ATOL);
    expect(srv!.log.filter((l) => /^206 GET \/hf\/k3\/model\.safetensors bytes=/.test(l)).length, `Range reads${diag()}`).toBeGreaterThan(3);
    expect(r.fromHub.name).toBe('hf:test/k3@main');
    expect(maxAbsDiff(r.hubLogits, golden), 'HF directory in a Hub layout, Range reads').toBeLessThanOrEqual(ATOL);
    expect(srv!.log.filter((l) => /^206 GET \/hub\/test\/k3\/resolve\/main\/model\.safetensors bytes=/.test(l)).length).toBeGreaterThan(3);
    expect(maxAbsDiff(r.cachedLogits1, golden), 'Hub through the OPFS cache').toBeLessThanOrEqual(ATOL);
    expect(maxAbsDiff(r.cachedLogits2, golden), 'Hub from the OPFS cache').toBeLessThanOrEqual(ATOL);
    // whole-file downloads (no Range) happened once: one 200 GET of the weights for the two cached loads
    expect(srv!.log.filter((l) => /^200 GET \/hub\/test\/k3\/resolve\/main\/model\.safetensors/.test(l)).length, `cache${diag()}`).toBe(1);
    expect(r.cutErr, `the cut download must fail${diag()}`).toBeTruthy();
    expect(srv!.log.some((l) => /^206 GET \/hub\/test\/k3cut\/resolve\/main\/model\.safetensors bytes=\d+-$/.test(l)), `resumed with Range${diag()}`).toBe(true);
    expect(maxAbsDiff(r.resumedLogits, golden), 'Hub through a resumed OPFS download').toBeLessThanOrEqual(ATOL);
    expect(r.err?.name).toBe('InherituneError');
    expect(r.err.message).toMatch(/no config\.json\n---> HINT: pass a Hugging Face model directory/);
    mark('done');
  });
});
