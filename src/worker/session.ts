// worker/session: what the inheritune-rt web worker does with each request (src/worker/protocol.ts),
// isomorphic and free of messaging, so it also runs in Node for tests. One Session owns the GPU, the
// loaded reference (its checkpoint on the CPU, its tokenizer, its tokenizer files), the tokenized
// train/val data, and the named models made by `inherit` with their trainers. GPU requests run one
// at a time in arrival order (a promise chain, as transformers.js serializes web sessions); `cancel`
// bypasses the chain and stops a running `train` after its current step, keeping the trainer so
// that `train` with resume: true continues at the next step.
import { exportOnnx } from '../formats/onnx.js';
import { createGpu, type Gpu } from '../gpu/gpu.js';
import { Model } from '../model/model.js';
import { generate, GENERATE_DEFAULTS as G } from '../model/generate.js';
import { countParameters, type Checkpoint, type ModelConfig } from '../model/config.js';
import { parseLlama2c } from '../formats/llama2c.js';
import { readHfModel, hfFiles } from '../formats/hf.js';
import { defaultK, inherit, type InheritRecord } from '../method/inherit.js';
import { initCheckpoint } from '../model/init.js';
import { Trainer, TRAIN_DEFAULTS, type TrainOptions, type StepMetrics } from '../train/trainer.js';
import { DISTILL_DEFAULTS } from '../train/distill.js';
import { windowedLoss } from '../train/evaluate.js';
import { analyzeAttention, LAZY_MAX_RANK } from '../method/analyze.js';
import { tokenizerFromFiles, TOKENIZER_FILES, isTokenizerBin, type Tokenizer } from '../tokenizers/load.js';
import { hfTokenizerFiles } from '../tokenizers/export.js';
import { InherituneError, fail } from '../util/errors.js';
import { openSource, readAll, concat, textOf, opfsRoot, writeOpfsFile, OPFS_DIR, CORS_HINT, type OnRead } from './sources.js';
import type {
  Request, RequestType, Protocol, LoadRequest, ModelInfo, DataRequest, DataInfo, InheritRequest, InheritResult,
  TrainRequest, TrainResult, EvaluateRequest, AnalyzeRequest, AnalyzeResult, SaveRequest, TextSource, WireError, GenerateRequest, GenerateResult,
} from './protocol.js';

/** what a handler returns: the result, and the buffers to transfer with it */
export interface Reply<K extends RequestType = RequestType> { data: Protocol[K][1]; transfer?: Transferable[] }

interface Reference { name: string; format: 'hf' | 'llama2c'; checkpoint: Checkpoint; tokenizer: Tokenizer | null; tokenizerFiles: Record<string, Uint8Array> }
interface Slot { model: Model; record: InheritRecord | null; trainer: Trainer | null }

export class Session {
  private gpuPromise: Promise<Gpu> | null = null;
  private ref: Reference | null = null;
  /** the reference on the GPU as a teacher (train with distill), made on first use */
  private teacher: Model | null = null;
  private data: { train: Uint32Array; val: Uint32Array } | null = null;
  private slots = new Map<string, Slot>();
  private chain: Promise<unknown> = Promise.resolve();
  private running: { model: string; cancel: boolean; step: number } | null = null;

  constructor(private makeGpu: () => Promise<Gpu> = () => createGpu()) {}

  /** run one request; progress(data) may be called any number of times before it resolves */
  handle(req: Request, progress: (data: unknown) => void = () => {}): Promise<Reply> {
    if (req.type === 'cancel') return Promise.resolve(this.cancel(req.model));
    const run = this.chain.then(() => this.dispatch(req, progress));
    this.chain = run.catch(() => {});
    return run;
  }

  private async dispatch(req: Request, progress: (data: unknown) => void): Promise<Reply> {
    switch (req.type) {
      case 'info': return { data: (await this.gpu()).report() };
      case 'load': return { data: await this.load(req, progress) };
      case 'data': return { data: await this.setData(req) };
      case 'inherit': return { data: await this.inherit(req) };
      case 'train': return { data: await this.train(req, progress) };
      case 'evaluate': return { data: await this.evaluate(req) };
      case 'analyze': return { data: await this.analyze(req, progress) };
      case 'logits': {
        const logits = await this.withModel(req.model, (m) => m.logits(req.ids));
        return { data: logits, transfer: [logits.buffer] };
      }
      case 'generate': return { data: await this.generate(req, progress) };
      case 'save': return this.save(req);
      case 'dispose': return { data: { disposed: this.dispose(req.model) } };
      default: return fail(`unknown request type ${JSON.stringify((req as { type: unknown }).type)}`, 'see src/worker/protocol.ts for the requests the worker understands');
    }
  }

  private gpu(): Promise<Gpu> {
    if (!this.gpuPromise) {
      this.gpuPromise = this.makeGpu();
      this.gpuPromise.catch(() => { this.gpuPromise = null; }); // no adapter: try again on the next request
    }
    return this.gpuPromise;
  }

  // ---- load: a reference from files, a URL or OPFS ----

  private async load(req: LoadRequest, progress: (p: unknown) => void): Promise<ModelInfo> {
    let bytes = 0;
    const onRead: OnRead = (file) => (n, total, done) => { bytes += n; progress({ phase: 'read', file, done, total }); };
    const { dir, llama2c, names } = await openSource(req, onRead);
    const checkpoint = llama2c ? parseLlama2c(llama2c.bytes, llama2c.name) : await readHfModel(dir);
    const V = checkpoint.config.vocabSize;
    // tokenizer: the named files, else probe the usual names; a llama2.c .bin tokenizer wins (as the CLI)
    const tokenizerFiles: Record<string, Uint8Array> = {};
    for (const f of names ?? [`tok${V}.bin`, ...TOKENIZER_FILES]) {
      if (!(await dir.exists(f))) {
        if (names) fail(`tokenizer file '${f}' not found (${dir.name})`, CORS_HINT);
        continue;
      }
      tokenizerFiles[f.slice(f.lastIndexOf('/') + 1)] = await readAll(await dir.source(f));
      if (isTokenizerBin(f) && !names) break;
    }
    const bin = Object.keys(tokenizerFiles).find(isTokenizerBin);
    const tokFiles = bin ? { [bin]: tokenizerFiles[bin] } : tokenizerFiles;
    const tokenizer = Object.keys(tokFiles).length ? await tokenizerFromFiles(tokFiles, { vocabSize: V, splitSpecialTokens: req.splitSpecialTokens }) : null;
    const name = llama2c?.name ?? dir.name;
    // a new reference replaces everything made from the old one (a failed load above keeps it all)
    for (const n of [...this.slots.keys()]) this.dispose(n);
    this.teacher?.destroy();
    this.teacher = null;
    this.data = null;
    this.ref = { name, format: llama2c ? 'llama2c' : 'hf', checkpoint, tokenizer, tokenizerFiles: tokFiles };
    return {
      name, format: this.ref.format, config: checkpoint.config, parameters: countParameters(checkpoint.config),
      tokenizer: tokenizer ? { kind: tokenizer.kind, vocabSize: tokenizer.vocabSize, files: Object.keys(tokFiles) } : null, bytes,
    };
  }

  private reference(): Reference {
    return this.ref ?? fail('no reference model is loaded', 'send a load request first (files, a URL, or an OPFS name)');
  }

  // ---- data: tokenize the training and validation texts ----

  private async setData(req: DataRequest): Promise<DataInfo> {
    const ref = this.reference();
    const tok = ref.tokenizer ?? fail(`the reference ${ref.name} came without a tokenizer`,
      'load it together with its tokenizer files (tokenizer.json, tokenizer.model, vocab.json + merges.txt, or a llama2.c tokenizer .bin)');
    // each text starts with BOS, as `inheritune-rt eval` tokenizes a file
    const encode = async (t: TextSource) => Uint32Array.from(tok.encode(await textOf(t), { bos: tok.bos !== null }));
    let train = await encode(req.train), val: Uint32Array;
    const heldOut = req.val === undefined;
    if (heldOut) {
      const frac = req.valFraction ?? 0.1;
      if (!(frac > 0 && frac < 1)) fail(`valFraction ${frac} must be between 0 and 1`);
      const cut = Math.floor(train.length * (1 - frac));
      val = train.slice(cut);
      train = train.slice(0, cut);
    } else {
      val = await encode(req.val!);
    }
    this.data = { train, val };
    return { train_tokens: train.length, val_tokens: val.length, held_out: heldOut };
  }

  private tokens(): { train: Uint32Array; val: Uint32Array } {
    return this.data ?? fail('no training/validation text yet', 'send a data request (or text in the train request) first');
  }

  // ---- inherit: a k-block model (or a random-init baseline) on the GPU ----

  private async inherit(req: InheritRequest): Promise<InheritResult> {
    const ref = this.reference(), gpu = await this.gpu();
    const name = req.model ?? 'inherited';
    if (name === 'reference') fail("'reference' names the loaded reference model", 'give the inherited model another name');
    let ck: Checkpoint, record: InheritRecord | null = null, blocks: number[] | null = null;
    if (req.random) {
      const L = req.layers ?? req.select?.length ?? defaultK(ref.checkpoint.config.nLayers);
      if (!(Number.isInteger(L) && L >= 1)) fail(`layers ${L} must be a positive integer`);
      const config: ModelConfig = { ...ref.checkpoint.config, nLayers: L };
      ck = initCheckpoint(config, req.seed ?? 0);
    } else {
      ({ checkpoint: ck, record } = inherit(ref.checkpoint, { layers: req.layers, select: req.select, preset: req.preset, seed: req.seed }, ref.name));
      blocks = record.blocks;
    }
    this.dispose(name);
    this.slots.set(name, { model: Model.create(gpu, ck), record, trainer: null });
    return { model: name, n_layers: ck.config.nLayers, parameters: countParameters(ck.config), blocks, record };
  }

  private slot(name: string): Slot {
    return this.slots.get(name) ?? fail(`no model named '${name}'`,
      `models: ${['reference', ...this.slots.keys()].join(', ')}; make one with an inherit request`);
  }

  /** fn on a named model; 'reference' is uploaded for the call and released after it */
  private async withModel<R>(name: string, fn: (m: Model) => Promise<R>): Promise<R> {
    if (name !== 'reference') return fn(this.slot(name).model);
    const m = Model.create(await this.gpu(), this.reference().checkpoint);
    try { return await fn(m); } finally { m.destroy(); }
  }

  private async generate(req: GenerateRequest, progress: (p: unknown) => void): Promise<GenerateResult> {
    const ref = this.reference();
    const tok = ref.tokenizer ?? fail(`the reference ${ref.name} came without a tokenizer`, 'load it together with its tokenizer files');
    const prompt = tok.encode(req.prompt, { bos: tok.bos !== null });
    if (!prompt.length) fail('the prompt encodes to no tokens (and the tokenizer has no BOS)', 'pass a non-empty prompt');
    return this.withModel(req.model, async (m) => {
      const ids: number[] = [];
      for await (const id of generate(m, prompt, { maxNewTokens: req.maxNewTokens ?? G.maxNewTokens, temperature: req.temperature ?? G.temperature,
        topK: req.topK ?? G.topK, topP: req.topP ?? G.topP, seed: req.seed ?? G.seed, stop: tok.eos !== null ? [tok.eos] : [] })) {
        ids.push(id);
        progress({ id, text: tok.decode(ids) });
      }
      return { text: tok.decode(ids), ids };
    });
  }

  private dispose(name: string): boolean {
    const s = this.slots.get(name);
    if (!s) return false;
    s.trainer?.destroy();
    s.model.destroy();
    this.slots.delete(name);
    return true;
  }

  // ---- train, cancel, resume ----

  private async train(req: TrainRequest, progress: (p: unknown) => void): Promise<TrainResult> {
    const slot = this.slot(req.model);
    if (req.text !== undefined) await this.setData({ train: req.text, val: req.val });
    const o = req.options ?? {};
    let trainer: Trainer;
    if (req.resume) {
      trainer = slot.trainer ?? fail(`'${req.model}' has no training run to resume`, 'start one with a train request without resume');
      if (o.steps !== undefined && o.steps !== trainer.opts.steps) trainer.setSteps(o.steps);
    } else {
      if (slot.trainer) {
        fail(`'${req.model}' was trained already (${slot.trainer.state.step} steps)`,
          'continue it with resume: true (options.steps to go further), or inherit again to start over');
      }
      for (const k of ['steps', 'batch', 'seq'] as const) if (o[k] === undefined) fail(`train: options.${k} is required`);
      const d = this.tokens();
      const distill = req.distill ? { ...DISTILL_DEFAULTS, ...(typeof req.distill === 'object' ? req.distill : {}) } : undefined;
      if (distill) this.teacher ??= Model.create(await this.gpu(), this.reference().checkpoint);
      trainer = new Trainer(slot.model, d.train, d.val, { ...TRAIN_DEFAULTS, ...o, ...(distill ? { distill } : {}) } as TrainOptions, undefined,
        distill ? { model: this.teacher! } : undefined);
    }
    slot.trainer = trainer;
    const t0 = Date.now();
    const history: StepMetrics[] = [];
    const run = this.running = { model: req.model, cancel: false, step: trainer.state.step };
    try {
      while (!trainer.done && !run.cancel) {
        const s = await trainer.step();
        run.step = trainer.state.step;
        history.push(s);
        progress({ ...s, model: req.model, steps: trainer.opts.steps });
      }
    } finally {
      this.running = null;
    }
    const last = history.at(-1);
    return {
      model: req.model, step: trainer.state.step, steps: trainer.opts.steps, done: trainer.done, cancelled: !trainer.done,
      history, val_loss: trainer.done ? last?.val_loss : undefined, seconds: (Date.now() - t0) / 1000,
    };
  }

  private cancel(model?: string): Reply<'cancel'> {
    const r = this.running;
    if (!r || (model !== undefined && model !== r.model)) return { data: { cancelling: false, model: r?.model ?? null, step: r?.step ?? null } };
    r.cancel = true;
    return { data: { cancelling: true, model: r.model, step: r.step } };
  }

  // ---- evaluate, analyze, save ----

  private async evaluate(req: EvaluateRequest) {
    const { val } = this.tokens();
    return this.withModel(req.model, (m) => windowedLoss(m, val, req.seq, req.windows, { batch: req.batch }));
  }

  private async analyze(req: AnalyzeRequest, progress: (p: unknown) => void): Promise<AnalyzeResult> {
    const { train, val } = this.tokens();
    const N = req.sequences ?? 16, T = req.seq ?? 64;
    const tokens = val.length >= N * T ? val : train;
    const a = await this.withModel(req.model ?? 'reference', (m) =>
      analyzeAttention(m, tokens, { sequences: N, seq: T, tau: req.tau, onProgress: (done, total) => progress({ done, total }) }));
    return { ...a, lazy_below: LAZY_MAX_RANK };
  }

  private async save(req: SaveRequest): Promise<Reply<'save'>> {
    const ref = this.reference();
    let ck: Checkpoint, record: InheritRecord | null = null;
    if (req.model === 'reference') ck = ref.checkpoint;
    else {
      const s = this.slot(req.model);
      ck = await s.model.readCheckpoint();
      record = s.record;
    }
    const files: Record<string, Uint8Array> = {};
    for (const [f, parts] of Object.entries(hfFiles(ck))) files[f] = concat(parts);
    // the reference's tokenizer files plus the HF ones (tokenizer.json, configs); copies: the result's buffers are transferred
    for (const [f, b] of Object.entries(hfTokenizerFiles(ref.tokenizerFiles, ref.checkpoint.config.maxSeqLen))) files[f] = b.slice();
    if (record) files['inheritune.json'] = new TextEncoder().encode(JSON.stringify(record, null, 1) + '\n');
    if (req.onnx) files['onnx/model.onnx'] = exportOnnx(ck);
    const sizes = Object.fromEntries(Object.entries(files).map(([f, b]) => [f, b.byteLength]));
    if (req.to === 'bytes') return { data: { model: req.model, sizes, files }, transfer: Object.values(files).map((b) => b.buffer as ArrayBuffer) };
    if (req.to !== 'opfs') fail(`save: unknown destination ${JSON.stringify(req.to)}`, "use to: 'opfs' or 'bytes'");
    const name = req.name ?? req.model;
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) fail(`'${name}' is not a usable directory name`, 'use letters, digits, _ . - (not starting with a dot)');
    const parent = await (await opfsRoot()).getDirectoryHandle(OPFS_DIR, { create: true });
    await parent.removeEntry(name, { recursive: true }).catch(() => {}); // replace an older save
    const d = await parent.getDirectoryHandle(name, { create: true });
    for (const [f, b] of Object.entries(files)) {
      const parts = f.split('/'); // onnx/model.onnx lives in a subdirectory
      let dir = d;
      for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p, { create: true });
      await writeOpfsFile(await dir.getFileHandle(parts[parts.length - 1], { create: true }), b);
    }
    return { data: { model: req.model, sizes, opfs: `${OPFS_DIR}/${name}` } };
  }
}

/** an error as it crosses the worker boundary (src/worker/client.ts rebuilds the InherituneError) */
export function wireError(e: unknown): WireError {
  if (e instanceof InherituneError) {
    const cut = e.hint ? e.message.lastIndexOf('\n---> HINT: ') : -1;
    return { name: e.name, message: e.message, problem: cut >= 0 ? e.message.slice(0, cut) : e.message, hint: e.hint };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, message: err.message, problem: err.message };
}
