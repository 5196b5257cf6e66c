// rollup: src/index.ts -> dist/index.mjs (browsers, workers, Deno: no Node built-ins),
// src/node.ts -> dist/node.mjs (adds Dawn through the 'webgpu' package and file access),
// src/cli.ts -> dist/cli.mjs (the `inheritune-rt` command). Kernels and wasm are already inlined
// into src/gen/ by scripts/gen.mjs, so no plugin beyond TypeScript is needed.
import typescript from '@rollup/plugin-typescript';

const nodeExternal = (id) => id === 'webgpu' || id.startsWith('node:');

export default [
  {
    input: { index: 'src/index.ts' },
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].mjs', sourcemap: true },
    plugins: [typescript({ tsconfig: './tsconfig.json', include: ['src/**/*.ts'], declaration: false, noEmit: false })],
    external: (id) => {
      if (nodeExternal(id)) throw new Error(`the browser/Deno bundle must not import '${id}' (only src/node.ts may)`);
      return false;
    },
  },
  {
    input: { node: 'src/node.ts', cli: 'src/cli.ts' },
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].mjs', chunkFileNames: 'chunks/[name]-[hash].mjs', sourcemap: true },
    plugins: [typescript({ tsconfig: './tsconfig.json', include: ['src/**/*.ts'], declaration: false, noEmit: false })],
    external: nodeExternal,
  },
];
