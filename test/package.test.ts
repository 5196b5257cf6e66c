// package: what a user gets from npm. `npm pack`, install the tarball into an empty directory,
// then: `npx inheritune-rt info` and the main job (tiny settings) run, `import 'inheritune-rt'`
// works in Node ESM, the types resolve under tsc (the Node API's too, WebGPU's through @webgpu/types,
// and the API examples of docs/architecture.md type-check), Deno's `npm:inheritune-rt` gets the browser build with
// only --allow-read, and the tarball carries no test data.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, existsSync, readFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, testGpu } from './helpers.js';

const run = promisify(execFile);
const TSC = resolve(REPO, 'node_modules/typescript/bin/tsc');
const REQUIRE_RUNTIMES = process.env.INHERITUNE_REQUIRE_RUNTIMES === '1';
let app = '', tarball = '', packInfo: { size: number; unpackedSize: number; files: { path: string }[] };

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'itrt-pack-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO, maxBuffer: 1 << 26 });
  packInfo = JSON.parse(stdout)[0];
  tarball = join(dir, (packInfo as any).filename);
  app = join(dir, 'app');
  await run('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // dependencies come from the npm cache that `npm ci` filled (the registry otherwise)
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app, maxBuffer: 1 << 26 });
}, 600_000);

describe('the npm tarball', () => {
  it('carries the built package and no test data, and stays small', () => {
    const files = packInfo.files.map((f) => f.path);
    console.log(`tarball: ${(packInfo.size / 1e6).toFixed(2)} MB packed, ${(packInfo.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${files.length} files`);
    for (const f of ['dist/index.mjs', 'dist/node.mjs', 'dist/cli.mjs', 'dist/types/index.d.ts', 'dist/types/node/index.d.ts', 'README.md', 'package.json']) expect(files, f).toContain(f);
    // the one model in the package is the built-in reference (assets/reference, about 2.3 MB)
    expect(files.filter((f) => /^(test|shared|bench|asm|src|scripts)\//.test(f) || /\.(bin|f32|safetensors)$/.test(f))).toEqual(['assets/reference/model.safetensors']);
    for (const f of ['assets/reference/config.json', 'assets/reference/tokenizer.json', 'assets/reference/pretrain.json', 'docs/fidelity.md']) expect(files, f).toContain(f);
    expect(packInfo.size).toBeLessThan(11e6);
  });

  it('import works in Node ESM and types resolve', async () => {
    writeFileSync(join(app, 'check.mjs'), "import * as it from 'inheritune-rt'; console.log(JSON.stringify([typeof it.createGpu, typeof it.inherit, typeof it.Trainer, typeof it.runRecipe, typeof it.readModel]));");
    const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: app });
    expect(JSON.parse(stdout)).toEqual(['function', 'function', 'function', 'function', 'function']); // the Node build
    writeFileSync(join(app, 'check.ts'), [
      "import { createGpu, inherit, Model, type ModelConfig, type TrainOptions } from 'inheritune-rt';",
      "const c: Pick<ModelConfig, 'dim'> = { dim: 64 };",
      "const o: Partial<TrainOptions> = { steps: 1 };",
      "export const f = async () => { const g = await createGpu(); return [g, inherit, Model, c, o]; };", ''].join('\n'));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', skipLibCheck: true, types: [] }, files: ['check.ts'] }));
    await run(process.execPath, [resolve(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app });
  });

  it('the Node API types (readModel, trainRun, ...) and WebGPU types come with the package', async () => {
    // skipLibCheck off: the shipped declarations must hold together; types []: GPUDevice & co. must
    // come from the declarations' own reference to @webgpu/types, not from the consumer's setup
    writeFileSync(join(app, 'node_api.ts'), [
      "import { createGpu, readModel, readTokenizer, trainRun, runOnDisk, nodeDir, readHfModel, TRAIN_DEFAULTS, type TrainRun, type RunArgs, type Checkpoint } from 'inheritune-rt';",
      'export async function f(path: string, device: GPUDevice): Promise<number> {',
      '  const ck: Checkpoint = await readModel(path);',
      '  const again: Checkpoint = await readHfModel(nodeDir(path));',
      '  const gpu = await createGpu({ device });',
      "  const r: TrainRun = { model: path, out: 'o', resume: false, saveEvery: 0, opts: { ...TRAIN_DEFAULTS, steps: 1, batch: 1, seq: 8 }, train: [1, 2], val: [1, 2], progress: null };",
      '  const { valLoss } = await trainRun(gpu, r);',
      "  const a: Pick<RunArgs, 'out' | 'saveEvery'> = { out: 'o', saveEvery: 1 };",
      '  const tok = await readTokenizer(undefined, path);',
      '  void runOnDisk;',
      '  return valLoss + ck.config.dim + again.config.nLayers + a.saveEvery + tok.encode("a").length + GPUBufferUsage.STORAGE;',
      '}', ''].join('\n'));
    writeFileSync(join(app, 'tsconfig.node.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext',
      target: 'ES2022', skipLibCheck: false, types: [] }, files: ['node_api.ts'] }));
    const r = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.node.json'], { cwd: app, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it("the API examples (docs/architecture.md) type-check against the packed declarations", () => {
    const readme = readFileSync(join(REPO, 'docs/architecture.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## API\n'), readme.indexOf('\n## ', readme.indexOf('\n## API\n') + 1));
    const blocks = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThanOrEqual(1);
    expect(blocks[0]).toMatch(/windowedLoss\(/);
    // the examples' inputs; everything else they use is the package's
    const inputs = 'declare const modelBytes: Uint8Array;\ndeclare const tokBytes: Uint8Array;\ndeclare const text: string;\n';
    writeFileSync(join(app, 'readme_api.ts'), inputs + blocks.join('\n'));
    writeFileSync(join(app, 'tsconfig.readme.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext',
      target: 'ES2022', skipLibCheck: true, types: [] }, files: ['readme_api.ts'] }));
    const r = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.readme.json'], { cwd: app, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it("Deno: `import ... from 'npm:inheritune-rt'` of the installed tarball gets the browser build and runs with only --allow-read", async (ctx) => {
    const deno = [join(REPO, 'node_modules/.bin/deno'), 'deno'].find((d) => spawnSync(d, ['--version'], { timeout: 30_000 }).status === 0);
    if (!deno) {
      if (REQUIRE_RUNTIMES) throw new Error('deno not found (INHERITUNE_REQUIRE_RUNTIMES=1)\n---> HINT: run `bash scripts/setup.sh`');
      return ctx.skip('deno not found');
    }
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules/inheritune-rt/package.json'), 'utf8'));
    const conditions = Object.keys(pkg.exports['.']);
    expect(conditions.indexOf('deno')).toBeLessThan(conditions.indexOf('node'));
    // a forward pass on the GPU too, where Node has an adapter (Deno uses the same driver)
    const g = await testGpu();
    const gpu = g !== null;
    g?.destroy();
    writeFileSync(join(app, 'deno_check.ts'), [
      "import * as it from 'npm:inheritune-rt';",
      'const out: Record<string, unknown> = { runtime: it.runtimeName(), createGpu: typeof it.createGpu, readModel: typeof (it as Record<string, unknown>).readModel };',
      "if (Deno.args[0] === 'gpu') {",
      '  const gpu = await it.createGpu();',
      "  const ck = it.initCheckpoint({ family: 'llama', dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 64, maxSeqLen: 16,",
      "    normEps: 1e-5, ropeTheta: 10000, ropeMode: 'rotate_half', tiedEmbeddings: true }, 1);",
      '  const m = it.Model.create(gpu, ck);',
      '  const logits = await m.logits([1, 2, 3]);',
      '  m.destroy(); gpu.destroy();',
      '  out.logits = logits.length; out.finite = logits.every(Number.isFinite);',
      '}',
      'console.log(JSON.stringify(out));', ''].join('\n'));
    // offline: an empty Deno cache and an npm registry nobody answers; the packages come from node_modules
    const denoDir = join(app, '.deno-cache');
    mkdirSync(denoDir, { recursive: true });
    const env = { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/' };
    const r = spawnSync(deno, ['run', '--no-prompt', '--node-modules-dir=manual', `--allow-read=${app}`, 'deno_check.ts', ...(gpu ? ['gpu'] : [])],
      { cwd: app, env, encoding: 'utf8', timeout: 180_000 });
    const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    expect(line, `deno printed no result (exit ${r.status})\n${r.stderr}`).toBeTruthy();
    const res = JSON.parse(line!);
    console.log(`deno npm:inheritune-rt: ${line}`);
    expect(res).toMatchObject({ runtime: 'deno', createGpu: 'function', readModel: 'undefined' }); // dist/index.mjs, not the Node build
    if (gpu) expect(res).toMatchObject({ logits: 3 * 64, finite: true });
    expect(r.status, r.stderr).toBe(0);
    // and Deno's type check of the same import, through the deno condition's declarations
    const c = spawnSync(deno, ['check', '--node-modules-dir=manual', 'deno_check.ts'], { cwd: app, env, encoding: 'utf8', timeout: 180_000 });
    expect(c.status, c.stdout + c.stderr).toBe(0);
  });

  it('npx inheritune-rt info and the main job (tiny settings) run from the installed package', async (ctx) => {
    const g = await testGpu();
    if (!g) return ctx.skip();
    g.destroy();
    const info = JSON.parse((await run('npx', ['--no-install', 'inheritune-rt', 'info', '--json'], { cwd: app })).stdout);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const { stdout } = await run('npx', ['--no-install', 'inheritune-rt', 'demo', '--steps', '2', '--max-rounds', '1',
      '--analyze-sequences', '2', '--val-windows', '2', '--eval-every', '0', '--out', 'demo-out', '--json'],
      { cwd: app, maxBuffer: 1 << 26, timeout: 240_000 }); // killed (with its worker) before the test's own timeout
    const report = JSON.parse(stdout);
    // the shipped pre-trained reference (assets/reference in the tarball), not one trained here
    expect(report.reference.n_layers).toBe(12);
    expect(existsSync(join(app, 'demo-out/reference/pretrain.json'))).toBe(true);
    expect(existsSync(join(app, 'demo-out/reference/checkpoint'))).toBe(false);
    expect(report.rounds[0].n_layers).toBe(6);
    expect(report.baseline.n_layers).toBe(6);
    expect(existsSync(join(app, 'demo-out/report.json'))).toBe(true);
    expect(readFileSync(join(app, 'demo-out/val_loss.svg'), 'utf8')).toMatch(/^<svg/);
    // the written models carry a tokenizer the package reads back (the byte-level tokenizer.json)
    writeFileSync(join(app, 'some.txt'), 'The jury said it did find that many of the registration and election laws were outmoded. '.repeat(4));
    const ev = JSON.parse((await run('npx', ['--no-install', 'inheritune-rt', 'eval', '--model', 'demo-out/round-0/checkpoint', '--text', 'some.txt',
      '--seq', '32', '--windows', '2', '--json'], { cwd: app })).stdout);
    expect(Number.isFinite(ev.loss)).toBe(true);
  });
});
