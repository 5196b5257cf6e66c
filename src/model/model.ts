// model: one transformer definition for the Llama and GPT-2 families on the GPU, written the way
// llm.c's train_gpt2.c is: a parameter table (src/config.ts), an activation table, and forward() as
// a straight list of kernel launches. The families differ only where forward() says so: LayerNorm
// vs RMSNorm, learned positions vs RoPE, fused qkv with biases vs separate GQA projections, GELU vs
// SwiGLU.
// Sizes: B batch, T time, C dim, H hidden_dim, L layers, NH heads, KVH kv heads, HS = C/NH, V vocab.
import type { Gpu, View } from '../gpu/gpu.js';
import { alignUp } from '../gpu/gpu.js';
import * as K from '../gpu/kernels.js';
import { slice } from '../gpu/kernels.js';
import { assert, fail } from '../util/errors.js';
import { parameterShapes, numel, validateCheckpoint, type Checkpoint, type ModelConfig } from './config.js';
import { TrainState, unpack, type AdamwHyper, type ModelState } from './adamw.js';
import { modelBackward } from './backward.js';


/** keep blocks `layers` (in that order) of a checkpoint: embeddings, final norm and head stay */
export function selectLayers(ck: Checkpoint, layers: number[]): Checkpoint {
  const L = ck.config.nLayers;
  for (const l of layers) assert(Number.isInteger(l) && l >= 0 && l < L, `layer ${l} does not exist: the model has ${L} blocks (0..${L - 1})`);
  assert(layers.length > 0, 'at least one block must be kept');
  const config = { ...ck.config, nLayers: layers.length };
  const tensors: Record<string, Float32Array> = {};
  for (const [name, shape, perLayer] of parameterShapes(ck.config)) {
    const src = ck.tensors[name];
    if (!perLayer) { tensors[name] = src; continue; }
    const n = numel(shape);
    const dst = new Float32Array(n * layers.length);
    layers.forEach((l, i) => dst.set(src.subarray(l * n, (l + 1) * n), i * n));
    tensors[name] = dst;
  }
  return { config, tensors };
}

// the activation table (llm.c ActivationTensors): per-layer kinds are (L) x the shape shown
export interface Acts {
  B: number; T: number;
  ids: View; targets: View;       // (B,T) u32
  hostIds: Uint32Array;           // (B,T) the same ids on the CPU (encoder_backward buckets them there)
  encoded: View;                  // (B,T,C)
  ln1: View[]; ln1_mean: View[]; ln1_rstd: View[]; // (B,T,C), (B,T), (B,T); mean: GPT-2 only
  qkv: View[];                    // GPT-2: (B,T,3C)
  q: View[]; k: View[]; v: View[]; // Llama: (B,T,NH,HS), (B,T,KVH,HS) x2, after RoPE
  att: View[];                    // (B,NH,T,T)
  atty: View[]; attproj: View[]; residual2: View[]; // (B,T,C)
  ln2: View[]; ln2_mean: View[]; ln2_rstd: View[];
  fch: View[]; fch_up: View[]; fch_act: View[];    // (B,T,H): pre-activation (Llama: gate), up (Llama), after GELU/SwiGLU
  fcproj: View[]; residual3: View[]; // (B,T,C)
  lnf: View; lnf_mean: View; lnf_rstd: View; // (B,T,C), (B,T), (B,T)
  logits: View;                   // (B,T,V)
  losses: View;                   // (B,T)
  freqs_cos: View; freqs_sin: View; // (T, HS/2), Llama only
  buffers: GPUBuffer[];
}

export class Model {
  readonly params: Record<string, View[]> = {};
  /** (name, offset, numel) of every parameter slice in the arena, in table order */
  readonly layout: [string, number, number][] = [];
  readonly paramBuffer: GPUBuffer;
  readonly paramCount: number;   // arena length, alignment padding included
  acts: Acts | null = null;
  /** gradients, AdamW moments and step statistics, once training is enabled */
  train: TrainState | null = null;

  private constructor(readonly gpu: Gpu, readonly config: ModelConfig, ck: Checkpoint) {
    const problems = validateCheckpoint(ck);
    if (problems.length) fail(`the weights do not match the config:\n  ${problems.join('\n  ')}`, 'the checkpoint and its config.json disagree; re-export it');
    // one arena for all parameters; every (tensor, layer) slice starts 256-byte aligned
    const table = parameterShapes(config);
    let total = 0;
    const layout = this.layout;
    for (const [name, shape, perLayer] of table) {
      const n = numel(shape);
      for (let l = 0; l < (perLayer ? config.nLayers : 1); l++) { layout.push([name, total, n]); total += alignUp(n); }
    }
    this.paramCount = total;
    this.paramBuffer = gpu.alloc(total, 'params');
    const host = new Float32Array(total);
    for (const [name, offset, n] of layout) {
      const views = (this.params[name] ??= []);
      host.set(ck.tensors[name].subarray(views.length * n, (views.length + 1) * n), offset);
      views.push({ buffer: this.paramBuffer, offset, numel: n });
    }
    gpu.upload({ buffer: this.paramBuffer, offset: 0, numel: total }, host);
  }

  /** Upload a checkpoint; `layers: K` keeps only the first K blocks (an inherited K-block model). */
  static create(gpu: Gpu, ck: Checkpoint, opts: { layers?: number } = {}): Model {
    if (opts.layers !== undefined) {
      const K = opts.layers;
      assert(Number.isInteger(K) && K >= 1 && K <= ck.config.nLayers, `--layers ${K}: the model has ${ck.config.nLayers} blocks`,
        `pick K between 1 and ${ck.config.nLayers}`);
      ck = selectLayers(ck, Array.from({ length: K }, (_, i) => i));
    }
    return new Model(gpu, ck.config, ck);
  }

  /**
   * Forward pass over ids (B*T tokens, row-major). With targets, also the per-token losses.
   * Shapes: ids, targets (B,T) -> logits (B,T,V) and losses (B,T), left on the GPU.
   */
  forward(ids: ArrayLike<number>, B: number, T: number, targets?: ArrayLike<number>): Acts {
    const c = this.config, g = this.gpu;
    const { dim: C, hiddenDim: H, nLayers: L, nHeads: NH, nKvHeads: KVH, vocabSize: V } = c;
    const HS = C / NH, kvd = KVH * HS, BT = B * T;
    const gpt2 = c.family === 'gpt2';
    assert(ids.length === BT, `forward: ${ids.length} ids for B=${B} x T=${T}`);
    assert(T <= c.maxSeqLen, `sequence length ${T} exceeds the model's maximum of ${c.maxSeqLen} positions`, `use --seq ${c.maxSeqLen} or less`);
    checkIds(ids, V, 'token id');
    const a = this.activations(B, T);
    a.hostIds = Uint32Array.from(ids);
    g.upload(a.ids, a.hostIds);
    const p = this.params;
    const bias = (name: string, l: number) => (p[name] ? p[name][l] : null);
    const mode = c.ropeMode === 'interleaved' ? 0 : 1;
    K.encoderForward(g, a.encoded, a.ids, (gpt2 ? p.wte : p.token_embedding)[0], gpt2 ? p.wpe[0] : null, B, T, C);
    for (let l = 0; l < L; l++) {
      const residual = l === 0 ? a.encoded : a.residual3[l - 1];
      // attention block
      if (gpt2) {
        K.layernormForward(g, a.ln1[l], a.ln1_mean[l], a.ln1_rstd[l], residual, p.ln1w[l], p.ln1b[l], BT, C, c.normEps);
        K.matmulForward(g, a.qkv[l], a.ln1[l], p.qkvw[l], p.qkvb[l], BT, C, 3 * C);
        const qkv = a.qkv[l];
        K.attentionForward(g, a.atty[l], a.att[l], qkv, qkv, qkv, B, T, NH, NH, HS, { qs: 3 * C, q0: 0, kvs: 3 * C, k0: C, v0: 2 * C });
        K.matmulForward(g, a.attproj[l], a.atty[l], p.attprojw[l], p.attprojb[l], BT, C, C);
      } else {
        K.rmsnormForward(g, a.ln1[l], a.ln1_rstd[l], residual, p.rms_att[l], BT, C, c.normEps);
        K.matmulForward(g, a.q[l], a.ln1[l], p.wq[l], bias('bq', l), BT, C, C);
        K.matmulForward(g, a.k[l], a.ln1[l], p.wk[l], bias('bk', l), BT, C, kvd);
        K.matmulForward(g, a.v[l], a.ln1[l], p.wv[l], bias('bv', l), BT, C, kvd);
        K.ropeForward(g, a.q[l], a.freqs_cos, a.freqs_sin, B, T, NH, HS, mode);
        K.ropeForward(g, a.k[l], a.freqs_cos, a.freqs_sin, B, T, KVH, HS, mode);
        K.attentionForward(g, a.atty[l], a.att[l], a.q[l], a.k[l], a.v[l], B, T, NH, KVH, HS);
        K.matmulForward(g, a.attproj[l], a.atty[l], p.wo[l], bias('bo', l), BT, C, C);
      }
      K.residualForward(g, a.residual2[l], residual, a.attproj[l], BT * C);
      // MLP block: GPT-2 c_proj(gelu(c_fc x)); Llama w2(silu(w1 x) * w3 x)
      if (gpt2) {
        K.layernormForward(g, a.ln2[l], a.ln2_mean[l], a.ln2_rstd[l], a.residual2[l], p.ln2w[l], p.ln2b[l], BT, C, c.normEps);
        K.matmulForward(g, a.fch[l], a.ln2[l], p.fcw[l], p.fcb[l], BT, C, H);
        K.geluForward(g, a.fch_act[l], a.fch[l], BT * H);
        K.matmulForward(g, a.fcproj[l], a.fch_act[l], p.fcprojw[l], p.fcprojb[l], BT, H, C);
      } else {
        K.rmsnormForward(g, a.ln2[l], a.ln2_rstd[l], a.residual2[l], p.rms_ffn[l], BT, C, c.normEps);
        K.matmulForward(g, a.fch[l], a.ln2[l], p.w1[l], bias('b1', l), BT, C, H);
        K.matmulForward(g, a.fch_up[l], a.ln2[l], p.w3[l], bias('b3', l), BT, C, H);
        K.swigluForward(g, a.fch_act[l], a.fch[l], a.fch_up[l], BT * H);
        K.matmulForward(g, a.fcproj[l], a.fch_act[l], p.w2[l], bias('b2', l), BT, H, C);
      }
      K.residualForward(g, a.residual3[l], a.residual2[l], a.fcproj[l], BT * C);
    }
    const last = a.residual3[L - 1];
    if (gpt2) K.layernormForward(g, a.lnf, a.lnf_mean, a.lnf_rstd, last, p.lnfw[0], p.lnfb[0], BT, C, c.normEps);
    else K.rmsnormForward(g, a.lnf, a.lnf_rstd, last, p.rms_final[0], BT, C, c.normEps);
    const head = c.tiedEmbeddings ? (gpt2 ? p.wte : p.token_embedding)[0] : p.wcls[0];
    K.matmulForward(g, a.logits, a.lnf, head, null, BT, C, V);
    if (targets) {
      assert(targets.length === BT, `forward: ${targets.length} targets for B=${B} x T=${T}`);
      checkIds(targets, V, 'target id');
      g.upload(a.targets, Uint32Array.from(targets));
      K.crossentropyForward(g, a.losses, a.logits, a.targets, BT, V);
    }
    return a;
  }

  /** logits (T*V) for one sequence of ids */
  async logits(ids: ArrayLike<number>): Promise<Float32Array> {
    const a = this.forward(ids, 1, ids.length);
    return this.gpu.read(slice(a.logits, 0, ids.length * this.config.vocabSize));
  }

  /** per-token losses (B*T) for inputs and their next-token targets */
  async losses(ids: ArrayLike<number>, targets: ArrayLike<number>, B: number, T: number): Promise<Float32Array> {
    const a = this.forward(ids, B, T, targets);
    return this.gpu.read(slice(a.losses, 0, B * T));
  }

  // ---- training (src/optim.ts holds the state, src/backward.ts the backward pass) ----

  /** allocate gradients and AdamW moments (idempotent) */
  enableTraining(): void {
    this.train ??= new TrainState(this);
  }

  zeroGrad(): void {
    this.trainState().zeroGrad();
  }

  /**
   * Backward pass of the last forward() (which must have had targets), accumulating parameter
   * gradients; dloss is d(objective)/d(each token's loss), e.g. 1/(B*T*G) for a mean over G micro-batches.
   */
  backward(dloss: number): void {
    assert(this.acts, 'backward() before forward()');
    const t = this.trainState();
    modelBackward(this, this.acts, t, dloss);
    t.logLosses(this.acts);
  }

  /** mean loss of the micro-batches since zeroGrad(), and the global gradient norm (clip factor set for adamw) */
  stepStats(microBatches: number, clip: number): Promise<{ loss: number; gradNorm: number }> {
    return this.trainState().stats(microBatches, clip);
  }

  adamw(h: AdamwHyper): void {
    this.trainState().adamw(h);
  }

  /** parameters (as a Checkpoint) and AdamW moments, read back from the GPU */
  exportState(): Promise<ModelState> {
    return this.trainState().export();
  }

  importOptimizerState(m: Record<string, Float32Array>, v: Record<string, Float32Array>): void {
    this.trainState().importMoments(m, v);
  }

  /** the accumulated gradients, by parameter name */
  readGradients(): Promise<Record<string, Float32Array>> {
    return this.trainState().readGradients();
  }

  /** the current parameters as a Checkpoint */
  async readCheckpoint(): Promise<Checkpoint> {
    const host = await this.gpu.read({ buffer: this.paramBuffer, offset: 0, numel: this.paramCount });
    return { config: this.config, tensors: unpack(this, host) };
  }

  destroy(): void {
    this.freeActivations();
    this.train?.destroy();
    this.paramBuffer.destroy();
  }

  private trainState(): TrainState {
    if (!this.train) fail('training was not enabled on this model', 'call model.enableTraining() first (the Trainer does)');
    return this.train;
  }

  // the activation table for (B, T), kept until a different shape is asked for
  private activations(B: number, T: number): Acts {
    if (this.acts && this.acts.B === B && this.acts.T === T) return this.acts;
    this.freeActivations();
    const g = this.gpu, c = this.config;
    const { dim: C, hiddenDim: H, nLayers: L, nHeads: NH, nKvHeads: KVH, vocabSize: V } = c;
    const HS = C / NH, BT = B * T, gpt2 = c.family === 'gpt2', llama = !gpt2;
    const buffers: GPUBuffer[] = [];
    // one buffer per tensor kind, L slices each 256-byte aligned; kinds a family does not use are empty
    const kind = (label: string, n: number, layers: number, used = true): View[] => {
      if (!used) return [];
      const stride = alignUp(n);
      const buffer = g.alloc(stride * layers, label);
      buffers.push(buffer);
      return Array.from({ length: layers }, (_, l) => ({ buffer, offset: l * stride, numel: n }));
    };
    const one = (label: string, n: number, used = true) => kind(label, n, 1, used)[0];
    const a: Acts = {
      B, T, buffers, hostIds: new Uint32Array(BT),
      ids: one('ids', BT), targets: one('targets', BT),
      encoded: one('encoded', BT * C),
      ln1: kind('ln1', BT * C, L), ln1_mean: kind('ln1_mean', BT, L, gpt2), ln1_rstd: kind('ln1_rstd', BT, L),
      qkv: kind('qkv', BT * 3 * C, L, gpt2),
      q: kind('q', BT * C, L, llama), k: kind('k', BT * KVH * HS, L, llama), v: kind('v', BT * KVH * HS, L, llama),
      att: kind('att', B * NH * T * T, L),
      atty: kind('atty', BT * C, L), attproj: kind('attproj', BT * C, L), residual2: kind('residual2', BT * C, L),
      ln2: kind('ln2', BT * C, L), ln2_mean: kind('ln2_mean', BT, L, gpt2), ln2_rstd: kind('ln2_rstd', BT, L),
      fch: kind('fch', BT * H, L), fch_up: kind('fch_up', BT * H, L, llama), fch_act: kind('fch_act', BT * H, L),
      fcproj: kind('fcproj', BT * C, L), residual3: kind('residual3', BT * C, L),
      lnf: one('lnf', BT * C), lnf_mean: one('lnf_mean', BT, gpt2), lnf_rstd: one('lnf_rstd', BT),
      logits: one('logits', BT * V), losses: one('losses', BT),
      freqs_cos: one('freqs_cos', T * (HS / 2), llama), freqs_sin: one('freqs_sin', T * (HS / 2), llama),
    };
    if (llama) {
      const { cos, sin } = K.ropeTables(T, HS, c.ropeTheta);
      g.upload(a.freqs_cos, cos);
      g.upload(a.freqs_sin, sin);
    }
    this.acts = a;
    return a;
  }

  private freeActivations(): void {
    if (!this.acts) return;
    this.gpu.flush();
    for (const b of this.acts.buffers) b.destroy();
    this.acts = null;
  }
}

function checkIds(ids: ArrayLike<number>, V: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(Number.isInteger(id) && id >= 0 && id < V)) fail(`${what} ${id} at position ${i} is outside the vocabulary [0, ${V})`, 'the ids do not belong to this model\'s tokenizer');
  }
}
