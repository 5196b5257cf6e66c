// The browser/Deno bundle must stay clean: dist/index.mjs (built by `npm test`) may import no Node
// built-in (node:fs, 'path', ...), no 'webgpu' (Dawn, Node only), and nothing else outside itself;
// and it must export the public API. Checked on the parsed AST, so error messages that merely
// mention "node:" do not count. rollup.config.mjs already refuses such imports at build time;
// this catches a change of that config, a require() smuggled in, or a stale/foreign dist.
import { describe, expect, test } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { parseAst } from 'rollup/parseAst';
import { REPO } from './helpers.js';

const BUNDLE = join(REPO, 'dist/index.mjs');
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** every module specifier the bundle loads: import/export ... from, import(), require(), plus require-like calls */
function specifiers(code: string): { kind: string; spec: string }[] {
  const out: { kind: string; spec: string }[] = [];
  const walk = (n: any): void => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) { n.forEach(walk); return; }
    if ((n.type === 'ImportDeclaration' || n.type === 'ExportNamedDeclaration' || n.type === 'ExportAllDeclaration') && n.source) {
      out.push({ kind: 'import', spec: String(n.source.value) });
    } else if (n.type === 'ImportExpression') {
      out.push({ kind: 'import()', spec: n.source.type === 'Literal' ? String(n.source.value) : '<computed>' });
    } else if (n.type === 'CallExpression' && n.callee.type === 'Identifier' && (n.callee.name === 'require' || n.callee.name === 'createRequire')) {
      const a = n.arguments[0];
      out.push({ kind: `${n.callee.name}()`, spec: a?.type === 'Literal' ? String(a.value) : '<computed>' });
    }
    for (const k of Object.keys(n)) if (k !== 'type' && k !== 'start' && k !== 'end') walk(n[k]);
  };
  walk(parseAst(code));
  return out;
}

describe('dist/index.mjs (browsers, web workers, Deno)', () => {
  test('is built', () => {
    expect(existsSync(BUNDLE), `${BUNDLE} is missing: run \`npm run build\``).toBe(true);
  });

  test('loads no Node built-in, no webgpu package, nothing outside the bundle', () => {
    const found = specifiers(readFileSync(BUNDLE, 'utf8'));
    const nodeOnly = found.filter((f) => BUILTINS.has(f.spec) || f.spec.startsWith('node:'));
    expect(nodeOnly, 'Node built-ins in the browser/Deno bundle (only src/node/ may use them)').toEqual([]);
    expect(found.filter((f) => f.spec === 'webgpu' || f.spec.startsWith('webgpu/')), "'webgpu' (Dawn) in the browser/Deno bundle").toEqual([]);
    expect(found.filter((f) => f.kind.startsWith('require') || f.kind.startsWith('createRequire')), 'require() in an ES module bundle').toEqual([]);
    // self-contained: any other import would break `<script type=module>` and Deno without an import map
    expect(found, 'the bundle imports other modules').toEqual([]);
  });

  test('the checker sees the imports it must reject', () => {
    const bad = specifiers("import fs from 'node:fs'; export * from 'path'; const w = await import('webgpu'); require('os'); const s = 'node:x';");
    expect(bad.map((b) => b.spec)).toEqual(['node:fs', 'path', 'webgpu', 'os']);
  });

  test('exports the public API', async () => {
    const api = await import(BUNDLE);
    for (const name of ['createGpu', 'parseLlama2c', 'Model']) expect(typeof api[name], name).toBe('function');
  });
});
