// scaler: dynamic loss scaling for --precision f16, the rule of torch.amp.GradScaler. The loss's
// gradient is multiplied by `scale` before backward, so gradients too small for f16 (under 6e-8)
// survive the f16 rounding of the matmul operands; the update divides it out again. A step whose
// gradients overflowed (a non-finite loss or gradient norm) is skipped (no update, the AdamW step count
// does not advance) and the scale halves; after `interval` clean steps in a row it doubles.
import { fail } from '../util/errors.js';

/** torch.amp.GradScaler's defaults: init_scale 2^16, growth_factor 2, backoff_factor 0.5, growth_interval 2000 */
export const SCALER_DEFAULTS = { scale: 2 ** 16, growth: 2, backoff: 0.5, interval: 2000 };

/** what a checkpoint keeps of the scaler: the scale, clean steps since the last change, steps skipped so far */
export interface ScalerState { scale: number; tracker: number; skipped: number }

// below this the forward pass itself overflows f16 and no scale can help
const MIN_SCALE = 2 ** -24;

export class LossScaler {
  scale: number;
  tracker: number;
  skipped: number;

  // interval and init are checked with the other TrainOptions (validateTrainOptions)
  constructor(readonly interval = SCALER_DEFAULTS.interval, init: number = SCALER_DEFAULTS.scale, state?: ScalerState) {
    this.scale = state?.scale ?? init;
    this.tracker = state?.tracker ?? 0;
    this.skipped = state?.skipped ?? 0;
  }

  get state(): ScalerState {
    return { scale: this.scale, tracker: this.tracker, skipped: this.skipped };
  }

  /** after a step's backward: finite = its loss and gradient norm were finite; returns whether to apply the update */
  update(finite: boolean, step: number): boolean {
    if (!finite) {
      this.scale *= SCALER_DEFAULTS.backoff;
      this.tracker = 0;
      this.skipped++;
      if (this.scale < MIN_SCALE) {
        fail(`step ${step}: the f16 loss scale fell to ${this.scale} and the step still overflows: the forward pass itself does not fit f16`,
          'train with `precision` f32, or lower `lr` and resume from the last checkpoint');
      }
      return false;
    }
    if (++this.tracker >= this.interval) {
      this.scale *= SCALER_DEFAULTS.growth;
      this.tracker = 0;
    }
    return true;
  }
}
