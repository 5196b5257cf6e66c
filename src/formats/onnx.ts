// onnx: export a checkpoint as an ONNX causal LM with a KV cache, in the names and layout of Optimum's
// decoder exports, so transformers.js generates with it:
//   inputs  input_ids (B,S) int64, attention_mask (B,P+S) int64 (past and new tokens), position_ids
//           (B,S) int64, past_key_values.{l}.key / .value (B,KVH,P,HS) float32 (P = 0: empty);
//   outputs logits (B,S,V) float32, present.{l}.key / .value (B,KVH,P+S,HS): the past with the new keys.
// The graph is the family forward (src/model/llama.ts, gpt2.ts, neox.ts) in standard ONNX ops (opset
// 17..21), weights float32 initializers. Isomorphic: bytes out, no file access (src/node/onnx.ts).
// - query s (absolute position P+s) sees key j when j <= P+s and attention_mask[b,j] = 1 (causal +
//   padding, as Hugging Face); positions come from position_ids (wpe rows, RoPE angles), which callers
//   derive as HF's generate() does (cumsum(attention_mask) - 1), so padded batches give each sequence
//   its unpadded logits.
// - RoPE is rotate_half over the first R dims of a head (R = HS; GPT-NeoX: rotary_pct * HS), with the
//   frequencies of src/model/rope.ts (rope_scaling included); llama2.c's interleaved q/k rows are
//   permuted to it by toRotateHalf (q.k is unchanged when q and k rows move together).
// - linear weights are stored transposed, (in, out), so each projection is one MatMul (as torch.onnx does).
// Sizes: B batch, S new tokens, P past tokens, C dim, H hidden_dim, NH heads, KVH kv heads, G = NH/KVH,
// HS head size, QD = NH*HS, V vocab.
import { parameterShapes, numel, validateCheckpoint, embeddingName, headSize, type Checkpoint } from '../model/config.js';
import { ropeOf } from '../model/rope.js';
import { toRotateHalf } from './hf.js';
import { assert, fail } from '../util/errors.js';
import { modelProto, DT } from './onnx_proto.js';
import { GraphBuilder, transpose } from './onnx_graph.js';

export interface OnnxOptions {
  opset?: number; // ONNX opset, 17 (default, the first with LayerNormalization) to 21
}

// ONNX IR version of each opset's release (onnx/onnx docs/Versioning.md)
const IR_VERSION: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };
const F32_MIN = -3.4028234663852886e38; // torch.finfo(float32).min: HF's mask value (a fully masked row stays finite)
const PROTOBUF_LIMIT = 2 ** 31 - 1;     // a protobuf message cannot exceed 2 GiB

/** The ONNX model (a serialized onnx.ModelProto) computing ck's logits and KV cache. */
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
  const c = ck.config, HS = headSize(c);
  const dims = (...d: (number | string)[]) => ({ dim: d.map((x) => (typeof x === 'number' ? { dim_value: x } : { dim_param: x })) });
  const io = (name: string, elem: number, ...d: (number | string)[]) => ({ name, type: { tensor_type: { elem_type: elem, shape: dims(...d) } } });
  const kv = (prefix: string, len: string) => Array.from({ length: c.nLayers }, (_, l) => ['key', 'value'].map((kind) =>
    io(`${prefix}.${l}.${kind}`, DT.FLOAT, 'batch_size', c.nKvHeads, len, HS))).flat();
  const total = 'past_sequence_length + sequence_length';
  const model = {
    ir_version: IR_VERSION[opset],
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'inheritune-rt',
    doc_string: `${c.hfType ?? c.family} causal LM with a KV cache, ${c.nLayers} blocks, exported by inheritune-rt`,
    metadata_props: [{ key: 'inheritune.config', value: JSON.stringify(c) }],
    graph: {
      name: `${c.family}_causal_lm`,
      node: g.nodes,
      initializer: g.inits,
      input: [io('input_ids', DT.INT64, 'batch_size', 'sequence_length'), io('attention_mask', DT.INT64, 'batch_size', total),
        io('position_ids', DT.INT64, 'batch_size', 'sequence_length'), ...kv('past_key_values', 'past_sequence_length')],
      output: [io('logits', DT.FLOAT, 'batch_size', 'sequence_length', c.vocabSize), ...kv('present', total)],
    },
  };
  return modelProto().encode(model).finish();
}

// ---- the forward pass as a graph (the family files' forward(), same order) ----

function buildForward(g: GraphBuilder, ck: Checkpoint): void {
  const c = ck.config, w = ck.tensors, fam = c.family;
  const { dim: C, hiddenDim: H, nLayers: L, nHeads: NH, nKvHeads: KVH, vocabSize: V } = c;
  const HS = headSize(c), QD = NH * HS, KVD = KVH * HS, R = fam === 'gpt2' ? 0 : c.rotaryDim ?? HS;
  const sizes = new Map(parameterShapes(c).map(([name, shape]) => [name, numel(shape)]));
  const slice = (name: string, l: number) => w[name].subarray(l * sizes.get(name)!, (l + 1) * sizes.get(name)!); // layer l's part
  // y = x W^T + b for W (out, in)
  const linear = (x: string, name: string, W: Float32Array, out: number, inp: number, b?: Float32Array) => {
    const y = g.op('MatMul', [x, g.weight(name, transpose(W, out, inp), [inp, out])]);
    return b ? g.op('Add', [y, g.weight(`${name}.bias`, b, [out])]) : y;
  };
  // over the last axis, of width n (C, or HS for Qwen3's per-head q/k norms)
  const rmsnorm = (x: string, name: string, weight: Float32Array, n = C) => {
    const ms = g.reduceMean(g.op('Mul', [x, x]));                       // (..., 1) mean of squares
    const y = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, g.scalar(c.normEps)])])]);
    return g.op('Mul', [y, g.weight(name, weight, [n])]);
  };
  const layernorm = (x: string, name: string, weight: Float32Array, bias: Float32Array) =>
    g.op('LayerNormalization', [x, g.weight(name, weight, [C]), g.weight(`${name}.bias`, bias, [C])], { axis: -1, epsilon: { float: c.normEps } });

  // 1) which keys each new token sees, (B,1,1,S,P+S) bool: causal (j <= P+s) and not padding
  const one = g.ints([1], []), zero = g.ints([0], []);
  const S = g.op('Gather', [g.op('Shape', ['input_ids']), one], { axis: 0 });          // scalar S
  const total = g.op('Gather', [g.op('Shape', ['attention_mask']), one], { axis: 0 }); // scalar P+S
  const qi = g.op('Add', [g.op('Range', [zero, S, one]), g.op('Sub', [total, S])]);    // (S) absolute positions
  const ki = g.op('Range', [zero, total, one]);                                        // (P+S)
  const causal = g.op('GreaterOrEqual', [g.op('Unsqueeze', [qi, g.ints([1])]), g.op('Unsqueeze', [ki, g.ints([0])])]); // (S,P+S)
  const keys = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], { to: DT.BOOL }), g.ints([1, 2, 3])]);               // (B,1,1,1,P+S)
  const visible = g.op('And', [causal, keys]);
  // 2) embeddings: token (+ learned position for GPT-2), (B,S,C)
  const embName = embeddingName(c);
  const emb = g.weight(embName, w[embName], [V, C]);
  let x = g.op('Gather', [emb, 'input_ids'], { axis: 0 });
  if (fam === 'gpt2') x = g.op('Add', [x, g.op('Gather', [g.weight('wpe', w.wpe, [c.maxSeqLen, C]), 'position_ids'], { axis: 0 })]);
  // RoPE: angle = position * invFreq[i] (src/model/rope.ts), cos/sin (B,S,1,R) with halves repeated
  let cos = '', sin = '';
  if (R) {
    const ang = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', ['position_ids'], { to: DT.FLOAT }), g.ints([2])]), g.weight('rope.inv_freq', ropeOf(c, HS), [R / 2])]);
    const full = g.op('Concat', [ang, ang], { axis: -1 });                   // (B,S,R)
    cos = g.op('Unsqueeze', [g.op('Cos', [full]), g.ints([2])]);
    sin = g.op('Unsqueeze', [g.op('Sin', [full]), g.ints([2])]);
  }
  const dims3 = (x: string, a: number, b: number) => g.op('Slice', [x, g.ints([a]), g.ints([b]), g.ints([3])]);
  // x (B,S,heads,HS) -> its first R dims r: r cos + rotate_half(r) sin, rotate_half(r) = (-r[R/2:], r[:R/2]); the rest as is
  const rope = (x: string) => {
    const r = R === HS ? x : dims3(x, 0, R);
    const rot = g.op('Concat', [g.op('Neg', [dims3(r, R / 2, R)]), dims3(r, 0, R / 2)], { axis: 3 });
    const y = g.op('Add', [g.op('Mul', [r, cos]), g.op('Mul', [rot, sin])]);
    return R === HS ? y : g.op('Concat', [y, dims3(x, R, HS)], { axis: 3 });
  };
  // q (B,S,NH,HS), k, v (B,S,KVH,HS) -> (B,S,QD); the cache grows by k, v; query head h = kvh*G + i reads kv head kvh
  const attention = (l: number, q: string, k: string, v: string) => {
    const G = NH / KVH;
    const kk = g.op('Concat', [`past_key_values.${l}.key`, g.op('Transpose', [k], { perm: [0, 2, 1, 3] })], { axis: 2 }, `present.${l}.key`);     // (B,KVH,P+S,HS)
    const vv = g.op('Concat', [`past_key_values.${l}.value`, g.op('Transpose', [v], { perm: [0, 2, 1, 3] })], { axis: 2 }, `present.${l}.value`); // (B,KVH,P+S,HS)
    const q5 = g.op('Transpose', [g.op('Reshape', [q, g.ints([0, 0, KVH, G, HS])])], { perm: [0, 2, 3, 1, 4] }); // (B,KVH,G,S,HS)
    const kT = g.op('Unsqueeze', [g.op('Transpose', [kk], { perm: [0, 1, 3, 2] }), g.ints([2])]);               // (B,KVH,1,HS,P+S)
    const v5 = g.op('Unsqueeze', [vv, g.ints([2])]);                                                            // (B,KVH,1,P+S,HS)
    const s = g.op('Mul', [g.op('MatMul', [q5, kT]), g.scalar(1 / Math.sqrt(HS))]);                             // (B,KVH,G,S,P+S)
    const att = g.op('Softmax', [g.op('Where', [visible, s, g.scalar(F32_MIN)])], { axis: -1 });
    const y = g.op('Transpose', [g.op('MatMul', [att, v5])], { perm: [0, 3, 1, 2, 4] });                         // (B,S,KVH,G,HS)
    return g.op('Reshape', [y, g.ints([0, 0, QD])]);
  };
  const heads = (x: string, n: number) => g.op('Reshape', [x, g.ints([0, 0, n, HS])]);
  const has = (name: string) => w[name] !== undefined;

  for (let l = 0; l < L; l++) {
    g.scope = `layers.${l}.`;
    const p = (name: string) => slice(name, l);
    const pb = (name: string) => (has(name) ? p(name) : undefined);
    if (fam === 'llama') {
      // x + wo(attn(rope(norm(wq h)), rope(norm(wk h)), wv h)), h = rmsnorm(x); then x + w2(silu(w1 h) * w3 h)
      const h = rmsnorm(x, 'rms_att', p('rms_att'));
      let q = heads(linear(h, 'wq', p('wq'), QD, C, pb('bq')), NH), k = heads(linear(h, 'wk', p('wk'), KVD, C, pb('bk')), KVH);
      if (c.qkNorm) { q = rmsnorm(q, 'q_norm', p('q_norm'), HS); k = rmsnorm(k, 'k_norm', p('k_norm'), HS); }
      const v = heads(linear(h, 'wv', p('wv'), KVD, C, pb('bv')), KVH);
      x = g.op('Add', [x, linear(attention(l, rope(q), rope(k), v), 'wo', p('wo'), C, QD, pb('bo'))]);
      const h2 = rmsnorm(x, 'rms_ffn', p('rms_ffn'));
      const gate = linear(h2, 'w1', p('w1'), H, C, pb('b1'));
      const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(h2, 'w3', p('w3'), H, C, pb('b3'))]);
      x = g.op('Add', [x, linear(act, 'w2', p('w2'), C, H, pb('b2'))]);
      continue;
    }
    // GPT-2 and GPT-NeoX: fused qkv rows [q | k | v], LayerNorms with bias, a GELU MLP
    const qkv = linear(layernorm(x, 'ln1', p('ln1w'), p('ln1b')), 'qkv', p('qkvw'), 3 * C, C, p('qkvb')); // (B,S,3C)
    const [q, k, v] = g.opN('Split', [qkv, g.ints([C, C, C])], 3, { axis: 2 }).map((t) => heads(t, NH));
    const a = linear(attention(l, R ? rope(q) : q, R ? rope(k) : k, v), 'attproj', p('attprojw'), C, C, p('attprojb'));
    const mlp = (h: string) => {
      const u = linear(h, 'fc', p('fcw'), H, C, p('fcb'));
      return linear(fam === 'gpt2' ? geluTanh(g, u) : geluErf(g, u), 'fcproj', p('fcprojw'), C, H, p('fcprojb'));
    };
    if (fam === 'neox' && c.parallelResidual !== false) {
      x = g.op('Add', [g.op('Add', [x, a]), mlp(layernorm(x, 'ln2', p('ln2w'), p('ln2b')))]);       // x + attn(ln1 x) + mlp(ln2 x)
    } else {
      x = g.op('Add', [x, a]);
      x = g.op('Add', [x, mlp(layernorm(x, 'ln2', p('ln2w'), p('ln2b')))]);
    }
  }
  g.scope = '';
  x = fam === 'llama' ? rmsnorm(x, 'rms_final', w.rms_final) : layernorm(x, 'lnf', w.lnfw, w.lnfb);
  // head: the tied embedding is stored once and transposed in the graph (ORT folds it at load)
  const head = c.tiedEmbeddings ? g.op('Transpose', [emb], { perm: [1, 0] }) : g.weight('wcls', transpose(w.wcls, V, C), [C, V]);
  g.op('MatMul', [x, head], {}, 'logits');
}

// GPT-2's tanh GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
function geluTanh(g: GraphBuilder, x: string): string {
  const x3 = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const u = g.op('Mul', [g.op('Add', [x, g.op('Mul', [x3, g.scalar(0.044715)])]), g.scalar(Math.sqrt(2 / Math.PI))]);
  return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.op('Tanh', [u]), g.scalar(1)])]);
}

// GPT-NeoX's exact GELU: 0.5 x (1 + erf(x / sqrt 2))
function geluErf(g: GraphBuilder, x: string): string {
  return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.op('Erf', [g.op('Mul', [x, g.scalar(Math.SQRT1_2)])]), g.scalar(1)])]);
}
