// fuzz: the CLI fuzz harness on demand (npm run fuzz -- --cases 2000 --seed 1 --jobs 2 --json fuzz.json).
// The harness is TypeScript under test/fuzz/ (test/fuzz.test.ts runs a small sample of it in `npm test`); here
// its files are transpiled (types stripped, nothing bundled) into a temporary folder and run. It runs the built
// CLI (dist/cli.mjs): build first (npm run build). See docs/fuzz.md.
import ts from 'typescript';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO = resolve(import.meta.dirname, '..');
if (!existsSync(join(REPO, 'dist/cli.mjs'))) {
  process.stderr.write('fuzz: dist/cli.mjs is missing: run `npm run build` first\n');
  process.exit(2);
}
const out = mkdtempSync(join(tmpdir(), 'itrt-fuzz-js-'));
const files = ['test/fuzz/mutate.ts', ...readdirSync(join(REPO, 'test/fuzz/cli')).filter((f) => f.endsWith('.ts')).map((f) => `test/fuzz/cli/${f}`)];
for (const f of files) {
  const js = ts.transpileModule(readFileSync(join(REPO, f), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
  }).outputText;
  const to = join(out, f.replace(/\.ts$/, '.js'));
  mkdirSync(dirname(to), { recursive: true });
  writeFileSync(to, js);
}
let code = 1;
try {
  const { main } = await import(pathToFileURL(join(out, 'test/fuzz/cli/runner.js')).href);
  code = await main(process.argv.slice(2), REPO);
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(code);
