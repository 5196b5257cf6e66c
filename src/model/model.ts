// model: a transformer on the GPU, written the way llm.c's train_gpt2.c is: a parameter arena laid
// out by the family's parameter table (src/model/config.ts), an activation table, and forward() /
// backward() as the family's straight lists of kernel launches (src/model/llama.ts, gpt2.ts).
// The model owns its parameters and its activation tables; training state (parameter gradients,
// AdamW moments, the loss log) belongs to whoever trains it (src/train/trainer.ts).
// Sizes: B batch, T time, V vocab.
import type { Gpu, View } from '../gpu/gpu.js';
import { slice } from '../gpu/view.js';
import * as K from '../gpu/kernels/index.js';
import { assert, fail } from '../util/errors.js';
import { validateCheckpoint, logitsStride, type Checkpoint, type ModelConfig } from './config.js';
import { Arena } from './arena.js';
import { allocTable, type Acts, type Family } from './family.js';
import { llama } from './llama.js';
import { gpt2 } from './gpt2.js';

/** forward and backward of each family, by ModelConfig.family */
export const FAMILIES: Record<ModelConfig['family'], Family> = { llama, gpt2 };

export class Model {
  readonly family: Family;
  readonly params: Arena;
  /** the activation table of the last forward() */
  acts: Acts | null = null;
  /** the activation-gradient table (one block's worth) and the dlosses buffer, once backward() ran */
  private grads: { B: number; T: number; s: Record<string, View>; buffers: GPUBuffer[] } | null = null;
  private dlosses: { view: View; value: number } | null = null;

  private constructor(readonly gpu: Gpu, readonly config: ModelConfig, ck: Checkpoint) {
    const problems = validateCheckpoint(ck);
    if (problems.length) fail(`the weights do not match the config:\n  ${problems.join('\n  ')}`, 'the checkpoint and its config.json disagree; re-export it');
    this.family = FAMILIES[config.family] ?? fail(`unknown model family '${config.family}'`, `one of: ${Object.keys(FAMILIES).join(', ')}`);
    this.params = new Arena(gpu, config, 'params');
    this.params.write(ck.tensors, 'checkpoint');
  }

  /** Upload a checkpoint (to run fewer blocks, cut it first: selectLayers in src/model/surgery.ts). */
  static create(gpu: Gpu, ck: Checkpoint): Model {
    return new Model(gpu, ck.config, ck);
  }

  /**
   * Forward pass over ids (B*T tokens, row-major). With targets, also the per-token losses.
   * Shapes: ids, targets (B,T) -> logits (B,T,V) and losses (B,T), left on the GPU.
   */
  forward(ids: ArrayLike<number>, B: number, T: number, targets?: ArrayLike<number>): Acts {
    const c = this.config, g = this.gpu, V = c.vocabSize, BT = B * T;
    assert(ids.length === BT, `forward: ${ids.length} ids for B=${B} x T=${T}`);
    assert(T <= c.maxSeqLen, `sequence length ${T} exceeds the model's maximum of ${c.maxSeqLen} positions`, `use \`seq\` ${c.maxSeqLen} or less`);
    checkIds(ids, V, 'token id');
    if (targets) {
      assert(targets.length === BT, `forward: ${targets.length} targets for B=${B} x T=${T}`);
      checkIds(targets, V, 'target id');
    }
    const a = this.activations(B, T);
    a.hostIds = Uint32Array.from(ids);
    g.upload(a.ids, a.hostIds);
    this.family.forward({ g, c, p: this.params.views, a, B, T });
    if (targets) {
      g.upload(a.targets, Uint32Array.from(targets));
      K.crossentropyForward(g, a.losses, a.logits, a.targets, BT, V, logitsStride(c)); // (B,T) from (B,T,V)
    }
    return a;
  }

  /**
   * Backward pass of the last forward() (which must have had targets): the loss's gradient into the
   * logits, then the family's backward, accumulating (+=) every parameter's gradient into `grads` (an Arena of this model's layout); dloss is d(objective)/d(each
   * token's loss), e.g. 1/(B*T*G) for a mean over G micro-batches.
   */
  backward(grads: Arena, dloss: number): void {
    const a = this.acts ?? fail('backward() before forward()');
    const { B, T } = a, g = this.gpu;
    if (!this.grads || this.grads.B !== B || this.grads.T !== T) {
      this.freeGradients();
      const buffers: GPUBuffer[] = [];
      this.grads = { B, T, buffers, s: allocTable(g, this.family.gradients(this.config, B, T), 1, buffers) };
    }
    if (!this.dlosses || this.dlosses.view.numel !== B * T || this.dlosses.value !== dloss) {
      if (this.dlosses) g.release(this.dlosses.view.buffer);
      const view = g.tensor(B * T, 'dlosses');
      g.upload(view, new Float32Array(B * T).fill(dloss));
      this.dlosses = { view, value: dloss };
    }
    const c = this.config;
    // dlogits (B,T,V) over the logits, which the step no longer needs
    K.crossentropySoftmaxBackward(g, a.logits, this.dlosses.view, a.targets, B * T, c.vocabSize, logitsStride(c));
    this.family.backward({ g, c, p: this.params.views, a, B, T, d: grads.views, s: this.grads.s });
  }

  /** logits (T*V) for one sequence of ids */
  async logits(ids: ArrayLike<number>): Promise<Float32Array> {
    const a = this.forward(ids, 1, ids.length), T = ids.length, V = this.config.vocabSize, ld = logitsStride(this.config);
    const rows = await this.gpu.read(slice(a.logits, 0, T * ld));
    if (ld === V) return rows;
    const out = new Float32Array(T * V);
    for (let t = 0; t < T; t++) out.set(rows.subarray(t * ld, t * ld + V), t * V);
    return out;
  }

  /** per-token losses (B*T) for inputs and their next-token targets */
  async losses(ids: ArrayLike<number>, targets: ArrayLike<number>, B: number, T: number): Promise<Float32Array> {
    const a = this.forward(ids, B, T, targets);
    return this.gpu.read(slice(a.losses, 0, B * T));
  }

  /** the current parameters as a Checkpoint */
  async readCheckpoint(): Promise<Checkpoint> {
    return { config: this.config, tensors: await this.params.read() };
  }

  destroy(): void {
    this.freeActivations();
    this.freeGradients();
    if (this.dlosses) this.gpu.release(this.dlosses.view.buffer);
    this.dlosses = null;
    this.params.destroy();
  }

  // the activation table for (B, T), kept until a different shape is asked for
  private activations(B: number, T: number): Acts {
    if (this.acts && this.acts.B === B && this.acts.T === T) return this.acts;
    this.freeActivations();
    const buffers: GPUBuffer[] = [];
    const a: Acts = {
      ...allocTable<Acts>(this.gpu, this.family.activations(this.config, B, T), this.config.nLayers, buffers),
      B, T, buffers, hostIds: new Uint32Array(B * T),
    };
    this.family.setup?.(this.gpu, this.config, a);
    this.acts = a;
    return a;
  }

  private freeActivations(): void {
    for (const b of this.acts?.buffers ?? []) this.gpu.release(b);
    this.acts = null;
  }

  private freeGradients(): void {
    for (const b of this.grads?.buffers ?? []) this.gpu.release(b);
    this.grads = null;
  }
}

function checkIds(ids: ArrayLike<number>, V: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(Number.isInteger(id) && id >= 0 && id < V)) fail(`${what} ${id} at position ${i} is outside the vocabulary [0, ${V})`, 'the ids do not belong to this model\'s tokenizer');
  }
}
