// evaluate: windowed validation loss, as the golden numbers define it. Window w holds tokens
// [w*T, w*T + T] (T+1 tokens, stride T, from the start): inputs are the first T, targets the last
// T; every window starts fresh at position 0. The loss is the mean next-token cross-entropy over
// all W*T targets (nats); ppl = exp(loss).
import type { Model } from '../model/model.js';
import { fail } from '../util/errors.js';

/** how many windows of T+1 tokens (stride T) `tokens` tokens hold, at most `max` */
export function windowCount(tokens: number, T: number, max = Infinity): number {
  return Math.max(0, Math.min(max, Math.floor((tokens - 1) / T)));
}

export interface WindowedLoss { loss: number; ppl: number; tokens: number; windows: number }

export async function windowedLoss(model: Model, tokens: ArrayLike<number>, T: number, W: number,
                                   opts: { batch?: number; onWindow?: (done: number, total: number) => void; what?: string } = {}): Promise<WindowedLoss> {
  if (!(Number.isInteger(T) && T >= 1)) fail(`\`seq\` ${T} must be a positive integer`);
  if (!(Number.isInteger(W) && W >= 1)) fail(`\`windows\` ${W} must be a positive integer`);
  const need = W * T + 1;
  if (tokens.length < need) {
    const most = windowCount(tokens.length, T);
    fail(`${opts.what ?? 'the text'} gives ${tokens.length} tokens, but ${W} windows of ${T}+1 tokens need ${need}`,
      most >= 1 ? `use \`windows\` ${most} or less, a shorter \`seq\`, or a longer text` : 'use a shorter `seq` or a longer text');
  }
  const B = Math.max(1, Math.min(opts.batch ?? 8, W));
  let sum = 0;
  for (let w0 = 0; w0 < W; w0 += B) {
    const b = Math.min(B, W - w0);
    const ids = new Uint32Array(b * T), tgt = new Uint32Array(b * T);
    for (let i = 0; i < b; i++) {
      for (let t = 0; t < T; t++) {
        ids[i * T + t] = tokens[(w0 + i) * T + t];
        tgt[i * T + t] = tokens[(w0 + i) * T + t + 1];
      }
    }
    const losses = await model.losses(ids, tgt, b, T);
    for (const l of losses) {
      if (!Number.isFinite(l)) fail(`the loss of window ${w0}..${w0 + b - 1} is ${l}`, 'the model weights produce NaN/Inf; check the checkpoint');
      sum += l;
    }
    opts.onWindow?.(w0 + b, W);
  }
  const loss = sum / (W * T);
  return { loss, ppl: Math.exp(loss), tokens: W * T, windows: W };
}
