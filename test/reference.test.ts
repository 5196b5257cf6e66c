// reference: the built-in reference the package ships (assets/reference, made by `inheritune-rt
// pretrain`) against a float64 torch run of the same files (test/ref/reference_ref.py); that it is the
// model its pretrain.json describes; that demo starts from it without training; that `pretrain`
// writes a shippable directory; and that docs/fidelity.md's commands are ones the CLI accepts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, existsSync, statSync, mkdtempSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Model, type Gpu } from '../src/node/index.js';
import { readModel } from '../src/node/models.js';
import { windowedLoss } from '../src/train/evaluate.js';
import { BUILTIN_REFERENCE, BUILTIN_PRETRAIN, brownData, builtinReference, shippedReferenceDir } from '../src/node/recipe.js';
import { SPEC } from '../src/node/cli/specs.js';
import { parseFlags, commandHelp } from '../src/node/cli/flags.js';
import { REPO, testGpu } from './helpers.js';

const run = promisify(execFile);
const ASSET = join(REPO, 'assets/reference');
const GOLDEN = JSON.parse(readFileSync(join(REPO, 'test/ref/reference_ref.json'), 'utf8'));
const PRETRAIN = JSON.parse(readFileSync(join(ASSET, 'pretrain.json'), 'utf8'));

let g: Gpu | null = null;
beforeAll(async () => { g = await testGpu(); });
afterAll(() => g?.destroy());

describe('the shipped built-in reference', () => {
  it('is found from the package, is the built-in config, a few MB, with its pre-training record', async () => {
    expect(shippedReferenceDir()).toBe(ASSET);
    const ck = await readModel(ASSET);
    expect(ck.config).toMatchObject({ nLayers: 12, dim: BUILTIN_REFERENCE.dim, hiddenDim: BUILTIN_REFERENCE.hiddenDim, vocabSize: 256, tiedEmbeddings: true });
    expect(statSync(join(ASSET, 'model.safetensors')).size).toBe(GOLDEN.model_bytes);
    expect(statSync(join(ASSET, 'model.safetensors')).size).toBeLessThan(5e6);
    expect(readdirSync(ASSET)).not.toContain('optimizer.safetensors');
    expect(PRETRAIN.options).toMatchObject({ steps: BUILTIN_PRETRAIN.steps, batch: BUILTIN_PRETRAIN.batch, seq: BUILTIN_PRETRAIN.seq, lr: BUILTIN_PRETRAIN.lr });
    expect(PRETRAIN.val_curve.at(-1).step).toBe(BUILTIN_PRETRAIN.steps);
  });

  it('its validation loss equals the float64 torch run of the same files, and the one its pretrain.json records', async (ctx) => {
    if (!g) return ctx.skip();
    const { val } = brownData();
    expect(Array.from(val.slice(0, 16)), 'the package and the torch script split and encode the Brown Corpus alike').toEqual(GOLDEN.first_ids);
    const m = Model.create(g, await readModel(ASSET));
    try {
      const torch = await windowedLoss(m, val, GOLDEN.seq, GOLDEN.windows, { batch: 8 });
      expect(Math.abs(torch.loss - GOLDEN.loss), `${torch.loss} vs torch ${GOLDEN.loss}`).toBeLessThan(2e-4);
      // the trainer's final validation: valWindows windows of seq + 1 bytes
      const rec = await windowedLoss(m, val, PRETRAIN.options.seq, PRETRAIN.options.valWindows, { batch: 8 });
      expect(Math.abs(rec.loss - PRETRAIN.final_val_loss), `${rec.loss} vs pretrain.json ${PRETRAIN.final_val_loss}`).toBeLessThan(1e-5);
    } finally {
      m.destroy();
    }
  });

  it('demo starts from it without pre-training: the files are copied into DIR/reference', async (ctx) => {
    if (!g) return ctx.skip();
    const out = mkdtempSync(join(tmpdir(), 'inheritune-builtin-'));
    const lines: string[] = [];
    const r = await builtinReference(g, out, null, (l) => lines.push(l));
    expect(r.reference).toBe(join(out, 'reference'));
    expect(existsSync(join(out, 'reference/checkpoint')), 'nothing was trained').toBe(false);
    expect(readFileSync(join(out, 'reference/model.safetensors'))).toEqual(readFileSync(join(ASSET, 'model.safetensors')));
    expect(lines.join('\n')).toMatch(/12 blocks/);
  });
});

describe('inheritune-rt pretrain', () => {
  it('--steps 2 writes a resumable run and DIR/model: the reference without optimizer state, with pretrain.json', async (ctx) => {
    if (!g) return ctx.skip();
    const out = join(mkdtempSync(join(tmpdir(), 'inheritune-pretrain-')), 'ref');
    const { stdout } = await run(process.execPath, [join(REPO, 'dist/cli.mjs'), 'pretrain', '--steps', '2', '--out', out, '--json'], { maxBuffer: 1 << 24 });
    const s = JSON.parse(stdout);
    expect(s.options.steps).toBe(2);
    expect(s.val_curve.at(-1).step).toBe(2);
    expect(Number.isFinite(s.final_val_loss)).toBe(true);
    expect(existsSync(join(out, 'checkpoint/optimizer.safetensors'))).toBe(true);
    const files = readdirSync(join(out, 'model'));
    expect(files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'pretrain.json', 'loss.svg']));
    expect(files).not.toContain('optimizer.safetensors');
    expect(files).not.toContain('trainer.json');
    expect((await readModel(join(out, 'model'))).config.nLayers).toBe(12);
    // run again: the finished run is kept, nothing retrained
    const again = JSON.parse((await run(process.execPath, [join(REPO, 'dist/cli.mjs'), 'pretrain', '--steps', '2', '--out', out, '--json'])).stdout);
    expect(again).toEqual(s);
    // a training run pretrain did not start is refused, and left as it is
    const other = join(mkdtempSync(join(tmpdir(), 'inheritune-pretrain-')), 'other');
    mkdirSync(join(other, 'checkpoint'), { recursive: true });
    writeFileSync(join(other, 'checkpoint/trainer.json'), '{}');
    const err = await run(process.execPath, [join(REPO, 'dist/cli.mjs'), 'pretrain', '--out', other]).then(() => null, (e) => e);
    expect(err?.stderr).toMatch(/--out .*other holds a training run that `inheritune-rt pretrain` did not start\n---> HINT: pass another --out/);
    expect(readdirSync(other)).toEqual(['checkpoint']);
  });
});

describe('docs/fidelity.md', () => {
  it('exists, shows the five experiments and its plots, and every command it prints is one the CLI accepts', () => {
    const md = readFileSync(join(REPO, 'docs/fidelity.md'), 'utf8');
    for (const h of ['2(a)', '2(b)', '2(c)', '2(d)', '2(e)']) expect(md).toContain(`## ${h}`);
    for (const [, svg] of md.matchAll(/\]\((fidelity-[\w-]+\.svg)\)/g)) expect(readFileSync(join(REPO, 'docs', svg), 'utf8')).toMatch(/^<svg/);
    const cmds = [...md.matchAll(/^npx inheritune-rt (.+)$/gm)].map((m) => m[1].replace(/\s+(#.*|>.*)$/, ''));
    expect(cmds.length).toBeGreaterThanOrEqual(7);
    for (const c of cmds) {
      const [cmd, ...args] = c.split(/\s+/).map((a) => a.replace(/^"(.*)"$/, '$1'));
      expect(SPEC[cmd], c).toBeDefined();
      expect(() => parseFlags(SPEC[cmd], args), c).not.toThrow();
    }
    expect(commandHelp(SPEC.run)).toContain('docs/fidelity.md');
  });
});
