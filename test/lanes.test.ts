// subgroup-size independence: the kernel tests (the files that check kernels against the float64 oracle)
// run again at 16 lanes, in a child vitest with LP_NATIVE_VECTOR_WIDTH=512 (lavapipe's subgroups are its
// SIMD width: 8 lanes by default on an AVX2 host, 16 at 512 bits), beside the default run (8 lanes) and
// the browser test (SwiftShader, 4 lanes). At 16 lanes the subgroup matmul and attention run with two
// groups of 8 in a subgroup, and the row kernels (norms, cross-entropy, distillation, gradient norm)
// take their 64-thread workgroup form, the one GPUs run. The child asserts first that the adapter really
// reports 16 lanes (this file, run as the child: INHERITUNE_LANES_EXPECT), so the re-run cannot quietly
// happen at 8. Only on lavapipe (elsewhere the variable means nothing: skipped, saying so). The training-
// loop tests of precision.test.ts (200 steps, loss-scale overflow, resume) are left out of the re-run:
// they exercise the same kernels as its oracle tests for a minute more.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, testGpu } from './helpers.js';

const EXPECT = process.env.INHERITUNE_LANES_EXPECT;
// (not matmul_sgmatrix: its kernel runs one subgroup a workgroup at any width, and its emulated form, the
// one lavapipe can run, hung there at 16 lanes in a launcher path; see the report of issue 29)
const KERNEL_TESTS = ['matmul', 'attention', 'kernels', 'backward', 'optim', 'device', 'distill', 'precision']
  .map((f) => `test/${f}.test.ts`);
const LEFT_OUT = '^(?!.*(200 steps of stories260K|a loss scale too large|--resume)).*';

describe('subgroup lanes', () => {
  if (EXPECT) {
    it(`the adapter reports ${EXPECT} lanes (the child run)`, async () => {
      const g = await testGpu();
      expect(g, 'no adapter in the child run').not.toBeNull();
      try {
        expect(g!.subgroupSize).toEqual({ min: Number(EXPECT), max: Number(EXPECT) });
        console.log(`child run: ${Object.values(g!.adapterInfo).join(' / ')}, ${g!.subgroupSize!.min} lanes`);
      } finally {
        g!.destroy();
      }
    });
    return;
  }

  it('the kernel tests pass at 16 lanes (lavapipe, LP_NATIVE_VECTOR_WIDTH=512)', async (ctx) => {
    const g = await testGpu();
    if (!g) return ctx.skip();
    const info = Object.values(g.adapterInfo).join(' / '), lanes = g.subgroupSize;
    g.destroy();
    if (!/llvmpipe/.test(info)) {
      console.log(`16-lane re-run skipped: the adapter is not lavapipe (${info}), where LP_NATIVE_VECTOR_WIDTH sets no width`);
      return ctx.skip();
    }
    console.log(`default run: ${lanes ? `${lanes.min}-${lanes.max}` : 'no subgroup'} lanes; re-running ${KERNEL_TESTS.length} kernel test files at 16`);
    const dir = mkdtempSync(join(tmpdir(), 'inheritune-lanes-'));
    try {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VITEST')) env[k] = v;
      Object.assign(env, { LP_NATIVE_VECTOR_WIDTH: '512', INHERITUNE_LANES_EXPECT: '16', INHERITUNE_REQUIRE_GPU: '1' });
      const json = join(dir, 'lanes16.json'), t0 = performance.now();
      const r = spawnSync(process.execPath, [join(REPO, 'node_modules/vitest/vitest.mjs'), 'run', 'test/lanes.test.ts', ...KERNEL_TESTS,
        '-t', LEFT_OUT, '--reporter=json', `--outputFile=${json}`], { cwd: REPO, env, encoding: 'utf8', maxBuffer: 64 << 20 });
      const report = JSON.parse(readFileSync(json, 'utf8'));
      const failed = report.testResults.flatMap((f: any) => f.assertionResults.filter((a: any) => a.status === 'failed')
        .map((a: any) => `${f.name.slice(REPO.length + 1)}: ${a.fullName}: ${(a.failureMessages ?? []).join(' ').slice(0, 400)}`));
      const files = report.testResults.map((f: any) => f.name.slice(REPO.length + 1)).sort();
      console.log(`16 lanes: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests} skipped ` +
        `in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      expect(failed, r.stderr.slice(-2000)).toEqual([]);
      expect(files).toEqual(['test/lanes.test.ts', ...KERNEL_TESTS].sort());
      // the child's own lane check ran and passed, so none of the rest ran at another width
      const check = report.testResults.find((f: any) => f.name.endsWith('test/lanes.test.ts'));
      expect(check.assertionResults.map((a: any) => [a.title, a.status])).toEqual([['the adapter reports 16 lanes (the child run)', 'passed']]);
      expect(report.numPassedTests).toBeGreaterThan(50);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);
});
