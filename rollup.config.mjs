// rollup: src/index.ts -> dist/index.mjs (browsers, workers, Deno: no Node built-ins),
// src/node.ts -> dist/node.mjs (adds Dawn through the 'webgpu' package and file access),
// src/cli.ts -> dist/cli.mjs (the `inheritune-rt` command). Kernels and wasm are already inlined
// into src/gen/ by scripts/gen.mjs, so no plugin beyond TypeScript is needed.
// demo/ -> dist/demo/: index.html, demo.mjs (the page) and worker.mjs (src/worker.ts, the module web
// worker that does all GPU work), each one self-contained file under the same browser rule.
import { readFileSync } from 'node:fs';
import typescript from '@rollup/plugin-typescript';

const nodeExternal = (id) => id === 'webgpu' || id.startsWith('node:');
const browserExternal = (id) => {
  if (nodeExternal(id)) throw new Error(`the browser/Deno bundle must not import '${id}' (only src/node.ts may)`);
  return false;
};
// copies a static file into the output folder
const copy = (from, to) => ({
  name: 'copy',
  buildStart() { this.addWatchFile(from); },
  generateBundle() { this.emitFile({ type: 'asset', fileName: to, source: readFileSync(from) }); },
});
const ts = (include = ['src/**/*.ts']) => typescript({ tsconfig: './tsconfig.json', include, declaration: false, noEmit: false });

export default [
  {
    input: { index: 'src/index.ts' },
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].mjs', sourcemap: true },
    plugins: [ts()],
    external: browserExternal,
  },
  {
    input: { node: 'src/node.ts', cli: 'src/cli.ts' },
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].mjs', chunkFileNames: 'chunks/[name]-[hash].mjs', sourcemap: true },
    plugins: [ts()],
    external: nodeExternal,
  },
  {
    input: { demo: 'demo/demo.ts' },
    output: { dir: 'dist/demo', format: 'es', entryFileNames: '[name].mjs', sourcemap: true },
    plugins: [ts(['src/**/*.ts', 'demo/**/*.ts']), copy('demo/index.html', 'index.html')],
    external: browserExternal,
  },
  {
    input: { worker: 'src/worker.ts' },
    output: { dir: 'dist/demo', format: 'es', entryFileNames: '[name].mjs', sourcemap: true },
    plugins: [ts()],
    external: browserExternal,
  },
];
