// model: the Llama-family transformer on the GPU, written the way llm.c's train_gpt2.c is: a
// parameter table, an activation table, and forward() as a straight list of kernel launches.
// Tensor names are llama2.c's (token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3,
// rms_final, wcls), stacked over layers as in its checkpoints.
// Sizes: B batch, T time, C dim, H hidden_dim, L layers, NH heads, KVH kv heads, HS = C/NH, V vocab.
import type { Gpu, View } from './gpu.js';
import { alignUp } from './gpu.js';
import * as K from './kernels.js';
import { slice } from './kernels.js';
import { assert, fail } from './errors.js';

export interface ModelConfig {
  family: 'llama';
  dim: number;          // C
  hiddenDim: number;    // H, SwiGLU width
  nLayers: number;      // L
  nHeads: number;       // NH
  nKvHeads: number;     // KVH (grouped-query attention when < NH)
  vocabSize: number;    // V
  maxSeqLen: number;
  normEps: number;      // RMSNorm eps
  ropeTheta: number;
  ropeMode: 'interleaved' | 'rotate_half'; // llama2.c/Meta q,k layout vs Hugging Face's
  tiedEmbeddings: boolean;                 // head = token_embedding
}

/** weights on the CPU: llama2.c names, per-layer tensors stacked (L, ...) */
export interface Checkpoint { config: ModelConfig; tensors: Record<string, Float32Array> }

/** the parameter table: name -> [shape of one layer's slice, per-layer?] (llm.c fill_in_parameter_sizes) */
export function parameterShapes(c: ModelConfig): [string, number[], boolean][] {
  const C = c.dim, H = c.hiddenDim, V = c.vocabSize, kvd = (c.nKvHeads * C) / c.nHeads;
  const t: [string, number[], boolean][] = [
    ['token_embedding', [V, C], false], // (V, C)
    ['rms_att', [C], true],             // (L, C)
    ['wq', [C, C], true],               // (L, NH*HS, C)
    ['wk', [kvd, C], true],             // (L, KVH*HS, C)
    ['wv', [kvd, C], true],             // (L, KVH*HS, C)
    ['wo', [C, C], true],               // (L, C, NH*HS)
    ['rms_ffn', [C], true],             // (L, C)
    ['w1', [H, C], true],               // (L, H, C) gate
    ['w2', [C, H], true],               // (L, C, H) down
    ['w3', [H, C], true],               // (L, H, C) up
    ['rms_final', [C], false],          // (C)
  ];
  if (!c.tiedEmbeddings) t.push(['wcls', [V, C], false]); // (V, C)
  return t;
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function countParameters(c: ModelConfig): number {
  return parameterShapes(c).reduce((s, [, shape, perLayer]) => s + numel(shape) * (perLayer ? c.nLayers : 1), 0);
}

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

interface Acts {
  B: number; T: number;
  ids: View; targets: View;     // (B,T) u32
  encoded: View;                // (B,T,C)
  ln1: View[]; ln1_rstd: View[]; // (L) x (B,T,C), (B,T)
  q: View[]; k: View[]; v: View[]; // (L) x (B,T,NH,HS), (B,T,KVH,HS) x2, after RoPE
  att: View[];                  // (L) x (B,NH,T,T)
  atty: View[]; attproj: View[]; residual2: View[]; // (L) x (B,T,C)
  ln2: View[]; ln2_rstd: View[];
  fch_gate: View[]; fch_up: View[]; fch_swiglu: View[]; // (L) x (B,T,H)
  fcproj: View[]; residual3: View[]; // (L) x (B,T,C)
  lnf: View; lnf_rstd: View;    // (B,T,C), (B,T)
  logits: View;                 // (B,T,V)
  losses: View;                 // (B,T)
  freqs_cos: View; freqs_sin: View; // (T, HS/2)
  buffers: GPUBuffer[];
}

export class Model {
  readonly params: Record<string, View[]> = {};
  private paramBuffer: GPUBuffer;
  private acts: Acts | null = null;

  private constructor(readonly gpu: Gpu, readonly config: ModelConfig, ck: Checkpoint) {
    // one arena for all parameters; every (tensor, layer) slice starts 256-byte aligned
    const table = parameterShapes(config);
    let total = 0;
    const layout: [string, number, number][] = [];
    for (const [name, shape, perLayer] of table) {
      const n = numel(shape);
      for (let l = 0; l < (perLayer ? config.nLayers : 1); l++) { layout.push([name, total, n]); total += alignUp(n); }
    }
    this.paramBuffer = gpu.alloc(total, 'params');
    const host = new Float32Array(total);
    for (const [name, shape, perLayer] of table) {
      const t = ck.tensors[name];
      const want = numel(shape) * (perLayer ? config.nLayers : 1);
      if (!t) fail(`checkpoint has no tensor '${name}'`, `expected tensors: ${table.map((x) => x[0]).join(', ')}`);
      if (t.length !== want) fail(`tensor '${name}' has ${t.length} values, expected ${want} for this config`, 'the checkpoint does not match its config');
    }
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
   * Shapes: ids, targets (B,T) -> logits (B,T,V) and losses (B,T), left on the GPU in this.activations.
   */
  forward(ids: ArrayLike<number>, B: number, T: number, targets?: ArrayLike<number>): Acts {
    const c = this.config, g = this.gpu;
    const { dim: C, hiddenDim: H, nLayers: L, nHeads: NH, nKvHeads: KVH, vocabSize: V } = c;
    const HS = C / NH, kvd = KVH * HS, BT = B * T;
    assert(ids.length === BT, `forward: ${ids.length} ids for B=${B} x T=${T}`);
    assert(T <= c.maxSeqLen, `sequence length ${T} exceeds the model's max_seq_len ${c.maxSeqLen}`, `use --seq ${c.maxSeqLen} or less`);
    for (let i = 0; i < BT; i++) {
      const id = ids[i];
      if (!(Number.isInteger(id) && id >= 0 && id < V)) fail(`token id ${id} at position ${i} is outside the vocabulary [0, ${V})`, 'the ids do not belong to this model\'s tokenizer');
    }
    const a = this.activations(B, T);
    g.upload(a.ids, Uint32Array.from(ids));
    const p = this.params;
    const mode = c.ropeMode === 'interleaved' ? 0 : 1;
    K.encoderForward(g, a.encoded, a.ids, p.token_embedding[0], null, B, T, C);
    for (let l = 0; l < L; l++) {
      const residual = l === 0 ? a.encoded : a.residual3[l - 1];
      // attention block
      K.rmsnormForward(g, a.ln1[l], a.ln1_rstd[l], residual, p.rms_att[l], BT, C, c.normEps);
      K.matmulForward(g, a.q[l], a.ln1[l], p.wq[l], null, BT, C, C);
      K.matmulForward(g, a.k[l], a.ln1[l], p.wk[l], null, BT, C, kvd);
      K.matmulForward(g, a.v[l], a.ln1[l], p.wv[l], null, BT, C, kvd);
      K.ropeForward(g, a.q[l], a.freqs_cos, a.freqs_sin, B, T, NH, HS, mode);
      K.ropeForward(g, a.k[l], a.freqs_cos, a.freqs_sin, B, T, KVH, HS, mode);
      K.attentionForward(g, a.atty[l], a.att[l], a.q[l], a.k[l], a.v[l], B, T, NH, KVH, HS);
      K.matmulForward(g, a.attproj[l], a.atty[l], p.wo[l], null, BT, C, C);
      K.residualForward(g, a.residual2[l], residual, a.attproj[l], BT * C);
      // MLP block: w2(silu(w1 x) * w3 x)
      K.rmsnormForward(g, a.ln2[l], a.ln2_rstd[l], a.residual2[l], p.rms_ffn[l], BT, C, c.normEps);
      K.matmulForward(g, a.fch_gate[l], a.ln2[l], p.w1[l], null, BT, C, H);
      K.matmulForward(g, a.fch_up[l], a.ln2[l], p.w3[l], null, BT, C, H);
      K.swigluForward(g, a.fch_swiglu[l], a.fch_gate[l], a.fch_up[l], BT * H);
      K.matmulForward(g, a.fcproj[l], a.fch_swiglu[l], p.w2[l], null, BT, H, C);
      K.residualForward(g, a.residual3[l], a.residual2[l], a.fcproj[l], BT * C);
    }
    K.rmsnormForward(g, a.lnf, a.lnf_rstd, a.residual3[L - 1], p.rms_final[0], BT, C, c.normEps);
    K.matmulForward(g, a.logits, a.lnf, (c.tiedEmbeddings ? p.token_embedding : p.wcls)[0], null, BT, C, V);
    if (targets) {
      assert(targets.length === BT, `forward: ${targets.length} targets for B=${B} x T=${T}`);
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

  destroy(): void {
    this.freeActivations();
    this.paramBuffer.destroy();
  }

  // the activation table for (B, T), kept until a different shape is asked for
  private activations(B: number, T: number): Acts {
    if (this.acts && this.acts.B === B && this.acts.T === T) return this.acts;
    this.freeActivations();
    const g = this.gpu, c = this.config;
    const { dim: C, hiddenDim: H, nLayers: L, nHeads: NH, nKvHeads: KVH, vocabSize: V } = c;
    const HS = C / NH, BT = B * T;
    const buffers: GPUBuffer[] = [];
    // one buffer per tensor kind, L slices each 256-byte aligned
    const kind = (label: string, n: number, layers: number): View[] => {
      const stride = alignUp(n);
      const buffer = g.alloc(stride * layers, label);
      buffers.push(buffer);
      return Array.from({ length: layers }, (_, l) => ({ buffer, offset: l * stride, numel: n }));
    };
    const one = (label: string, n: number) => kind(label, n, 1)[0];
    const { cos, sin } = K.ropeTables(T, HS, c.ropeTheta);
    const a: Acts = {
      B, T, buffers,
      ids: one('ids', BT), targets: one('targets', BT),
      encoded: one('encoded', BT * C),
      ln1: kind('ln1', BT * C, L), ln1_rstd: kind('ln1_rstd', BT, L),
      q: kind('q', BT * C, L), k: kind('k', BT * KVH * HS, L), v: kind('v', BT * KVH * HS, L),
      att: kind('att', B * NH * T * T, L),
      atty: kind('atty', BT * C, L), attproj: kind('attproj', BT * C, L), residual2: kind('residual2', BT * C, L),
      ln2: kind('ln2', BT * C, L), ln2_rstd: kind('ln2_rstd', BT, L),
      fch_gate: kind('fch_gate', BT * H, L), fch_up: kind('fch_up', BT * H, L), fch_swiglu: kind('fch_swiglu', BT * H, L),
      fcproj: kind('fcproj', BT * C, L), residual3: kind('residual3', BT * C, L),
      lnf: one('lnf', BT * C), lnf_rstd: one('lnf_rstd', BT),
      logits: one('logits', BT * V), losses: one('losses', BT),
      freqs_cos: one('freqs_cos', cos.length), freqs_sin: one('freqs_sin', sin.length),
    };
    g.upload(a.freqs_cos, cos);
    g.upload(a.freqs_sin, sin);
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
