// savings: the paper's claim in numbers — how many training tokens a model needs to reach a validation
// loss, against the random-init baseline. For every model of a run, the tokens at which its validation
// loss first reaches (a) the baseline's final loss and (b) the reference's loss, read off its
// validation points (the loss before training at 0 tokens, then every evaluation: `evalEvery` sets the
// resolution; no interpolation), and the ratio of the baseline's tokens to its own (null where either
// never gets there). A ratio of 5 reads: this model got there with 5x fewer tokens than random init.
import type { StepMetrics } from '../train/trainer.js';

/** what savings needs of a trained model: its loss before training and its per-step metrics */
export interface Curve { label: string; init_val_loss: number; curve: StepMetrics[] }

export interface Savings {
  label: string;
  tokens_trained: number;
  /** tokens at which its validation loss first reached the baseline's final loss (null: never) */
  tokens_to_baseline_final: number | null;
  /** tokens at which it first reached the reference's validation loss (null: never) */
  tokens_to_reference: number | null;
  /** the baseline's tokens to its own final loss over this model's (null: this model never got there, or was there at 0 tokens) */
  ratio_to_baseline_final: number | null;
  /** the baseline's tokens to the reference's loss over this model's (null: either never got there) */
  ratio_to_reference: number | null;
}

/** the validation points of a curve: [tokens, loss], starting with the loss before training at 0 tokens */
export function valPoints(c: Curve): [number, number][] {
  return [[0, c.init_val_loss], ...c.curve.filter((m) => m.val_loss !== undefined).map((m): [number, number] => [m.tokens, m.val_loss!])];
}

/** the tokens at which the curve's validation loss is first <= target (null: never) */
export function tokensTo(c: Curve, target: number): number | null {
  return valPoints(c).find(([, l]) => l <= target)?.[0] ?? null;
}

/** savings of every model against the baseline (which is among them, with ratio 1 where it gets there) */
export function tokenSavings(models: Curve[], baseline: Curve, referenceLoss: number): Savings[] {
  const pts = valPoints(baseline), baseFinal = pts[pts.length - 1][1];
  const b = { final: tokensTo(baseline, baseFinal), ref: tokensTo(baseline, referenceLoss) };
  // a model already there before training (0 tokens) has no finite ratio: null, with its tokens 0
  const ratio = (base: number | null, mine: number | null) => (base === null || !mine ? null : base / mine);
  return models.map((m) => {
    const final = tokensTo(m, baseFinal), ref = tokensTo(m, referenceLoss);
    return { label: m.label, tokens_trained: m.curve.at(-1)?.tokens ?? 0, tokens_to_baseline_final: final, tokens_to_reference: ref,
      ratio_to_baseline_final: ratio(b.final, final), ratio_to_reference: ratio(b.ref, ref) };
  });
}

/** one sentence per model, as `demo` prints it: "round-0 (6 blocks, inherited) reached ... after 40 of 200 steps: 5x fewer tokens" */
export function savingsLine(s: Savings, steps: (tokens: number) => number, what: string, baselineFinal: number): string {
  const total = steps(s.tokens_trained);
  if (s.tokens_to_baseline_final === null) return `${what} did not reach the random-init baseline's final loss ${baselineFinal.toFixed(4)} in ${total} steps`;
  if (s.tokens_to_baseline_final === 0) return `${what} was below the random-init baseline's final loss ${baselineFinal.toFixed(4)} before any training`;
  const at = steps(s.tokens_to_baseline_final), r = s.ratio_to_baseline_final!;
  const fewer = `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}x fewer tokens`;
  return `${what} reached the baseline's final loss ${baselineFinal.toFixed(4)} after ${at} of ${total} steps: ${fewer}`;
}
