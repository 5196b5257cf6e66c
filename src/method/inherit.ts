// inherit: build a k-block model from a pretrained reference (Inheritune, arXiv 2404.08634, Alg. 1
// step 1). Presets:
//   paper    (default) token embeddings, the chosen blocks whole, the final norm and the head are
//            inherited (GPT-2: the position embeddings too).
//   official as the authors' released scripts: blocks and head inherited; final norm and positions
//            re-initialized, and for Llama the token embeddings too.
// --no-embeddings / --no-final-norm / --no-head / --no-positions turn single parts off. When the
// reference ties head and embeddings but only one of them is inherited, the result is untied.
// Every tensor's origin is recorded (inheritune.json).
import type { Checkpoint, ModelConfig } from '../model/config.js';
import { parameterShapes, numel, embeddingName } from '../model/config.js';
import { checkBlocks, firstBlocks } from '../model/surgery.js';
import { hfKey } from '../formats/hf.js';
import { initTensor, initKind, INIT_STD } from '../model/init.js';
import { fail } from '../util/errors.js';

/** the paper's k: half the reference's L blocks, rounded down, and at least 1 (the default of `layers`) */
export const defaultK = (L: number): number => Math.max(1, Math.floor(L / 2));

export interface InheritOptions {
  layers?: number;              // the first K blocks (default: defaultK)
  select?: number[];            // or these blocks, in this order
  preset?: 'paper' | 'official';
  embeddings?: boolean; finalNorm?: boolean; head?: boolean; positions?: boolean;
  seed?: number;
}

export interface InheritRecord {
  method: string;
  reference: { name: string; family: string; n_layers: number };
  blocks: number[];
  preset: string;
  seed: number;
  parts: { embeddings: boolean; final_norm: boolean; head: boolean; positions: boolean | null; tied: boolean };
  tensors: Record<string, { source: 'reference'; reference_key: string } | { source: 'init'; init: string }>;
  notes: string[];
}

/**
 * one output (tensor, block): its table name and HF key, and the (tensor, block, HF key) it is copied
 * from — of the reference, or with `trained` of the model being grown (appendPlan) — or null (initialized)
 */
export interface PlanTensor {
  name: string; layer: number; key: string; shape: number[]; perLayer: boolean;
  from: { name: string; layer: number; key: string; trained?: boolean } | null;
}

export interface InheritPlan { config: ModelConfig; record: InheritRecord; tensors: PlanTensor[] }

/**
 * What is inherited, from the reference's config alone: the output's config, every output tensor's
 * origin in table order, and the record. Both the in-memory inherit() and the streaming copy
 * (src/method/inherit_stream.ts) follow it, so there is one way to decide.
 */
export function inheritPlan(rc: ModelConfig, opts: InheritOptions = {}, refName = 'reference'): InheritPlan {
  const L = rc.nLayers;
  if (opts.layers !== undefined && opts.select) fail('pass either `layers` (K) or `select` (a block list), not both');
  const blocks = opts.select ?? firstBlocks(opts.layers ?? defaultK(L), L);
  checkBlocks(blocks, L);
  const preset = opts.preset ?? 'paper';
  if (preset !== 'paper' && preset !== 'official') fail(`\`preset\` ${preset}: expected 'paper' or 'official'`);
  const gpt2 = rc.family === 'gpt2';
  const official = preset === 'official';
  const parts = {
    embeddings: opts.embeddings ?? !(official && !gpt2),
    final_norm: opts.finalNorm ?? !official,
    head: opts.head ?? true,
    positions: gpt2 ? opts.positions ?? !official : null,
  };
  const seed = opts.seed ?? 0;
  const notes: string[] = [];
  // tied reference, but only one of embeddings/head inherited -> untie
  const tied = rc.tiedEmbeddings && parts.embeddings === parts.head;
  if (rc.tiedEmbeddings && !tied) notes.push(`the reference ties head and token embeddings; ${parts.head ? 'the head' : 'the embeddings'} ` +
    `inherited and ${parts.head ? 'the embeddings' : 'the head'} re-initialized, so the result has an untied head (wcls)`);
  const config: ModelConfig = { ...rc, nLayers: blocks.length, tiedEmbeddings: rc.tiedEmbeddings ? tied : rc.tiedEmbeddings };
  const emb = embeddingName(rc);
  const tensors: PlanTensor[] = [];
  const record: InheritRecord['tensors'] = {};
  const initName = (name: string) => (initKind(name) === 'normal' ? `normal(0, ${INIT_STD}), seed ${seed}` : initKind(name));
  for (const [name, shape, perLayer] of parameterShapes(config)) {
    let keep: boolean;
    let from = name; // the reference tensor this one comes from
    if (perLayer) keep = true;
    else if (name === emb) keep = parts.embeddings;
    else if (name === 'wpe') keep = parts.positions === true;
    else if (name === 'rms_final' || name === 'lnfw' || name === 'lnfb') keep = parts.final_norm;
    else if (name === 'wcls') { keep = parts.head; if (rc.tiedEmbeddings) from = emb; }
    else keep = true;
    for (let l = 0; l < (perLayer ? config.nLayers : 1); l++) {
      const key = hfKey(config, name, l).key;
      const src = keep ? { name: from, layer: perLayer ? blocks[l] : 0, key: hfKey(rc, from, perLayer ? blocks[l] : 0).key } : null;
      tensors.push({ name, layer: l, key, shape, perLayer, from: src });
      record[key] = src ? { source: 'reference', reference_key: src.key } : { source: 'init', init: initName(name) };
    }
  }
  if (config.tiedEmbeddings) record['lm_head.weight'] = { source: 'reference', reference_key: `${hfKey(rc, emb, 0).key} (tied)` };
  return {
    config, tensors,
    record: {
      method: 'Inheritune (Sanyal, Sanghavi, Dimakis, arXiv 2404.08634)',
      reference: { name: refName, family: rc.family, n_layers: L }, blocks, preset, seed, parts: { ...parts, tied: config.tiedEmbeddings },
      tensors: record, notes,
    },
  };
}

/**
 * The recipe's random-init baseline as a plan: the reference's shape with `nLayers` blocks, every
 * tensor initialized — the values initCheckpoint({ ...rc, nLayers }, seed) gives.
 */
export function randomPlan(rc: ModelConfig, nLayers: number, seed = 0): InheritPlan {
  const p = inheritPlan(rc, { layers: nLayers, seed }, 'random init');
  const init = (name: string) => (initKind(name) === 'normal' ? `normal(0, ${INIT_STD}), seed ${seed}` : initKind(name));
  const tensors = p.tensors.map((t) => ({ ...t, from: null }));
  return { config: p.config, tensors, record: { ...p.record, blocks: [], tensors: Object.fromEntries(tensors.map((t) => [t.key, { source: 'init' as const, init: init(t.name) }])),
    notes: ['random init: nothing inherited (the recipe\'s baseline)'] } };
}

/**
 * The recipe's warm-append growth as a plan: the trained model's tensors, then reference blocks
 * `added` as its next blocks (what appendBlocks does in memory).
 */
export function appendPlan(trained: ModelConfig, rc: ModelConfig, added: number[], trainedBlocks: number[]): InheritPlan {
  checkBlocks(added, rc.nLayers);
  const k = trained.nLayers;
  const config: ModelConfig = { ...trained, nLayers: k + added.length };
  const tensors: PlanTensor[] = [];
  const record: InheritRecord['tensors'] = {};
  for (const [name, shape, perLayer] of parameterShapes(config)) {
    for (let l = 0; l < (perLayer ? config.nLayers : 1); l++) {
      const key = hfKey(config, name, l).key;
      const ref = perLayer && l >= k;
      const from = ref ? { name, layer: added[l - k], key: hfKey(rc, name, added[l - k]).key } : { name, layer: l, key: hfKey(trained, name, l).key, trained: true };
      tensors.push({ name, layer: l, key, shape, perLayer, from });
      record[key] = { source: 'reference', reference_key: ref ? from.key : `${from.key} (of the trained model)` };
    }
  }
  return {
    config, tensors,
    record: { method: 'Inheritune warm-append growth', reference: { name: 'reference', family: rc.family, n_layers: rc.nLayers },
      blocks: [...trainedBlocks, ...added], preset: 'paper', seed: 0,
      parts: { embeddings: true, final_norm: true, head: true, positions: rc.family === 'gpt2' ? true : null, tied: config.tiedEmbeddings },
      tensors: record, notes: [`blocks 0..${k - 1} and the rest are the trained model's; blocks ${k}.. are reference blocks [${added}]`] },
  };
}

let lastInit: { name: string; n: number; seed: number; values: Float32Array } | null = null;

/** an initialized output tensor's values (table layout), as inherit() gives them (the last tensor's values are kept: blocks come in order) */
export function initValues(plan: InheritPlan, t: PlanTensor): Float32Array {
  const n = numel(t.shape), L = t.perLayer ? plan.config.nLayers : 1, seed = plan.record.seed;
  if (!(lastInit && lastInit.name === t.name && lastInit.n === n * L && lastInit.seed === seed)) lastInit = { name: t.name, n: n * L, seed, values: initTensor(t.name, n * L, seed) };
  const values = lastInit.values.subarray(t.layer * n, (t.layer + 1) * n);
  if (t.layer === L - 1) lastInit = null;
  return values;
}

export function inherit(ref: Checkpoint, opts: InheritOptions = {}, refName = 'reference'): { checkpoint: Checkpoint; record: InheritRecord } {
  const plan = inheritPlan(ref.config, opts, refName);
  const tensors: Record<string, Float32Array> = {};
  for (const [name, shape, perLayer] of parameterShapes(plan.config)) {
    const n = numel(shape), of = plan.tensors.filter((t) => t.name === name);
    if (of.every((t) => !t.from)) { tensors[name] = initTensor(name, n * (perLayer ? plan.config.nLayers : 1), plan.record.seed); continue; }
    const out = new Float32Array(n * of.length);
    for (const t of of) out.set(t.from ? ref.tensors[t.from.name].subarray(t.from.layer * n, (t.from.layer + 1) * n) : initValues(plan, t), t.layer * n);
    tensors[name] = out;
  }
  return { checkpoint: { config: plan.config, tensors }, record: plan.record };
}
