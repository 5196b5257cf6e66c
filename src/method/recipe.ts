// recipe: the Inheritune recipe end to end (arXiv 2404.08634, Algorithm 1), isomorphic.
//   0) evaluate the reference on the validation data
//   1) inherit k blocks (default L/2; or a --select list, or rank-guided from the lazy-layer analysis)
//   2) train T steps
//   3) if the validation loss is above the reference's (+ tolerance), grow by `grow` blocks and go
//      again (reinherit: start again from the first k+grow reference blocks, as the paper's logs do;
//      warm-append: keep the trained blocks and append the next reference blocks), up to maxRounds
//   +) baseline: the first round's model size from random init, same data, steps and seed
//   +) distill: every round trains with the reference as its teacher (src/train/distill.ts)
//   +) kd_baseline: the paper's KD baseline: the baseline's size from random init, distilled from the
//      reference for the same steps
// The recipe decides; the caller's hooks act: they make each round's start model from a StartSpec
// (Node streams it tensor by tensor from the reference's files into round-N/init, src/node/recipe.ts,
// so no model is ever whole in memory), evaluate it, and train it with resumable checkpoints.
import type { ModelConfig } from '../model/config.js';
import { countParameters } from '../model/config.js';
import type { Model } from '../model/model.js';
import { defaultK, inheritPlan, randomPlan } from './inherit.js';
import { windowedLoss, windowCount } from '../train/evaluate.js';
import type { StepMetrics, TrainOptions } from '../train/trainer.js';
import { lineChart, type Series } from '../util/svg.js';
import { fail } from '../util/errors.js';
import { tokenSavings, savingsLine, valPoints, type Savings } from './savings.js';

export interface RecipeOptions {
  layers?: number;                 // k of the first round (default: defaultK, L/2)
  select?: number[];               // explicit blocks of the first round (rank-guided selection resolves to this)
  grow: number;                    // blocks added per round
  maxRounds: number;
  tolerance: number;               // stop when val_loss <= reference + tolerance
  growth: 'reinherit' | 'warm-append';
  baseline: boolean;
  preset: 'paper' | 'official';
  distill?: boolean;               // the rounds train with the reference as teacher (train.distill: the loss's settings)
  kdBaseline?: boolean;            // also the KD baseline: random init, distilled from the reference
  train: TrainOptions;
}

export const RECIPE_DEFAULTS = { grow: 2, maxRounds: 3, tolerance: 0, growth: 'reinherit' as const, baseline: false, preset: 'paper' as const };

export interface RoundResult {
  label: string;                   // 'round-0', ..., 'baseline', 'kd_baseline'
  blocks: number[] | null;         // reference blocks it started from (null: random init)
  n_layers: number;
  parameters: number;
  init_val_loss: number;           // before training
  val_loss: number;                // after training
  curve: StepMetrics[];
  reached: boolean;                // val_loss <= reference + tolerance
  seconds: number;
}

export interface RecipeReport {
  reference: { n_layers: number; parameters: number; family: string; val_loss: number };
  target_val_loss: number;
  rounds: RoundResult[];
  baseline?: RoundResult;
  kd_baseline?: RoundResult;
  reached: boolean;
  final: string;                   // label of the model the recipe ends with
  savings?: Savings[];             // with a baseline: the tokens each model needed against it (src/method/savings.ts)
  options: Omit<RecipeOptions, 'train'> & { train: TrainOptions };
}

/**
 * How a round's model starts: reference blocks (inheritPlan), the previous round's trained model with
 * the next reference blocks appended (warm-append: appendPlan), or random init (randomPlan).
 */
export type StartSpec =
  | { kind: 'inherit'; blocks: number[]; preset: 'paper' | 'official'; seed: number }
  | { kind: 'append'; trained: string; trainedBlocks: number[]; added: number[] }
  | { kind: 'random'; nLayers: number; seed: number };

export interface RecipeHooks {
  /** make the start model of `label` (a resumed round has it already) */
  start(label: string, spec: StartSpec): Promise<void>;
  /** the validation loss of the reference (null) or of the start of `label`, before training */
  valLoss(label: string | null): Promise<number>;
  /** train the start of `label` (with the reference as teacher when `distill`): its per-step metrics and final validation loss */
  train(label: string, distill: boolean): Promise<{ metrics: StepMetrics[]; valLoss: number }>;
  /** results of rounds finished by an earlier, interrupted run (resume) */
  done?: Record<string, RoundResult>;
  onRound?: (r: RoundResult) => void | Promise<void>;
  log?: (line: string) => void;
}

/** the validation loss of a model on the recipe's validation windows */
export async function validationLoss(m: Model, val: ArrayLike<number>, o: TrainOptions): Promise<number> {
  const W = windowCount(val.length, o.seq, o.valWindows);
  if (W < 1) fail(`the validation text gives ${val.length} tokens, fewer than one window of ${o.seq}+1`, 'use a longer validation text or a shorter `seq`');
  return (await windowedLoss(m, val, o.seq, W, { batch: o.batch })).loss;
}

export async function runRecipe(ref: ModelConfig, opts: RecipeOptions, hooks: RecipeHooks): Promise<RecipeReport> {
  const L = ref.nLayers;
  const log = hooks.log ?? (() => {});
  if (!(opts.grow >= 1 && opts.maxRounds >= 1)) fail('`grow` and `maxRounds` must be at least 1');
  if (opts.growth !== 'reinherit' && opts.growth !== 'warm-append') fail(`\`growth\` ${opts.growth}: expected reinherit or warm-append`);
  const refLoss = await hooks.valLoss(null);
  const target = refLoss + opts.tolerance;
  log(`reference: ${L} blocks, ${countParameters(ref)} parameters, val loss ${refLoss.toFixed(4)}`);
  const rounds: RoundResult[] = [];
  let blocks = opts.select ?? Array.from({ length: opts.layers ?? defaultK(L) }, (_, i) => i);
  let added: number[] = [];
  const seed = opts.train.seed;

  const once = async (label: string, spec: StartSpec, config: ModelConfig, from: number[] | null, distill = false): Promise<RoundResult> => {
    const cached = hooks.done?.[label];
    if (cached) {
      log(`${label}: done earlier (val loss ${cached.val_loss.toFixed(4)})`);
      return cached;
    }
    const t0 = Date.now();
    await hooks.start(label, spec);
    const init = await hooks.valLoss(label);
    log(`${label}: ${config.nLayers} blocks${from ? ` [${from}]` : ' (random init)'}, val loss before training ${init.toFixed(4)}`);
    const { metrics, valLoss } = await hooks.train(label, distill);
    const r: RoundResult = { label, blocks: from, n_layers: config.nLayers, parameters: countParameters(config),
      init_val_loss: init, val_loss: valLoss, curve: metrics, reached: valLoss <= target, seconds: (Date.now() - t0) / 1000 };
    log(`${label}: val loss after ${metrics.length} steps ${valLoss.toFixed(4)} (reference ${refLoss.toFixed(4)})${r.reached ? ' — reached' : ''}`);
    await hooks.onRound?.(r);
    return r;
  };

  for (let round = 0; round < opts.maxRounds; round++) {
    const label = `round-${round}`;
    const spec: StartSpec = round > 0 && opts.growth === 'warm-append'
      ? { kind: 'append', trained: `round-${round - 1}`, trainedBlocks: blocks.slice(0, blocks.length - added.length), added }
      : { kind: 'inherit', blocks: blocks.slice(), preset: opts.preset, seed };
    const r = await once(label, spec, inheritPlan(ref, { select: blocks, preset: opts.preset, seed }).config, blocks.slice(), !!opts.distill);
    rounds.push(r);
    if (r.reached) break;
    const maxBlock = Math.max(...blocks);
    const more = Array.from({ length: opts.grow }, (_, i) => maxBlock + 1 + i).filter((b) => b < L);
    if (more.length === 0) { log('no reference blocks left to add'); break; }
    if (round + 1 < opts.maxRounds) { blocks = [...blocks, ...more]; added = more; }
  }
  let baseline: RoundResult | undefined, kdBaseline: RoundResult | undefined;
  const size = rounds[0].n_layers;
  if (opts.baseline) baseline = await once('baseline', { kind: 'random', nLayers: size, seed }, randomPlan(ref, size, seed).config, null);
  if (opts.kdBaseline) kdBaseline = await once('kd_baseline', { kind: 'random', nLayers: size, seed }, randomPlan(ref, size, seed).config, null, true);
  const reached = rounds.some((r) => r.reached);
  return {
    reference: { n_layers: L, parameters: countParameters(ref), family: ref.family, val_loss: refLoss },
    target_val_loss: target, rounds, baseline, ...(kdBaseline ? { kd_baseline: kdBaseline } : {}), reached, final: rounds[rounds.length - 1].label,
    ...(baseline ? { savings: tokenSavings([...rounds, ...(kdBaseline ? [kdBaseline] : []), baseline], baseline, refLoss) } : {}),
    options: { ...opts, select: opts.select },
  };
}

/** validation loss against step: reference (flat line), every round, the baseline */
export function recipeSvg(rep: RecipeReport): string {
  const valPoints = (r: RoundResult): [number, number][] =>
    [[0, r.init_val_loss] as [number, number], ...r.curve.filter((m) => m.val_loss !== undefined).map((m) => [m.step + 1, m.val_loss!] as [number, number])];
  const steps = Math.max(1, ...rep.rounds.map((r) => r.curve.length), rep.baseline?.curve.length ?? 0);
  const series: Series[] = [
    { name: `reference (${rep.reference.n_layers} blocks)`, points: [[0, rep.reference.val_loss], [steps, rep.reference.val_loss]], dashed: true },
    ...rep.rounds.map((r) => ({ name: `${r.label}: ${r.n_layers} blocks`, points: valPoints(r) })),
  ];
  if (rep.baseline) series.push({ name: `random init (${rep.baseline.n_layers} blocks)`, points: valPoints(rep.baseline) });
  if (rep.kd_baseline) series.push({ name: `random init + KD (${rep.kd_baseline.n_layers} blocks)`, points: valPoints(rep.kd_baseline) });
  return lineChart(series, { title: 'Inheritune: validation loss', xLabel: 'training step', yLabel: 'validation loss (nats/token)' });
}

export function recipeSummary(rep: RecipeReport): string {
  const rows = [...rep.rounds, ...(rep.baseline ? [rep.baseline] : []), ...(rep.kd_baseline ? [rep.kd_baseline] : [])].map((r) =>
    `| ${r.label} | ${r.blocks ? `[${r.blocks.join(', ')}]` : 'random init'} | ${r.n_layers} | ${r.parameters} | ${r.init_val_loss.toFixed(4)} | ${r.val_loss.toFixed(4)} | ${r.curve.length} | ${r.reached ? 'yes' : 'no'} |`);
  return [
    '# Inheritune run', '',
    `Reference: ${rep.reference.family}, ${rep.reference.n_layers} blocks, ${rep.reference.parameters} parameters, validation loss ${rep.reference.val_loss.toFixed(4)}` +
      ` (target ${rep.target_val_loss.toFixed(4)}).`, '',
    '| model | blocks from reference | layers | parameters | val loss at start | val loss after training | steps | reached reference |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |', ...rows, '',
    rep.reached ? `The recipe reached the reference's validation loss with ${rep.rounds.find((r) => r.reached)!.n_layers} blocks.`
      : `The recipe did not reach the reference's validation loss within ${rep.rounds.length} round(s); the best was ${Math.min(...rep.rounds.map((r) => r.val_loss)).toFixed(4)}.`,
    '', ...savingsSection(rep),
  ].join('\n');
}

/** the token savings against the baseline: a table, then one sentence per inherited model */
function savingsSection(rep: RecipeReport): string[] {
  if (!rep.savings || !rep.baseline) return [];
  const t = rep.options.train, perStep = t.batch * t.seq * t.gradAccum, steps = (tokens: number) => Math.round(tokens / perStep);
  const pts = valPoints(rep.baseline), baseFinal = pts[pts.length - 1][1];
  const n = (x: number | null) => (x === null ? 'never' : `${x} (${steps(x)} steps)`), r = (x: number | null) => (x === null ? '—' : `${x.toFixed(1)}x`);
  const byLabel = new Map([...rep.rounds, rep.baseline, ...(rep.kd_baseline ? [rep.kd_baseline] : [])].map((m) => [m.label, m]));
  const kd = (label: string) => (label === 'kd_baseline' || (rep.options.distill && label.startsWith('round-')) ? ' distilled' : '');
  const what = (label: string) => { const m = byLabel.get(label)!; return `the ${m.blocks ? 'inherited' : 'random-init'}${kd(label)} ${m.n_layers}-block model (${label})`; };
  return [
    `## Tokens saved (validation every ${t.evalEvery || t.steps} steps; ${perStep} tokens a step)`, '',
    `| model | tokens to the baseline's final loss ${baseFinal.toFixed(4)} | fewer tokens than the baseline | tokens to the reference's loss ${rep.reference.val_loss.toFixed(4)} | fewer tokens than the baseline |`,
    '| --- | ---: | ---: | ---: | ---: |',
    ...rep.savings.map((s) => `| ${s.label} | ${n(s.tokens_to_baseline_final)} | ${r(s.ratio_to_baseline_final)} | ${n(s.tokens_to_reference)} | ${r(s.ratio_to_reference)} |`), '',
    ...rep.savings.filter((s) => s.label !== rep.baseline!.label).map((s) => `- ${savingsLine(s, steps, what(s.label), baseFinal)}`), '',
  ];
}
