// layout: the house plan holds. `npm run lint` (dependency-cruiser, .dependency-cruiser.cjs) finds no
// import cycle, no Node built-in outside src/node/ and no import against the layer map, and fails on a
// tree that has each of those; no file in src/ is over 400 lines; docs/architecture.md's Layout section lists
// exactly the folders of src/ with the imports the lint allows them.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, statSync, copyFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO } from './helpers.js';

const DEPCRUISE = resolve(REPO, 'node_modules/.bin/depcruise');
const lint = (cwd: string) => spawnSync(DEPCRUISE, ['src', '--config', '.dependency-cruiser.cjs'], { cwd, encoding: 'utf8' });
const LAYERS: Record<string, string[]> = createRequire(import.meta.url)(resolve(REPO, 'scripts/layers.cjs'));

describe('the house plan', () => {
  it('npm run lint: no cycles, Node built-ins only in src/node/, every import down the layer map', () => {
    const r = lint(REPO);
    expect(r.stdout + r.stderr).toMatch(/no dependency violations found/);
    expect(r.status).toBe(0);
  });

  it('the lint fails on a cycle (type-only too), a Node built-in in the core and an import up the layers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'layout-'));
    try {
      copyFileSync(resolve(REPO, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
      mkdirSync(join(dir, 'scripts'));
      copyFileSync(resolve(REPO, 'scripts/layers.cjs'), join(dir, 'scripts/layers.cjs'));
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'ESNext', moduleResolution: 'Bundler', strict: true }, include: ['src'] }));
      for (const d of ['model', 'train', 'gpu']) mkdirSync(join(dir, 'src', d), { recursive: true });
      writeFileSync(join(dir, 'src/model/a.ts'), "import type { B } from '../train/b.js';\nexport type A = B | 1;\n");
      writeFileSync(join(dir, 'src/train/b.ts'), "import type { A } from '../model/a.js';\nexport type B = A | 2;\n");
      writeFileSync(join(dir, 'src/gpu/c.ts'), "import { readFileSync } from 'node:fs';\nexport const c = readFileSync;\n");
      const r = lint(dir), out = r.stdout + r.stderr;
      expect(r.status).not.toBe(0);
      expect(out).toMatch(/no-circular/);
      expect(out).toMatch(/layer-model: src\/model\/a\.ts → src\/train\/b\.ts/);
      expect(out).toMatch(/node-only-in-node: src\/gpu\/c\.ts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('no file in src/ is over 400 lines', () => {
    const files = (readdirSync(resolve(REPO, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.startsWith('gen/'));
    const long = files.map((f) => [f, readFileSync(resolve(REPO, 'src', f), 'utf8').split('\n').length] as const).filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });

  it("docs/architecture.md's Layout section lists the folders of src/ and the imports the lint allows", () => {
    const readme = readFileSync(resolve(REPO, 'docs/architecture.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Layout'), readme.indexOf('\n## ', readme.indexOf('## Layout') + 1));
    const rows = [...section.matchAll(/^src\/(\w+)\/\s.*imports: (.+)$/gm)].map((m) => [m[1], m[2].trim()] as const);
    const folders = readdirSync(resolve(REPO, 'src')).filter((f) => statSync(resolve(REPO, 'src', f)).isDirectory() && f !== 'gen');
    expect(rows.map(([f]) => f).sort()).toEqual(folders.sort());
    for (const [folder, imports] of rows) {
      if (imports === 'everything') expect(LAYERS[folder], `${folder} is the top floor`).toBeUndefined();
      else if (imports === 'all but node') expect([...LAYERS[folder]].sort()).toEqual(folders.filter((f) => f !== 'node' && f !== folder).sort());
      else expect([...LAYERS[folder]].sort(), folder).toEqual(imports === 'nothing' ? [] : imports.split(/\s+/).sort());
    }
  });
});
