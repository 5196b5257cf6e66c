// rollup: src/index.ts -> dist/index.mjs (browsers, workers, Deno: no Node built-ins),
// src/node/index.ts -> dist/node.mjs (adds Dawn through the 'webgpu' package and file access),
// src/node/cli/main.ts -> dist/cli.mjs (the `inheritune-rt` command). Kernels and wasm are already inlined
// into src/gen/ by scripts/gen.mjs. The browser bundles also carry their npm dependencies,
// protobufjs (for ONNX export, converted from CommonJS), re2js (the linear-time regex engine that runs
// tokenizer.json patterns) and @humanwhocodes/momoa (finds duplicate keys in safetensors headers), resolved
// by the node-resolve and commonjs plugins, so they import nothing at run time; the Node bundle leaves npm
// packages external.
// demo/ -> dist/demo/: index.html, demo.mjs (the page) and worker.mjs (src/worker/worker.ts, the module web
// worker that does all GPU work), each one self-contained file under the same browser rule.
import { readFileSync } from 'node:fs';
import typescript from '@rollup/plugin-typescript';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';

const nodeExternal = (id) => id === 'webgpu' || id.startsWith('node:');
// Node bundle: npm packages stay imports (they are installed as dependencies)
const nodeBundleExternal = (id) => nodeExternal(id) || /^[a-z@][^:]*$/i.test(id) && !id.startsWith('.');
const resolveNpm = () => [nodeResolve({ browser: true, preferBuiltins: false }), commonjs()];
// protobufjs's own circular imports are harmless; keep the build log for our warnings
const onwarn = (w, warn) => { if (w.code === 'CIRCULAR_DEPENDENCY' && /node_modules/.test(w.message)) return; if (w.code === 'EVAL' && /protobufjs|inquire/.test(w.id ?? '')) return; warn(w); };
const browserExternal = (id) => {
  if (nodeExternal(id)) throw new Error(`the browser/Deno bundle must not import '${id}' (only src/node/ may)`);
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
    plugins: [ts(), ...resolveNpm()],
    external: browserExternal,
    onwarn,
  },
  {
    input: { node: 'src/node/index.ts', cli: 'src/node/cli/main.ts' },
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].mjs', chunkFileNames: 'chunks/[name]-[hash].mjs', sourcemap: true },
    plugins: [ts()],
    external: nodeBundleExternal,
  },
  {
    input: { demo: 'demo/demo.ts' },
    output: { dir: 'dist/demo', format: 'es', entryFileNames: '[name].mjs', sourcemap: true },
    plugins: [ts(['src/**/*.ts', 'demo/**/*.ts']), ...resolveNpm(), copy('demo/index.html', 'index.html')],
    external: browserExternal,
    onwarn,
  },
  {
    input: { worker: 'src/worker/worker.ts' },
    output: { dir: 'dist/demo', format: 'es', entryFileNames: '[name].mjs', sourcemap: true },
    plugins: [ts(), ...resolveNpm()],
    external: browserExternal,
    onwarn,
  },
];
