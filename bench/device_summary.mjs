// device_summary: bench/device.sh's last step. Reads what the stages left in WORK (bench.json,
// torch.jsonl, big13.jsonl, big13-train-f32.jsonl / -f16.jsonl, hf.jsonl; any may be missing) and writes
// OUT/results.json (every line, plus the figures issue 29 asks for) and OUT/results.md (the same as tables):
//   - GPT-2 124M (B 4, T 256): our step at f32 / f16 against PyTorch eager f32, TF32, bf16 autocast
//   - matmul at 4096^3: every variant's GFLOP/s at f32 and f16, the subgroup-matrix one among them
//   - 13 of OpenLLaMA-3B's blocks at T 2048: tokens/s and the hours 1B and 0.39B tokens take (0.39B: what
//     the paper's released config trains), PyTorch's three settings and ours at f32 / f16, beside the
//     10,836 tokens/s PyTorch measured on an L40 for the same model (LLM-Inheritune issue #4)
//   - transformers loading our exported directory: the logits' largest difference
//   node bench/device_summary.mjs WORK OUT
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [work, out] = process.argv.slice(2);
if (!work || !out) { console.error('usage: node bench/device_summary.mjs WORK OUT'); process.exit(2); }
mkdirSync(out, { recursive: true });
const lines = (f) => (existsSync(join(work, f)) ? readFileSync(join(work, f), 'utf8').split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
  try { return [JSON.parse(l)]; } catch { return []; }
}) : []);
const bench = existsSync(join(work, 'bench.json')) ? JSON.parse(readFileSync(join(work, 'bench.json'), 'utf8')) : null;
const torch = lines('torch.jsonl'), big13 = lines('big13.jsonl').filter((j) => j.setting), hf = lines('hf.jsonl')[0] ?? null;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const hours = (tps) => ({ hours_1B: 1e9 / tps / 3600, hours_0_39B: 0.39e9 / tps / 3600 });
const r = (x, d = 1) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);

// ours at T 2048: the steps after the first (which tunes the kernels and makes the pipelines)
const ours13 = ['f32', 'f16'].flatMap((p) => {
  const m = lines(`big13-train-${p}.jsonl`).filter((j) => j.step >= 1 && Number.isFinite(j.tokens_per_s));
  if (!m.length) return [];
  const tps = median(m.map((j) => j.tokens_per_s));
  return [{ who: `inheritune-rt train --recompute --optim adamw8bit${p === 'f16' ? ' --precision f16' : ''}`, tokens_per_s: r(tps), steps: m.length,
    loss: m.at(-1).loss, ...Object.fromEntries(Object.entries(hours(tps)).map(([k, v]) => [k, r(v, 2)])) }];
});
const torch13 = big13.map((j) => ({ who: `PyTorch eager ${j.setting}`, tokens_per_s: j.tokens_per_s, step_ms: j.step_ms, model: j.model, device: j.device,
  ...Object.fromEntries(Object.entries(hours(j.tokens_per_s)).map(([k, v]) => [k, r(v, 2)])) }));
const L40 = { who: 'PyTorch (lit-gpt) on an L40, LLM-Inheritune issue #4', tokens_per_s: 10836, ...Object.fromEntries(Object.entries(hours(10836)).map(([k, v]) => [k, r(v, 2)])) };

const rows = bench?.rows ?? [];
// our rows of the config and B, T PyTorch ran (GPT-2 124M at B 4, T 256; the small config in a dry run)
const shape = torch[0] ? `B ${torch[0].B} T ${torch[0].T}` : 'B 4 T 256';
const gpt2Ours = rows.filter((x) => x.what.startsWith('train ') && x.what.endsWith(shape) && /^inheritune-rt( --precision f16)?$/.test(x.variant));
const gpt2Torch = torch.map((j) => ({ who: `PyTorch eager ${j.setting ?? (j.tf32 ? 'tf32' : 'f32')}`, ms: j.ms_per_step, tokens_per_s: j.tokens_per_s, B: j.B, T: j.T, device: j.device }));
const torchF32 = gpt2Torch.find((x) => x.who === 'PyTorch eager f32');
const oursF32 = gpt2Ours.find((x) => x.variant === 'inheritune-rt');
const mm4096 = rows.filter((x) => x.what === 'matmul 4096^3').map((x) => ({ variant: x.variant, ms: r(x.ms, 2), tflops: r(x.gflops / 1000, 2) }));
const result = {
  date: new Date().toISOString(), adapter: bench?.adapter ?? null, features: bench?.features ?? null, fma_peak_gflops: bench?.fma_peak_gflops ?? null,
  gpt2_124m: { ours: gpt2Ours.map((x) => ({ who: x.variant, ms: r(x.ms), tokens_per_s: r(x.tokens_per_s), mfu: r(x.mfu) })), pytorch: gpt2Torch,
    ours_f32_over_pytorch_f32_time: oursF32 && torchF32 ? r(oursF32.ms / torchF32.ms, 2) : null, target: 'ours <= 2x PyTorch eager f32 step time' },
  matmul_4096: mm4096,
  big13_T2048: { pytorch: torch13, ours: ours13, reference: L40 },
  transformers: hf,
  raw: { bench_rows: rows, torch, big13: lines('big13.jsonl'), hf },
};
writeFileSync(join(out, 'results.json'), JSON.stringify(result, null, 1) + '\n');

const md = [];
const table = (head, body) => { md.push(`| ${head.join(' | ')} |`, `|${head.map(() => ' --- |').join('')}`, ...body.map((b) => `| ${b.map((x) => x ?? '').join(' | ')} |`), ''); };
md.push(`# GPU run, ${result.date.slice(0, 10)}`, '', `Adapter: ${bench ? Object.values(bench.adapter).join(' / ') : 'no bench.json'}; GPU: ${torch[0]?.device ?? big13[0]?.device ?? '?'}`, '');
md.push(`## ${gpt2Ours[0]?.what.replace(/^train /, '') ?? 'GPT-2 124M'}: training step`, '');
table(['who', 'ms/step', 'tokens/s'], [...result.gpt2_124m.ours.map((x) => [x.who, x.ms, x.tokens_per_s]), ...gpt2Torch.map((x) => [`${x.who} (${x.device})`, x.ms, x.tokens_per_s])]);
if (result.gpt2_124m.ours_f32_over_pytorch_f32_time !== null) md.push(`ours f32 / PyTorch eager f32 step time: **${result.gpt2_124m.ours_f32_over_pytorch_f32_time}x** (target <= 2x)`, '');
md.push('## matmul 4096^3', '');
table(['variant', 'ms', 'TFLOP/s'], mm4096.map((x) => [x.variant, x.ms, x.tflops]));
md.push(`## ${torch13[0]?.model ?? '13 of OpenLLaMA-3B blocks'} (1.82B parameters in the real run), B 1, T ${big13[0]?.T ?? 2048}`, '');
table(['who', 'tokens/s', 'hours for 1B tokens', 'hours for 0.39B tokens'], [...torch13, ...ours13, L40].map((x) => [x.who, x.tokens_per_s, x.hours_1B, x.hours_0_39B]));
md.push('## transformers loads our exported directory', '', hf ? (hf.skipped ? `skipped: ${hf.skipped}` :
  `${hf.class} from ${hf.dir} (transformers ${hf.transformers}, ${hf.device}): largest logit difference ${hf.max_abs_diff} over ${hf.T} x ${hf.V} logits (largest logit ${hf.max_abs_logit}); arg-max agrees ${hf.argmax_agree}; ok: ${hf.ok}`) : 'not run', '');
writeFileSync(join(out, 'results.md'), md.join('\n'));
