// The house plan of src/, checked by `npm run lint` (dependency-cruiser): no import cycles (type-only
// imports included), only src/node/ imports Node built-ins or Dawn ('webgpu'), and each folder imports
// only the layers below it (scripts/layers.cjs; docs/architecture.md's Layout section draws the same map).
const LAYERS = require('./scripts/layers.cjs');

const layerRules = Object.entries(LAYERS).map(([layer, below]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer}/ may import only ${below.length ? below.map((l) => `src/${l}/`).join(', ') : 'itself'}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: [`^src/${layer}/`, ...below.map((l) => `^src/${l}/`)] },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle (type-only imports count): move the shared part down a layer',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'node-only-in-node',
      comment: 'Node built-ins and Dawn belong in src/node/ (the rest runs in browsers, workers and Deno)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/node/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'webgpu-only-in-node',
      comment: "the 'webgpu' package (Dawn) is Node's WebGPU; elsewhere navigator.gpu is used",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/node/' },
      to: { path: '(^|/)node_modules/webgpu/' },
    },
    {
      name: 'nothing-imports-node',
      comment: 'src/node/ is the top floor: only src/node/ itself imports from it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/node/' },
      to: { path: '^src/node/' },
    },
    {
      name: 'no-unresolvable',
      comment: 'an import that does not resolve',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // mainFields with 'types': the `/// <reference types="@webgpu/types" />` of the entries resolves to the types-only package
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.mjs', '.d.ts'],
      mainFields: ['module', 'main', 'types'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
