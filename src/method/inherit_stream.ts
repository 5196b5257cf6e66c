// inherit_stream: Inheritune's inherit step from a Hugging Face directory without loading it: for
// every output tensor of the plan (src/method/inherit.ts), the kept reference tensor's raw bytes are
// read in chunks and written out as they are (same dtype: bf16 stays bf16, the stored layout is the
// output's too), or converted when a dtype is asked for; initialized tensors are generated as the
// in-memory path generates them and converted to the output dtype. Only the tensors kept are read; at
// most one chunk (or one initialized tensor) is in memory at a time.
import { hfKey, toHf, storedShape } from '../formats/hfkeys.js';
import type { HfWeights } from '../formats/hfweights.js';
import { convertRaw, f32ToRaw, type FloatDtype } from '../formats/dtype.js';
import type { TensorWrite } from '../formats/stwrite.js';
import { initValues, type InheritPlan } from './inherit.js';
import { fail } from '../util/errors.js';

/** the dtype most of a directory's tensors have (initialized tensors are written in it) */
export function mainDtype(w: HfWeights): FloatDtype {
  const count = new Map<FloatDtype, number>();
  for (const k of w.keys()) {
    const d = w.info(k).dtype;
    if (d === 'F32' || d === 'F16' || d === 'BF16') count.set(d, (count.get(d) ?? 0) + w.info(k).bytes);
  }
  return [...count.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
}

/**
 * the output tensors of a plan as writes, copied from the reference's weights (in `dtype`, else as
 * stored); an appendPlan's tensors of the trained model come from `trained`
 */
export function inheritWrites(plan: InheritPlan, ref: HfWeights | null, dtype?: FloatDtype, trained?: HfWeights): TensorWrite[] {
  const initDtype = dtype ?? (ref ? mainDtype(ref) : 'F32');
  return plan.tensors.map((t): TensorWrite => {
    if (!t.from) {
      const hk = hfKey(plan.config, t.name, t.layer);
      return {
        name: t.key, dtype: initDtype, shape: storedShape(hk, t.shape),
        produce: (emit) => emit(f32ToRaw(toHf(plan.config, hk, initValues(plan, t), t.shape).data, initDtype)),
      };
    }
    const w = (t.from.trained ? trained : ref) ?? fail(`${t.key}: no ${t.from.trained ? 'trained model' : 'reference'} weights to copy ${t.from.key} from`);
    const src = w.info(t.from.key), from = w.floatDtype(t.from.key), to = dtype ?? from;
    return {
      name: t.key, dtype: to, shape: src.shape,
      produce: (emit) => w.stream(src.key, (raw) => emit(convertRaw(raw, from, to))),
    };
  });
}
