// select: block selection from the residual stream (src/method/select.ts) on stories260K against the
// float64 torch reference (test/ref/select_ref.py): ShortGPT's block influence and Gromov et al.'s angular
// distances, and the blocks each rule keeps for every K; the rules on made-up similarities (ties, K = L);
// `inherit --select block-influence|angular` through the CLI picks what the library picks.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, mkdtempSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Model, type Gpu } from '../src/node/index.js';
import { readModel } from '../src/node/models.js';
import { readTokens } from '../src/node/textdata.js';
import { readTokenizer } from '../src/node/tokfiles.js';
import { blockSimilarity, blockInfluenceSelection, angularSelection, guidedBlocks, type BlockSimilarity } from '../src/method/select.js';
import { REPO, SHARED, testGpu, checkTensor } from './helpers.js';

const run = promisify(execFile);
const STORIES = resolve(SHARED, 'stories260k/stories260K.bin');
const REF = JSON.parse(readFileSync(resolve(REPO, 'test/ref/select_ref.json'), 'utf8'));

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

describe('block selection by the residual stream', () => {
  it('stories260K: block influence, angular distances and the kept blocks for K = 1..4 equal the torch reference', async (ctx) => {
    if (!g) return ctx.skip();
    const m = Model.create(g, await readModel(STORIES));
    const s = await blockSimilarity(m, REF.ids, { sequences: REF.sequences, seq: REF.seq });
    m.destroy();
    checkTensor('block influence', s.block_influence, REF.block_influence, 1e-5, 0);
    for (let l = 0; l < 5; l++) checkTensor(`angular from block ${l}`, s.angular[l], REF.angular[l], 1e-5, 0);
    for (let k = 1; k < 5; k++) {
      expect(blockInfluenceSelection(s, k), `block influence, K ${k}`).toEqual(REF.keep_block_influence[k]);
      expect(angularSelection(s, k), `angular, K ${k}`).toEqual(REF.keep_angular[k]);
    }
  });

  it('the rules on made-up similarities: ties, K = L, bad K', () => {
    const s: BlockSimilarity = { block_influence: [0.3, 0.1, 0.1, 0.2], angular: [[0.5, 0.4, 0.6, 0.7], [0.2, 0.45, 0.5], [0.3, 0.4], [0.1]], sequences: 1, seq: 1 };
    expect(blockInfluenceSelection(s, 2)).toEqual([0, 3]);
    expect(blockInfluenceSelection(s, 3)).toEqual([0, 1, 3]);      // a tie: the lower index stays
    expect(angularSelection(s, 3)).toEqual([0, 1, 2]);             // n 1: d[l][0] = 0.5, 0.2, 0.3, 0.1: drop block 3
    expect(angularSelection(s, 2)).toEqual([2, 3]);                // n 2: d[l][1] = 0.4, 0.45, 0.4: the first minimum, drop 0 and 1
    expect(blockInfluenceSelection(s, 4)).toEqual([0, 1, 2, 3]);
    expect(angularSelection(s, 4)).toEqual([0, 1, 2, 3]);
    expect(() => angularSelection(s, 5)).toThrow(/cannot keep 5 of 4 blocks/);
  });

  it('`inherit --select block-influence` and `--select angular` keep what the library picks on the same text', async (ctx) => {
    if (!g) return ctx.skip();
    const text = join(mkdtempSync(join(tmpdir(), 'itrt-sel-')), 'val.txt');
    await run('sh', ['-c', `head -c 60000 ${resolve(SHARED, 'tinystories-sample/tinystories_val.txt')} > ${text}`]);
    const tokens = await readTokens(text, () => readTokenizer(undefined, STORIES, 512), 'val');
    const m = Model.create(g, await readModel(STORIES));
    for (const rule of ['block-influence', 'angular'] as const) {
      const want = (await guidedBlocks(m, tokens, 3, rule)).blocks;
      const out = join(text, '..', rule);
      const { stdout } = await run(process.execPath, [resolve(REPO, 'dist/cli.mjs'), 'inherit', '--model', STORIES, '--select', rule, '--layers', '3', '--text', text, '--out', out]);
      expect(stdout).toMatch(new RegExp(`^${rule}: .* -> blocks \\[${want.join(',')}\\]`, 'm'));
      expect(JSON.parse(readFileSync(join(out, 'inheritune.json'), 'utf8')).blocks).toEqual(want);
    }
    // analyze reports both measures over its windows
    const { stdout } = await run(process.execPath, [resolve(REPO, 'dist/cli.mjs'), 'analyze', '--model', STORIES, '--text', text, '--sequences', '4', '--seq', '64', '--json']);
    const a = JSON.parse(stdout), s = await blockSimilarity(m, tokens, { sequences: 4, seq: 64 });
    checkTensor('analyze block_influence', a.block_influence, s.block_influence, 1e-6, 0);
    expect(a.angular.map((r: number[]) => r.length)).toEqual([5, 4, 3, 2, 1]);
    m.destroy();
  });
});
