// package: what a user gets from npm. `npm pack`, install the tarball into an empty directory,
// then: `npx inheritune-rt info` and the main job (tiny settings) run, `import 'inheritune-rt'`
// works in Node ESM, the types resolve under tsc, and the tarball carries no test data.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, testGpu } from './helpers.js';

const run = promisify(execFile);
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
    for (const f of ['dist/index.mjs', 'dist/node.mjs', 'dist/cli.mjs', 'dist/types/index.d.ts', 'README.md', 'package.json']) expect(files, f).toContain(f);
    expect(files.filter((f) => /^(test|shared|bench|asm|src|scripts)\//.test(f) || /\.(bin|f32|safetensors)$/.test(f))).toEqual([]);
    expect(packInfo.size).toBeLessThan(8e6);
  });

  it('import works in Node ESM and types resolve', async () => {
    writeFileSync(join(app, 'check.mjs'), "import * as it from 'inheritune-rt'; console.log(JSON.stringify([typeof it.createGpu, typeof it.inherit, typeof it.Trainer, typeof it.runRecipe]));");
    const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: app });
    expect(JSON.parse(stdout)).toEqual(['function', 'function', 'function', 'function']);
    writeFileSync(join(app, 'check.ts'), [
      "import { createGpu, inherit, Model, type ModelConfig, type TrainOptions } from 'inheritune-rt';",
      "const c: Pick<ModelConfig, 'dim'> = { dim: 64 };",
      "const o: Partial<TrainOptions> = { steps: 1 };",
      "export const f = async () => { const g = await createGpu(); return [g, inherit, Model, c, o]; };", ''].join('\n'));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', skipLibCheck: true, types: [] }, files: ['check.ts'] }));
    await run(process.execPath, [resolve(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app });
  });

  it('npx inheritune-rt info and the main job (tiny settings) run from the installed package', async (ctx) => {
    const g = await testGpu();
    if (!g) return ctx.skip();
    g.destroy();
    const info = JSON.parse((await run('npx', ['--no-install', 'inheritune-rt', 'info', '--json'], { cwd: app })).stdout);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const { stdout } = await run('npx', ['--no-install', 'inheritune-rt', 'demo', '--pretrain-steps', '3', '--steps', '2', '--max-rounds', '1',
      '--analyze-sequences', '2', '--val-windows', '2', '--eval-every', '0', '--out', 'demo-out', '--json'], { cwd: app, maxBuffer: 1 << 26 });
    const report = JSON.parse(stdout);
    expect(report.reference.n_layers).toBe(6);
    expect(report.rounds[0].n_layers).toBe(3);
    expect(report.baseline.n_layers).toBe(3);
    expect(existsSync(join(app, 'demo-out/report.json'))).toBe(true);
    expect(readFileSync(join(app, 'demo-out/val_loss.svg'), 'utf8')).toMatch(/^<svg/);
    // the written models carry a tokenizer the package reads back (the byte-level tokenizer.json)
    writeFileSync(join(app, 'some.txt'), 'The jury said it did find that many of the registration and election laws were outmoded. '.repeat(4));
    const ev = JSON.parse((await run('npx', ['--no-install', 'inheritune-rt', 'eval', '--model', 'demo-out/round-0/checkpoint', '--text', 'some.txt',
      '--seq', '32', '--windows', '2', '--json'], { cwd: app })).stdout);
    expect(Number.isFinite(ev.loss)).toBe(true);
  });
});
