// savings: the tokens each model of a run needs to reach the baseline's final loss and the reference's
// (src/method/savings.ts), on hand-made curves whose answers are worked out here by hand.
import { describe, it, expect } from 'vitest';
import { tokenSavings, savingsLine, tokensTo } from '../src/method/savings.js';
import type { StepMetrics } from '../src/train/trainer.js';

// a curve of `steps` steps of 100 tokens, validated at the steps given (step s done = (s+1)*100 tokens)
const curve = (label: string, init: number, vals: Record<number, number>, steps = 10) => ({
  label, init_val_loss: init,
  curve: Array.from({ length: steps }, (_, s): StepMetrics => ({ step: s, loss: 0, lr: 0, grad_norm: 0, tokens: (s + 1) * 100, tokens_per_s: 0, ...(vals[s] !== undefined ? { val_loss: vals[s] } : {}) })),
});

describe('token savings', () => {
  // baseline: 5.0 at start, 3.0 after step 4 (500 tokens), 2.5 at the end (1000 tokens); never reaches the reference 2.0
  const baseline = curve('baseline', 5, { 4: 3.0, 9: 2.5 });
  // inherited: 2.6 at start, 2.5 after step 1 (200 tokens), 1.9 after step 9 (1000 tokens: the reference 2.0 reached)
  const round0 = curve('round-0', 2.6, { 1: 2.5, 4: 2.2, 9: 1.9 });
  // already below the baseline's final loss before training
  const round1 = curve('round-1', 2.4, { 9: 2.1 });

  it('the first validation point at or below the target, 0 tokens for the loss before training', () => {
    expect(tokensTo(round0, 2.5)).toBe(200);
    expect(tokensTo(round0, 2.0)).toBe(1000);
    expect(tokensTo(round1, 2.5)).toBe(0);
    expect(tokensTo(baseline, 2.0)).toBe(null);
  });

  it('ratios of the baseline\'s tokens to each model\'s', () => {
    const s = tokenSavings([round0, round1, baseline], baseline, 2.0);
    expect(s[0]).toEqual({ label: 'round-0', tokens_trained: 1000, tokens_to_baseline_final: 200, tokens_to_reference: 1000, ratio_to_baseline_final: 5, ratio_to_reference: null });
    expect(s[1]).toMatchObject({ tokens_to_baseline_final: 0, ratio_to_baseline_final: null, tokens_to_reference: null });
    expect(s[2]).toMatchObject({ tokens_to_baseline_final: 1000, ratio_to_baseline_final: 1, tokens_to_reference: null, ratio_to_reference: null });
    const steps = (t: number) => t / 100;
    expect(savingsLine(s[0], steps, 'the inherited 6-block model', 2.5)).toBe("the inherited 6-block model reached the baseline's final loss 2.5000 after 2 of 10 steps: 5.0x fewer tokens");
    expect(savingsLine(s[1], steps, 'round-1', 2.5)).toBe("round-1 was below the random-init baseline's final loss 2.5000 before any training");
    const never = tokenSavings([curve('slow', 6, { 9: 2.9 })], baseline, 2.0)[0];
    expect(savingsLine(never, steps, 'slow', 2.5)).toBe("slow did not reach the random-init baseline's final loss 2.5000 in 10 steps");
  });
});
