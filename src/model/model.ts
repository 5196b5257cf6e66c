// model: a transformer on the GPU, written the way llm.c's train_gpt2.c is: a parameter arena laid
// out by the family's parameter table (src/model/config.ts), an activation table, and forward() /
// backward() as the family's straight lists of kernel launches (src/model/llama.ts, gpt2.ts).
// The model owns its parameters and its activation tables; training state (parameter gradients,
// AdamW moments, the loss log) belongs to whoever trains it (src/train/trainer.ts).
// Sizes: B batch, T time, V vocab.
import type { Gpu, Precision, View } from '../gpu/gpu.js';
import { slice } from '../gpu/view.js';
import * as K from '../gpu/kernels/index.js';
import { assert, fail } from '../util/errors.js';
import { validateCheckpoint, logitsStride, type Checkpoint, type ModelConfig } from './config.js';
import { Arena, type Dtype16, type SliceSource } from './arena.js';
import { TableStore, type Acts, type Family, type KvCache, type LossHead, type Stash } from './family.js';
import { HalfWeights } from './half.js';
import { llama } from './llama.js';
import { gpt2 } from './gpt2.js';
import { neox } from './neox.js';

/** forward and backward of each family, by ModelConfig.family */
export const FAMILIES: Record<ModelConfig['family'], Family> = { llama, gpt2, neox };

export class Model {
  readonly family: Family;
  readonly params: Arena;
  /** the activation table of the last forward() */
  acts: Acts | null = null;
  /** buffers of the activation table and of the activation-gradient table (one block's worth), by capacity */
  private actStore: { store: TableStore; BT: number; T: number } | null = null;
  /** the f16 stash of the current activation table (f16 storage), or null */
  private stash: Stash | null = null;
  private gradStore: TableStore | null = null;
  private gradViews: { B: number; T: number; s: Record<string, View> } | null = null;
  private dlosses: { view: View; value: number } | null = null;
  private recompute = false;
  private _precision: Precision = 'f32';
  /** the f16 copy of the matmul weights (f16 precision in real f16 arithmetic), and whether the weights changed since it was made */
  private half: { weights: HalfWeights; stale: boolean } | null = null;
  /** the loss head of the last forward() with targets (null: cross-entropy), which backward() differentiates */
  private head: LossHead | null = null;

  private constructor(readonly gpu: Gpu, readonly config: ModelConfig, ck: Checkpoint | null, keep16?: Dtype16) {
    const problems = ck ? validateCheckpoint(ck) : [];
    if (problems.length) fail(`the weights do not match the config:\n  ${problems.join('\n  ')}`, 'the checkpoint and its config.json disagree; re-export it');
    this.family = FAMILIES[config.family] ?? fail(`unknown model family '${config.family}'`, `one of: ${Object.keys(FAMILIES).join(', ')}`);
    this.params = new Arena(gpu, config, 'params', { keep16 });
    if (ck) this.params.write(ck.tensors, 'checkpoint');
  }

  /**
   * Upload weights slice by slice in their stored dtype, widened on the GPU (Arena.upload): no whole-model
   * copy on the CPU. keep16 (a teacher): the matrices stay in that 16-bit dtype, 2 bytes a parameter, and
   * the model runs forward only (src/node/teacher.ts loadTeacher chooses it from the stored dtype).
   */
  static async load(gpu: Gpu, config: ModelConfig, src: SliceSource, what = 'weights', onSlice?: (done: number, total: number) => void,
                    opts: { keep16?: Dtype16 } = {}): Promise<Model> {
    const m = new Model(gpu, config, null, opts.keep16);
    try { await m.params.upload(src, what, onSlice); } catch (e) { m.destroy(); throw e; }
    return m;
  }

  /**
   * Activation recompute (torch.utils.checkpoint per block): forward keeps only each block's output
   * (the next block's input) and backward reruns each block's forward before its backward. The same
   * kernels on the same inputs, so the gradients are bit-identical to storing every activation; the
   * activations take L x (B,T,C) + one block's worth instead of L blocks' worth.
   */
  setRecompute(on: boolean): void {
    if (on === this.recompute) return;
    this.freeActivations();
    this.recompute = on;
  }

  /**
   * Mixed precision: 'f16' rounds every matmul operand (weights, activations, their gradients) to f16
   * as the kernels read it and sums in f32, and rounds the blocks' matmul outputs to f16, as
   * torch.autocast(float16) runs nn.Linear; norms, softmax, attention, the residual stream and the loss
   * stay f32, as do the stored weights (the f32 master copy). The activations a block keeps for its
   * backward that are f16 values (its matmuls' inputs and outputs; TableSpec 'f16') are stored in f16
   * between the two, which halves them; the gradients are the same as storing them in f32, since the
   * round trip is exact. Training under f16 needs loss scaling (src/train/scaler.ts) so small gradients
   * do not flush to zero. Each pass hands it to every matmul it launches (Pass.precision).
   * On a device with real f16 arithmetic (Gpu.f16Arithmetic) the matmuls multiply in f16 and sum in f32
   * (kernels/matmul_f16.wgsl), reading the weights from an f16 copy (src/model/half.ts) that the next
   * forward remakes after weightsChanged().
   */
  setPrecision(p: Precision): void {
    if (p !== 'f32' && p !== 'f16') fail(`precision '${p}': expected f32 or f16`);
    if (p !== this._precision) this.freeActivations();
    this._precision = p;
    // a 16-bit teacher's matrices are read packed by matmul_w16, which has no f16-arithmetic variant: no copy
    if (p === 'f16' && this.gpu.f16Arithmetic && !this.params.keep16) this.half ??= { weights: new HalfWeights(this.gpu, this.params), stale: true };
    else this.freeHalf();
  }

  /** the weights changed on the GPU (an optimizer step): the f16 copy, if any, is remade before the next forward */
  weightsChanged(): void {
    if (this.half) this.half.stale = true;
  }

  /** bytes of GPU memory the f16 copy of the weights holds (0 without one) */
  get halfWeightBytes(): number {
    return this.half?.weights.bytes ?? 0;
  }

  get precision(): Precision {
    return this._precision;
  }

  /** bytes of GPU memory the activation table holds now (0 before the first forward) */
  get activationBytes(): number {
    return this.actStore?.store.bytes ?? 0;
  }

  /** Upload a checkpoint (to run fewer blocks, cut it first: selectLayers in src/model/surgery.ts). */
  static create(gpu: Gpu, ck: Checkpoint): Model {
    return new Model(gpu, ck.config, ck);
  }

  /**
   * Forward pass over ids (B*T tokens, row-major). With targets, also the per-token losses. With a KV
   * cache (src/model/generate.ts), the tokens follow the cache's `past` positions and their keys and
   * values are appended to it (the caller advances `past`).
   * Shapes: ids, targets (B,T) -> logits (B,T,V) and losses (B,T), left on the GPU. `head` replaces the
   * next-token cross-entropy as the per-token loss (knowledge distillation: src/train/distill.ts).
   */
  forward(ids: ArrayLike<number>, B: number, T: number, targets?: ArrayLike<number>, cache?: KvCache, head?: LossHead): Acts {
    const c = this.config, g = this.gpu, V = c.vocabSize, BT = B * T, end = T + (cache?.past ?? 0);
    assert(ids.length === BT, `forward: ${ids.length} ids for B=${B} x T=${T}`);
    assert(end <= c.maxSeqLen, `sequence length ${end} exceeds the model's maximum of ${c.maxSeqLen} positions (max_position_embeddings in its config.json)`, `use \`seq\` ${c.maxSeqLen} or less`);
    if (cache) assert(end <= cache.maxT, `the KV cache holds ${cache.maxT} positions, not ${end}`);
    if (c.slidingWindow) {
      assert(end <= c.slidingWindow, `sequence length ${end} exceeds the model's sliding attention window of ${c.slidingWindow}`,
        `use \`seq\` ${c.slidingWindow} or less (sliding-window attention is not implemented; within the window it is plain causal attention)`);
    }
    checkIds(ids, V, 'token id');
    if (targets) {
      assert(targets.length === BT, `forward: ${targets.length} targets for B=${B} x T=${T}`);
      checkIds(targets, V, 'target id');
    }
    const a = this.activations(B, T);
    if (this.half?.stale) { this.half.weights.refresh(); this.half.stale = false; }
    a.hostIds = Uint32Array.from(ids);
    g.upload(a.ids, a.hostIds);
    this.family.forward({ g, c, p: this.params.views, a, B, T, precision: this._precision, cache, stash: this.stash ?? undefined });
    if (targets) {
      g.upload(a.targets, Uint32Array.from(targets));
      this.head = head ?? null;
      if (head) head.forward(a.losses, a.logits, a.targets, BT, V, logitsStride(c));
      else K.crossentropyForward(g, a.losses, a.logits, a.targets, BT, V, logitsStride(c)); // (B,T) from (B,T,V)
    }
    return a;
  }

  /**
   * Backward pass of the last forward() (which must have had targets): the loss's gradient into the
   * logits, then the family's backward, accumulating (+=) every parameter's gradient into `grads` (an Arena of this model's layout); dloss is d(objective)/d(each
   * token's loss), e.g. 1/(B*T*G) for a mean over G micro-batches. blockDone(l) is called (while
   * encoding) once block l's parameter gradients are complete, from the last block down.
   */
  backward(grads: Arena, dloss: number, blockDone?: (l: number) => void): void {
    if (this.params.keep16) fail(`backward(): the weights are kept in ${this.params.keep16}, for the forward pass only (a teacher)`, 'load the model without keep16 to train it');
    const a = this.acts ?? fail('backward() before forward()');
    const { B, T } = a, g = this.gpu;
    if (!this.gradViews || this.gradViews.B !== B || this.gradViews.T !== T) {
      const spec = this.family.gradients(this.config, B, T);
      if (!this.gradStore?.fits(spec)) {
        this.freeGradients();
        this.gradStore = new TableStore(g, spec, 1);
      }
      this.gradViews = { B, T, s: this.gradStore.views(spec, 1) };
    }
    if (!this.dlosses || this.dlosses.view.numel !== B * T || this.dlosses.value !== dloss) {
      if (this.dlosses) g.release(this.dlosses.view.buffer);
      const view = g.tensor(B * T, 'dlosses');
      g.upload(view, new Float32Array(B * T).fill(dloss));
      this.dlosses = { view, value: dloss };
    }
    const c = this.config;
    // dlogits (B,T,V) over the logits, which the step no longer needs
    if (this.head) this.head.backward(a.logits, this.dlosses.view, a.targets, B * T, c.vocabSize, logitsStride(c));
    else K.crossentropySoftmaxBackward(g, a.logits, this.dlosses.view, a.targets, B * T, c.vocabSize, logitsStride(c));
    const s = this.gradViews.s;
    this.family.backward({ g, c, p: this.params.views, a, B, T, precision: this._precision, d: grads.views, s, recompute: this.recompute, blockDone, stash: this.stash ?? undefined });
  }

  /** block l's post-softmax attention (B,NH,T,T) in the last forward (zeros above the diagonal) */
  async attentionProbs(l: number): Promise<Float32Array> {
    const a = this.acts ?? fail('attentionProbs() before forward()');
    const c = this.config, n = a.B * c.nHeads * a.T * a.T;
    assert(Number.isInteger(l) && l >= 0 && l < c.nLayers, `block ${l} does not exist: the model has ${c.nLayers} blocks`);
    assert(!this.recompute, 'attentionProbs() needs every block\'s activations, which recompute does not keep', 'call setRecompute(false) first');
    const probs = this.gpu.scratch('attention_probs', n);
    this.stash?.restore(l); // block l's activations out of f16 storage (the forward left the last block's)
    this.family.attentionProbs({ g: this.gpu, c, p: this.params.views, a, B: a.B, T: a.T, precision: this._precision }, l, probs);
    return this.gpu.read(probs);
  }

  /** logits (T*V) for one sequence of ids */
  async logits(ids: ArrayLike<number>): Promise<Float32Array> {
    const a = this.forward(ids, 1, ids.length), T = ids.length, V = this.config.vocabSize, ld = logitsStride(this.config);
    const rows = await this.gpu.read(slice(a.logits, 0, T * ld));
    const out = ld === V ? rows : new Float32Array(T * V);
    if (ld !== V) for (let t = 0; t < T; t++) out.set(rows.subarray(t * ld, t * ld + V), t * V);
    const bad = out.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) fail(`the forward pass gave a non-finite logit (${out[bad]}) at position ${Math.floor(bad / V)}, id ${bad % V}`, 'the weights hold NaN/Inf or overflow; check the checkpoint');
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
    this.freeHalf();
    this.params.destroy();
  }

  // the activation table for (B, T), cut from buffers sized for the most tokens (and the longest
  // sequence) asked for so far: evaluation batches reuse the training buffers
  private activations(B: number, T: number): Acts {
    if (this.acts && this.acts.B === B && this.acts.T === T) return this.acts;
    const c = this.config, L = c.nLayers, spec = this.family.activations(c, B, T);
    let s = this.actStore;
    if (!s || B * T > s.BT || T > s.T || !s.store.fits(spec)) {
      const capT = Math.max(T, s?.T ?? 0), capB = Math.ceil(Math.max(B * T, s?.BT ?? 0) / capT);
      this.freeActivations();
      const mode = { recompute: this.recompute, f16: this._precision === 'f16' };
      s = this.actStore = { store: new TableStore(this.gpu, this.family.activations(c, capB, capT), L, mode), BT: capB * capT, T: capT };
      // constant tables (RoPE) are filled once per allocation, for its longest sequence
      this.family.setup?.(this.gpu, c, { ...s.store.views<Acts>(this.family.activations(c, capB, capT), L), B: capB, T: capT });
    }
    this.acts = { ...s.store.views<Acts>(spec, L), B, T, buffers: s.store.buffers, hostIds: new Uint32Array(B * T) };
    this.stash = s.store.stash(spec);
    return this.acts;
  }

  private freeActivations(): void {
    for (const b of this.actStore?.store.buffers ?? []) this.gpu.release(b);
    this.actStore = null;
    this.acts = null;
    this.stash = null;
  }

  private freeHalf(): void {
    this.half?.weights.destroy();
    this.half = null;
  }

  private freeGradients(): void {
    for (const b of this.gradStore?.buffers ?? []) this.gpu.release(b);
    this.gradStore = null;
    this.gradViews = null;
  }
}

function checkIds(ids: ArrayLike<number>, V: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(Number.isInteger(id) && id >= 0 && id < V)) fail(`${what} ${id} at position ${i} is outside the vocabulary [0, ${V})`, 'the ids do not belong to this model\'s tokenizer');
  }
}
