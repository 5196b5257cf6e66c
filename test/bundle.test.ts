// The browser/Deno bundle must stay clean: dist/index.mjs (built by `npm test`) may import no Node
// built-in (node:fs, 'path', ...), no 'webgpu' (Dawn, Node only), and nothing else outside itself;
// and it must export the public API. Checked on the parsed AST, so error messages that merely
// mention "node:" do not count. rollup.config.mjs already refuses such imports at build time;
// this catches a change of that config, a require() smuggled in, or a stale/foreign dist. docs/architecture.md's
// API section names only what the bundles export, and readHfModel explains a path string.
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

/** the names each js example of the API section (docs/architecture.md) imports from 'inheritune-rt', and whether it is the Node one */
function readmeImports(): { names: string[]; node: boolean }[] {
  const readme = readFileSync(join(REPO, 'docs/architecture.md'), 'utf8');
  const at = readme.indexOf('\n## API\n');
  const section = readme.slice(at, readme.indexOf('\n## ', at + 1));
  return [...section.matchAll(/([^\n]*)\n\n```js\n([\s\S]*?)```/g)].map(([, before, code]) => ({
    node: /^In Node\b/.test(before),
    names: [...code.matchAll(/import\s*\{([^}]*)\}\s*from\s*'inheritune-rt'/g)].flatMap((m) => m[1].split(',').map((n) => n.trim()).filter(Boolean)),
  }));
}

describe("the API section of docs/architecture.md", () => {
  test('names only what the bundles export: windowedLoss and the rest in both, the Node API in dist/node.mjs', async () => {
    const browser = await import(BUNDLE);
    const node = await import(join(REPO, 'dist/node.mjs'));
    const blocks = readmeImports();
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    expect(blocks[0].names).toContain('windowedLoss');
    expect(blocks.some((b) => b.node && b.names.includes('readModel') && b.names.includes('trainRun'))).toBe(true);
    for (const { names, node: nodeOnly } of blocks) {
      for (const n of names) {
        expect(node[n], `dist/node.mjs exports ${n}`).toBeDefined();
        if (!nodeOnly) expect(browser[n], `dist/index.mjs exports ${n}`).toBeDefined();
      }
    }
    // the Node-only names are not in the browser build
    for (const n of ['readModel', 'trainRun', 'nodeDir']) expect(browser[n], n).toBeUndefined();
    // the calls the prose names
    expect(typeof browser.Model.create).toBe('function');
    expect(typeof browser.Llama2cTokenizer.fromBytes).toBe('function');
    for (const m of ['step', 'readState', 'destroy']) expect(typeof browser.Trainer.prototype[m], `Trainer.${m}`).toBe('function');
    for (const m of ['forward', 'backward', 'logits', 'readCheckpoint', 'destroy']) expect(typeof browser.Model.prototype[m], `Model.${m}`).toBe('function');
    for (const m of ['tensor', 'upload', 'read', 'release', 'destroy']) expect(typeof browser.Gpu.prototype[m], `Gpu.${m}`).toBe('function');
    for (const m of ['load', 'data', 'inherit', 'train', 'cancel', 'resume', 'evaluate', 'analyze', 'logits', 'generate', 'save']) {
      expect(typeof browser.InherituneWorker.prototype[m], `InherituneWorker.${m}`).toBe('function');
    }
    expect(typeof browser.kernels.matmulForward).toBe('function');
  });

  test('readHfModel given a path string says what to pass instead', async () => {
    for (const bundle of [BUNDLE, join(REPO, 'dist/node.mjs')]) {
      const { readHfModel, InherituneError } = await import(bundle);
      const err = await readHfModel('models/small-k3').then(() => null, (e: Error) => e);
      expect(err).toBeInstanceOf(InherituneError);
      expect(err.message).toBe("readHfModel('models/small-k3'): a path string is not a ModelDir\n---> HINT: in Node pass nodeDir(path), " +
        'or call readModel(path) (an HF directory or a llama2.c .bin); elsewhere a ModelDir over your files');
    }
  });
});
