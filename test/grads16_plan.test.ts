// grads16_plan: --grad-dtype through the CLI (built dist/cli.mjs). The plan of the 13-of-26-block
// OpenLLaMA-3B model (its config.json is all plan reads) with --recompute --optim adamw8bit
// --grad-dtype bf16 and clipping on fits 16 GiB at B 1, T 64 and 20 GiB at T 2048 (f32 gradients do not
// fit 16 GiB); a short stories260K run with bf16 gradients ends within 2 % of f32's validation loss (the
// 200-step comparison is scripts/grad-dtype.mjs) and its plan is within 10 % of the measured peak of
// GPU bytes; bad values are refused by train and plan.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, SHARED, testGpu } from './helpers.js';

const run = promisify(execFile);
const CLI = resolve(REPO, 'dist/cli.mjs');
const BIN = resolve(SHARED, 'stories260k/stories260K.bin'), TOK = resolve(SHARED, 'stories260k/tok512.bin');
const TEXT = resolve(SHARED, 'tinystories-sample/tinystories_val.txt');
const GiB = 2 ** 30;

async function cli(...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [CLI, ...args], { maxBuffer: 1 << 26 });
  return JSON.parse(stdout);
}

let hasGpu = false, work = '';
beforeAll(async () => {
  const g = await testGpu();
  hasGpu = g !== null;
  g?.destroy();
  work = mkdtempSync(join(tmpdir(), 'grads16-'));
});

describe('--grad-dtype (CLI)', () => {
  it('the 13-block OpenLLaMA-3B plan with --recompute --optim adamw8bit --grad-dtype bf16, clipping on: <= 16 GiB at T 64, <= 20 GiB at T 2048', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const dir = join(work, 'm13');
    await import('node:fs').then((fs) => fs.mkdirSync(dir));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 3200, intermediate_size: 8640,
      num_hidden_layers: 13, num_attention_heads: 32, num_key_value_heads: 32, vocab_size: 32000, max_position_embeddings: 2048, rms_norm_eps: 1e-6,
      rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu', torch_dtype: 'bfloat16' }));
    const plan = (T: number, ...extra: string[]) => cli('plan', '--model', dir, '--batch', '1', '--seq', String(T), '--recompute', '--optim', 'adamw8bit', '--memory', '16GiB', '--json', ...extra);
    const f32 = await plan(64), b64 = await plan(64, '--grad-dtype', 'bf16'), b2048 = await plan(2048, '--grad-dtype', 'bf16', '--memory', '20GiB');
    expect(b64.parameters).toBe(1815638400);
    expect(f32.fits).toBe(false);
    expect(f32.suggestions[0]).toBe('--grad-dtype bf16'); // the first flag that fits keeps clipping
    expect(b64.fits).toBe(true);
    expect(b64.total).toBeLessThanOrEqual(16 * GiB);
    expect(b2048.fits).toBe(true);
    expect(b2048.total).toBeLessThanOrEqual(20 * GiB);
    // gradients: 2 bytes a parameter (+ padding) and f32 staging of one block and the tensors outside the blocks
    const grads = (p: any) => p.parts.find((x: any) => x.part === 'gradients').bytes;
    const block = 4 * 3200 * 3200 + 3 * 3200 * 8640 + 2 * 3200, rest = 2 * 32000 * 3200 + 3200;
    expect(grads(b64) / (2 * 1815638400 + 4 * (block + rest)) - 1).toBeLessThan(1e-3);
    expect(grads(b64)).toBeGreaterThanOrEqual(2 * 1815638400 + 4 * (block + rest));
    expect(grads(f32) - grads(b64)).toBeGreaterThan(2 * GiB);
  });

  it('stories260K, 40 steps of 2 micro-batches: bf16 gradients end within 2 % of f32 (validation loss); the plan is within 10 % of the measured GPU peak', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const train = (name: string, ...extra: string[]) => cli('train', '--model', BIN, '--tokenizer', TOK, '--text', TEXT, '--steps', '40', '--batch', '4', '--seq', '64',
      '--val-windows', '8', '--out', join(work, name), '--json', ...extra);
    const a = await train('f32', '--grad-accum', '2'), b = await train('bf16', '--grad-dtype', 'bf16', '--grad-accum', '2');
    expect(Math.abs(b.val_loss / a.val_loss - 1)).toBeLessThan(0.02);
    expect(b.losses).not.toEqual(a.losses); // the gradients really were bf16
    expect(Math.abs(b.plan_bytes / b.gpu_peak_bytes - 1)).toBeLessThan(0.1);
  });

  it('refuses --grad-dtype other than f32 or bf16 in train and plan', async (ctx) => {
    if (!hasGpu) return ctx.skip();
    const err = (...args: string[]) => run(process.execPath, [CLI, ...args]).then(() => null, (e) => e);
    const p = await err('plan', '--model', BIN, '--batch', '1', '--seq', '32', '--grad-dtype', 'f16');
    expect(p?.code).toBe(1);
    expect(p.stderr).toMatch(/--grad-dtype f16: expected f32 or bf16/);
    const t = await err('train', '--model', BIN, '--tokenizer', TOK, '--text', TEXT, '--steps', '1', '--batch', '1', '--seq', '32', '--out', join(work, 'bad'), '--grad-dtype', 'fp8');
    expect(t?.code).toBe(1);
    expect(t.stderr).toMatch(/gradDtype.* fp8: expected f32 or bf16|grad-dtype fp8/);
  });
});
