// onnx: export a checkpoint as an ONNX causal LM, laid out the way transformers.js and Optimum's
// exports are: inputs input_ids, attention_mask (int64, (B,T)), output logits (float32, (B,T,V)),
// no KV cache. The graph is the family forward() (src/model/llama.ts, gpt2.ts) written out in standard ONNX ops (opset 17..21), the
// weights float32 initializers. Isomorphic: bytes out, no file access (src/node/onnx.ts writes files).
// - attention sees key t2 from query t when t2 <= t and attention_mask[b,t2] = 1 (causal + padding, as
//   Hugging Face); positions (wpe rows, RoPE angles) are cumsum(attention_mask) - 1, as HF's generate()
//   derives position_ids, so left- and right-padded batches both give each sequence its unpadded logits.
// - RoPE is rotate_half; llama2.c's interleaved q/k rows are permuted to it by toRotateHalf (q.k is
//   unchanged when q and k rows move together), as convert_llama_weights_to_hf.py does.
// - linear weights are stored transposed, (in, out), so each projection is one MatMul (as torch.onnx does).
// Sizes: B batch, T time, C dim, H hidden_dim, NH heads, KVH kv heads, G = NH/KVH, HS = C/NH, V vocab.
import { parameterShapes, numel, validateCheckpoint, embeddingName, type Checkpoint } from '../model/config.js';
import { ropeInvFreq } from '../model/rope.js';
import { toRotateHalf } from './hf.js';
import { assert, fail } from '../util/errors.js';
import { modelProto, DT, AT } from './onnx_proto.js';

export interface OnnxOptions {
  opset?: number; // ONNX opset, 17 (default, the first with LayerNormalization) to 21
}

// ONNX IR version of each opset's release (onnx/onnx docs/Versioning.md)
const IR_VERSION: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };
const F32_MIN = -3.4028234663852886e38; // torch.finfo(float32).min: HF's mask value (a fully masked row stays finite)
const PROTOBUF_LIMIT = 2 ** 31 - 1;     // a protobuf message cannot exceed 2 GiB

/**
 * The ONNX model (a serialized onnx.ModelProto) computing ck's logits.
 * Shapes: input_ids, attention_mask (B,T) int64 -> logits (B,T,V) float32.
 */
export function exportOnnx(ck: Checkpoint, opts: OnnxOptions = {}): Uint8Array {
  const opset = opts.opset ?? 17;
  assert(IR_VERSION[opset] !== undefined, `ONNX opset ${opset} is not supported`, 'use an opset from 17 to 21');
  const problems = validateCheckpoint(ck);
  if (problems.length) fail(`the weights do not match the config:\n  ${problems.join('\n  ')}`, 'the checkpoint and its config.json disagree; re-export it');
  const g = new GraphBuilder(opset);
  buildForward(g, toRotateHalf(ck)); // llama2.c's interleaved q/k rows -> rotate_half, as hfFiles writes them
  if (g.bytes > PROTOBUF_LIMIT) {
    fail(`the model's weights take ${(g.bytes / 2 ** 30).toFixed(2)} GiB, over the 2 GiB limit of a single .onnx file`,
      'export a smaller model (ONNX external data files are not written by this exporter)');
  }
  const c = ck.config;
  const dims = (...d: (number | string)[]) => ({ dim: d.map((x) => (typeof x === 'number' ? { dim_value: x } : { dim_param: x })) });
  const io = (name: string, elem: number, ...d: (number | string)[]) => ({ name, type: { tensor_type: { elem_type: elem, shape: dims(...d) } } });
  const model = {
    ir_version: IR_VERSION[opset],
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'inheritune-rt',
    doc_string: `${c.family} causal LM, ${c.nLayers} blocks, exported by inheritune-rt`,
    metadata_props: [{ key: 'inheritune.config', value: JSON.stringify(c) }],
    graph: {
      name: `${c.family}_causal_lm`,
      node: g.nodes,
      initializer: g.inits,
      input: [io('input_ids', DT.INT64, 'batch_size', 'sequence_length'), io('attention_mask', DT.INT64, 'batch_size', 'sequence_length')],
      output: [io('logits', DT.FLOAT, 'batch_size', 'sequence_length', c.vocabSize)],
    },
  };
  return modelProto().encode(model).finish();
}

// ---- the forward pass as a graph (src/model/llama.ts / gpt2.ts forward(), same order) ----

function buildForward(g: GraphBuilder, ck: Checkpoint): void {
  const c = ck.config, w = ck.tensors;
  const { dim: C, hiddenDim: H, nLayers: L, nHeads: NH, nKvHeads: KVH, vocabSize: V } = c;
  const HS = C / NH, KVD = KVH * HS, gpt2 = c.family === 'gpt2';
  const sizes = new Map(parameterShapes(c).map(([name, shape]) => [name, numel(shape)]));
  const slice = (name: string, l: number) => w[name].subarray(l * sizes.get(name)!, (l + 1) * sizes.get(name)!); // layer l's part
  // y = x W^T + b for W (out, in)
  const linear = (x: string, name: string, W: Float32Array, out: number, inp: number, b?: Float32Array) => {
    const y = g.op('MatMul', [x, g.weight(name, transpose(W, out, inp), [inp, out])]);
    return b ? g.op('Add', [y, g.weight(`${name}.bias`, b, [out])]) : y;
  };
  const rmsnorm = (x: string, name: string, weight: Float32Array) => {
    const ms = g.reduceMean(g.op('Mul', [x, x]));                       // (B,T,1) mean of squares
    const n = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, g.scalar(c.normEps)])])]);
    return g.op('Mul', [n, g.weight(name, weight, [C])]);
  };
  const layernorm = (x: string, name: string, weight: Float32Array, bias: Float32Array) =>
    g.op('LayerNormalization', [x, g.weight(name, weight, [C]), g.weight(`${name}.bias`, bias, [C])], { axis: -1, epsilon: { float: c.normEps } });

  // 1) positions from the mask, (B,T) int64: cumsum(mask) - 1, clamped at 0 on left padding
  const one = g.ints([1], []);
  const pos = g.op('Max', [g.op('Sub', [g.op('CumSum', ['attention_mask', one]), one]), g.ints([0], [])]);
  // 2) which keys each query sees, (B,1,1,T,T) bool: causal (t2 <= t) and not padding
  const T = g.op('Gather', [g.op('Shape', ['input_ids']), one], { axis: 0 });  // scalar T
  const ar = g.op('Range', [g.ints([0], []), T, one]);                        // (T)
  const causal = g.op('GreaterOrEqual', [g.op('Unsqueeze', [ar, g.ints([1])]), g.op('Unsqueeze', [ar, g.ints([0])])]); // (T,T)
  const keys = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], { to: DT.BOOL }), g.ints([1, 2, 3])]);               // (B,1,1,1,T)
  const visible = g.op('And', [causal, keys]);
  // 3) embeddings: token (+ learned position for GPT-2), (B,T,C)
  const embName = embeddingName(c);
  const emb = g.weight(embName, w[embName], [V, C]);
  let x = g.op('Gather', [emb, 'input_ids'], { axis: 0 });
  if (gpt2) x = g.op('Add', [x, g.op('Gather', [g.weight('wpe', w.wpe, [c.maxSeqLen, C]), pos], { axis: 0 })]);
  // RoPE: angle = pos * theta^(-2i/HS) (src/model/rope.ts), cos/sin (B,T,1,HS) with halves repeated
  let cos = '', sin = '';
  if (!gpt2) {
    assert(HS % 2 === 0, `RoPE: head size ${HS} must be even`);
    const invFreq = ropeInvFreq(HS, c.ropeTheta);
    const ang = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', [pos], { to: DT.FLOAT }), g.ints([2])]), g.weight('rope.inv_freq', invFreq, [HS / 2])]);
    const full = g.op('Concat', [ang, ang], { axis: -1 });                   // (B,T,HS)
    cos = g.op('Unsqueeze', [g.op('Cos', [full]), g.ints([2])]);
    sin = g.op('Unsqueeze', [g.op('Sin', [full]), g.ints([2])]);
  }
  // x (B,T,heads,HS) -> x cos + rotate_half(x) sin, rotate_half(x) = (-x[HS/2:], x[:HS/2])
  const rope = (x: string) => {
    const lo = g.op('Slice', [x, g.ints([0]), g.ints([HS / 2]), g.ints([3])]);
    const hi = g.op('Slice', [x, g.ints([HS / 2]), g.ints([HS]), g.ints([3])]);
    const rot = g.op('Concat', [g.op('Neg', [hi]), lo], { axis: 3 });
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rot, sin])]);
  };
  // q (B,T,NH,HS), k, v (B,T,KVH,HS) -> (B,T,C); query head h = kvh*G + i reads kv head kvh
  const attention = (q: string, k: string, v: string) => {
    const G = NH / KVH;
    const q5 = g.op('Transpose', [g.op('Reshape', [q, g.ints([0, 0, KVH, G, HS])])], { perm: [0, 2, 3, 1, 4] }); // (B,KVH,G,T,HS)
    const kT = g.op('Unsqueeze', [g.op('Transpose', [k], { perm: [0, 2, 3, 1] }), g.ints([2])]);                // (B,KVH,1,HS,T)
    const v5 = g.op('Unsqueeze', [g.op('Transpose', [v], { perm: [0, 2, 1, 3] }), g.ints([2])]);                // (B,KVH,1,T,HS)
    const s = g.op('Mul', [g.op('MatMul', [q5, kT]), g.scalar(1 / Math.sqrt(HS))]);                             // (B,KVH,G,T,T)
    const att = g.op('Softmax', [g.op('Where', [visible, s, g.scalar(F32_MIN)])], { axis: -1 });
    const y = g.op('Transpose', [g.op('MatMul', [att, v5])], { perm: [0, 3, 1, 2, 4] });                         // (B,T,KVH,G,HS)
    return g.op('Reshape', [y, g.ints([0, 0, C])]);
  };
  const heads = (x: string, n: number) => g.op('Reshape', [x, g.ints([0, 0, n, HS])]);
  const has = (name: string) => w[name] !== undefined;

  for (let l = 0; l < L; l++) {
    g.scope = `layers.${l}.`;
    const p = (name: string) => slice(name, l);
    const pb = (name: string) => (has(name) ? p(name) : undefined);
    // attention block
    let h: string, y: string;
    if (gpt2) {
      h = layernorm(x, 'ln1', p('ln1w'), p('ln1b'));
      const qkv = linear(h, 'qkv', p('qkvw'), 3 * C, C, p('qkvb'));         // (B,T,3C)
      const [q, k, v] = g.opN('Split', [qkv, g.ints([C, C, C])], 3, { axis: 2 });
      y = linear(attention(heads(q, NH), heads(k, NH), heads(v, NH)), 'attproj', p('attprojw'), C, C, p('attprojb'));
    } else {
      h = rmsnorm(x, 'rms_att', p('rms_att'));
      const q = linear(h, 'wq', p('wq'), C, C, pb('bq'));
      const k = linear(h, 'wk', p('wk'), KVD, C, pb('bk'));
      const v = linear(h, 'wv', p('wv'), KVD, C, pb('bv'));
      y = linear(attention(rope(heads(q, NH)), rope(heads(k, KVH)), heads(v, KVH)), 'wo', p('wo'), C, C, pb('bo'));
    }
    x = g.op('Add', [x, y]);
    // MLP block: GPT-2 c_proj(gelu(c_fc x)); Llama w2(silu(w1 x) * w3 x)
    if (gpt2) {
      h = layernorm(x, 'ln2', p('ln2w'), p('ln2b'));
      y = linear(gelu(g, linear(h, 'fc', p('fcw'), H, C, p('fcb'))), 'fcproj', p('fcprojw'), C, H, p('fcprojb'));
    } else {
      h = rmsnorm(x, 'rms_ffn', p('rms_ffn'));
      const gate = linear(h, 'w1', p('w1'), H, C, pb('b1'));
      const up = linear(h, 'w3', p('w3'), H, C, pb('b3'));
      const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
      y = linear(act, 'w2', p('w2'), C, H, pb('b2'));
    }
    x = g.op('Add', [x, y]);
  }
  g.scope = '';
  x = gpt2 ? layernorm(x, 'lnf', w.lnfw, w.lnfb) : rmsnorm(x, 'rms_final', w.rms_final);
  // head: the tied embedding is stored once and transposed in the graph (ORT folds it at load)
  const head = c.tiedEmbeddings ? g.op('Transpose', [emb], { perm: [1, 0] }) : g.weight('wcls', transpose(w.wcls, V, C), [C, V]);
  g.op('MatMul', [x, head], {}, 'logits');
}

// GPT-2's tanh GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
function gelu(g: GraphBuilder, x: string): string {
  const x3 = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const u = g.op('Mul', [g.op('Add', [x, g.op('Mul', [x3, g.scalar(0.044715)])]), g.scalar(Math.sqrt(2 / Math.PI))]);
  return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.op('Tanh', [u]), g.scalar(1)])]);
}

/** W (rows, cols) -> W^T (cols, rows) */
function transpose(W: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(W.length);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[k * rows + r] = W[r * cols + k];
  return out;
}

// ---- graph builder: nodes and initializers as plain onnx.proto3 objects ----

type Attr = number | number[] | { float: number };
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1; // raw_data is little-endian

class GraphBuilder {
  nodes: object[] = [];
  inits: object[] = [];
  bytes = 0;            // initializer bytes so far
  scope = '';           // prefix of node and weight names (the current layer)
  private n = 0;
  private consts = new Map<string, string>();

  constructor(readonly opset: number) {
    assert(LITTLE_ENDIAN, 'ONNX export needs a little-endian host (tensors are written as raw little-endian bytes)');
  }

  /** a float32 initializer, named scope + name */
  weight(name: string, data: Float32Array, dims: number[]): string {
    return this.init(this.scope + name, DT.FLOAT, dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** an int64 constant (shape vectors, axes, indices), shared by value */
  ints(values: number[], dims = [values.length]): string {
    return this.constant(`i64:${dims}:${values}`, DT.INT64, dims, () => new Uint8Array(BigInt64Array.from(values, BigInt).buffer));
  }

  /** a float32 scalar constant, shared by value */
  scalar(v: number): string {
    return this.constant(`f32:${v}`, DT.FLOAT, [], () => new Uint8Array(Float32Array.of(v).buffer));
  }

  /** ReduceMean over the last axis, keepdims; axes moved from an attribute to an input in opset 18 */
  reduceMean(x: string): string {
    if (this.opset >= 18) return this.op('ReduceMean', [x, this.ints([-1])], { keepdims: 1 });
    return this.op('ReduceMean', [x], { axes: [-1], keepdims: 1 });
  }

  /** one node; returns its output's name (given, or generated) */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, output?: string): string {
    return this.opN(type, inputs, 1, attrs, output ? [output] : undefined)[0];
  }

  opN(type: string, inputs: string[], nOut: number, attrs: Record<string, Attr> = {}, outputs?: string[]): string[] {
    const name = `${this.scope}${type}_${this.n++}`;
    outputs ??= Array.from({ length: nOut }, (_, i) => (nOut === 1 ? name : `${name}:${i}`));
    const attribute = Object.entries(attrs).map(([key, v]) => {
      if (typeof v === 'number') return { name: key, type: AT.INT, i: v };
      if (Array.isArray(v)) return { name: key, type: AT.INTS, ints: v };
      return { name: key, type: AT.FLOAT, f: v.float };
    });
    this.nodes.push({ name, op_type: type, input: inputs, output: outputs, attribute });
    return outputs;
  }

  private constant(key: string, type: number, dims: number[], bytes: () => Uint8Array): string {
    let name = this.consts.get(key);
    if (!name) {
      name = this.init(`const_${this.consts.size}`, type, dims, bytes());
      this.consts.set(key, name);
    }
    return name;
  }

  private init(name: string, data_type: number, dims: number[], raw_data: Uint8Array): string {
    this.inits.push({ name, data_type, dims, raw_data });
    this.bytes += raw_data.byteLength;
    return name;
  }
}
