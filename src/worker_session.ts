// worker_session: what the inheritune-rt web worker does with each request (src/worker_protocol.ts),
// isomorphic and free of messaging, so it also runs in Node for tests. One Session owns the GPU, the
// loaded reference (its checkpoint on the CPU, its tokenizer, its tokenizer files), the tokenized
// train/val data, and the named models made by `inherit` with their trainers. GPU requests run one
// at a time in arrival order (a promise chain, as transformers.js serializes web sessions); `cancel`
// bypasses the chain and stops a running `train` after its current step, keeping the trainer so
// that `train` with resume: true continues at the next step.
import { exportOnnx } from './onnx.js';
import { createGpu, type Gpu } from './gpu.js';
import { Model } from './model.js';
import { countParameters, type Checkpoint, type ModelConfig } from './config.js';
import { parseLlama2c } from './llama2c.js';
import { readHfModel, hfFiles, type ModelDir } from './hf.js';
import { hubDir } from './hub.js';
import { blobSource, memorySource, type ByteSource } from './safetensors.js';
import { inherit, type InheritRecord } from './inherit.js';
import { initCheckpoint } from './init.js';
import { Trainer, TRAIN_DEFAULTS, type TrainOptions, type StepMetrics } from './train.js';
import { windowedLoss } from './evaluate.js';
import { analyzeAttention, LAZY_MAX_RANK } from './analyze.js';
import { tokenizerFromFiles, type Tokenizer } from './tokenizers.js';
import { InherituneError, fail } from './errors.js';
import type {
  Request, RequestType, Protocol, LoadRequest, ModelInfo, DataRequest, DataInfo, InheritRequest, InheritResult,
  TrainRequest, TrainResult, EvaluateRequest, AnalyzeRequest, AnalyzeResult, SaveRequest, SaveResult, TextSource, WireError,
} from './worker_protocol.js';

/** what a handler returns: the result, and the buffers to transfer with it */
export interface Reply<K extends RequestType = RequestType> { data: Protocol[K][1]; transfer?: Transferable[] }

interface Reference { name: string; format: 'hf' | 'llama2c'; checkpoint: Checkpoint; tokenizer: Tokenizer | null; tokenizerFiles: Record<string, Uint8Array> }
interface Slot { model: Model; record: InheritRecord | null; trainer: Trainer | null }

// tokenizer files a model directory may hold (src/tokenizers.ts reads them); tok<V>.bin is llama2.c's
const TOKENIZER_NAMES = ['tokenizer.json', 'tokenizer.model', 'vocab.json', 'merges.txt', 'encoder.json', 'vocab.bpe', 'tokenizer_config.json', 'tokenizer.bin'];
const isTokenizerBin = (f: string) => f === 'tokenizer.bin' || /^tok.*\.bin$/.test(f);
const isTokenizerFile = (f: string) => TOKENIZER_NAMES.includes(f) || isTokenizerBin(f);
const OPFS_DIR = 'inheritune';
const CORS_HINT = 'check the URL; a server on another origin must send Access-Control-Allow-Origin, and answer Range requests (206) for safetensors';

export class Session {
  private gpuPromise: Promise<Gpu> | null = null;
  private ref: Reference | null = null;
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
      case 'save': return this.save(req);
      case 'dispose': return { data: { disposed: this.dispose(req.model) } };
      default: return fail(`unknown request type ${JSON.stringify((req as { type: unknown }).type)}`, 'see src/worker_protocol.ts for the requests the worker understands');
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
    for (const f of names ?? [`tok${V}.bin`, ...TOKENIZER_NAMES]) {
      if (!(await dir.exists(f))) {
        if (names) fail(`tokenizer file '${f}' not found (${dir.name})`, CORS_HINT);
        continue;
      }
      tokenizerFiles[f.slice(f.lastIndexOf('/') + 1)] = await readAll(await dir.source(f));
      if (isTokenizerBin(f) && !names) break;
    }
    const bin = Object.keys(tokenizerFiles).find(isTokenizerBin);
    const tokFiles = bin ? { [bin]: tokenizerFiles[bin] } : tokenizerFiles;
    const tokenizer = Object.keys(tokFiles).length ? await tokenizerFromFiles(tokFiles, { vocabSize: V }) : null;
    const name = llama2c?.name ?? dir.name;
    // a new reference replaces everything made from the old one (a failed load above keeps it all)
    for (const n of [...this.slots.keys()]) this.dispose(n);
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
    const encode = async (t: TextSource) => Uint32Array.from(tok.encode(await textOf(t), { bos: true }));
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
      const L = req.layers ?? req.select?.length ?? Math.max(1, Math.floor(ref.checkpoint.config.nLayers / 2));
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

  private dispose(name: string): boolean {
    const s = this.slots.get(name);
    if (!s) return false;
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
      if (o.steps !== undefined && o.steps !== trainer.opts.steps) {
        if (o.steps < trainer.state.step) fail(`steps ${o.steps} is below the ${trainer.state.step} steps already done`, `pass steps >= ${trainer.state.step}`);
        trainer = new Trainer(slot.model, trainer.train, trainer.val, { ...trainer.opts, steps: o.steps }, trainer.state);
      }
    } else {
      if (slot.trainer) {
        fail(`'${req.model}' was trained already (${slot.trainer.state.step} steps)`,
          'continue it with resume: true (options.steps to go further), or inherit again to start over');
      }
      for (const k of ['steps', 'batch', 'seq'] as const) if (o[k] === undefined) fail(`train: options.${k} is required`);
      const d = this.tokens();
      trainer = new Trainer(slot.model, d.train, d.val, { ...TRAIN_DEFAULTS, ...o } as TrainOptions);
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
    for (const [f, b] of Object.entries(ref.tokenizerFiles)) files[f] = b.slice(); // copies: the result's buffers are transferred
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

/** an error as it crosses the worker boundary (src/worker_client.ts rebuilds the InherituneError) */
export function wireError(e: unknown): WireError {
  if (e instanceof InherituneError) {
    const cut = e.hint ? e.message.lastIndexOf('\n---> HINT: ') : -1;
    return { name: e.name, message: e.message, problem: cut >= 0 ? e.message.slice(0, cut) : e.message, hint: e.hint };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, message: err.message, problem: err.message };
}

// ---- byte sources and model directories over Blobs, HTTP and OPFS ----

type OnRead = (file: string) => (n: number, total: number, done: number) => void;

/**
 * The directory a load request points at, the llama2.c checkpoint's bytes when it is one, and the
 * tokenizer files to read (null: probe the usual names in the directory).
 */
async function openSource(req: LoadRequest, onRead: OnRead): Promise<{ dir: ModelDir; llama2c: { name: string; bytes: Uint8Array } | null; names: string[] | null }> {
  if (req.source === 'files') {
    const files: Record<string, Blob> = {};
    for (const [k, v] of Object.entries(req.files ?? {})) files[k.slice(k.lastIndexOf('/') + 1)] = v;
    const all = Object.keys(files);
    const dir = blobDir('selected files', files, onRead);
    const names = all.filter(isTokenizerFile);
    if (files['config.json']) return { dir, llama2c: null, names };
    const bins = all.filter((f) => f.endsWith('.bin') && !isTokenizerBin(f));
    if (bins.length !== 1) {
      fail(bins.length ? `several model .bin files (${bins.join(', ')}); which one is the model?` : `no model among the files (${all.join(', ') || 'none'})`,
        'pick an HF directory\'s files (config.json, *.safetensors, tokenizer files) or one llama2.c model .bin with its tokenizer .bin');
    }
    return { dir, llama2c: { name: bins[0], bytes: await readAll(await dir.source(bins[0])) }, names };
  }
  if (req.source === 'url') {
    let url: URL;
    try { url = new URL(req.url, (globalThis as { location?: { href: string } }).location?.href); } catch {
      return fail(`'${req.url}' is not a URL`, 'give the URL of a model directory (http://host/path/) or of a llama2.c .bin');
    }
    const names = req.tokenizer === undefined ? null : Array.isArray(req.tokenizer) ? req.tokenizer : [req.tokenizer];
    if (url.pathname.endsWith('.bin')) {
      const name = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
      const dir = urlDir(new URL('.', url), onRead);
      return { dir, llama2c: { name, bytes: await readAll(await dir.source(name)) }, names };
    }
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return { dir: urlDir(url, onRead), llama2c: null, names };
  }
  if (req.source === 'hub') {
    const hub = hubDir(req.spec, { endpoint: req.endpoint, token: req.token });
    return { dir: { ...hub, source: async (f) => counted(await hub.source(f), onRead(f)) }, llama2c: null, names: null };
  }
  if (req.source === 'opfs') return { dir: await opfsDir(req.name, onRead), llama2c: null, names: null };
  return fail(`load: unknown source ${JSON.stringify((req as { source: unknown }).source)}`, "use source 'files', 'url', 'hub' or 'opfs'");
}

/** a ByteSource that reports every read */
function counted(src: ByteSource, report: (n: number, total: number, done: number) => void): ByteSource {
  let done = 0;
  return { size: src.size, read: async (o, n) => { const b = await src.read(o, n); done += b.byteLength; report(b.byteLength, src.size, done); return b; } };
}

async function readAll(src: ByteSource): Promise<Uint8Array> {
  return src.read(0, src.size);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.byteLength; }
  return out;
}

async function textOf(t: TextSource): Promise<string> {
  if (typeof t === 'string') return t;
  if (t && typeof (t as Blob).text === 'function') return (t as Blob).text();
  return fail('a text must be a string, a File or a Blob', 'pass the text itself or the File from an <input type=file>');
}

function blobDir(name: string, files: Record<string, Blob>, onRead: OnRead): ModelDir {
  const get = (f: string) => files[f] ?? fail(`${name}: no file '${f}' among those given (${Object.keys(files).join(', ')})`, 'pick all files of the model directory');
  return {
    name,
    exists: async (f) => f in files,
    readText: async (f) => get(f).text(),
    source: async (f) => counted(blobSource(get(f)), onRead(f)),
  };
}

async function fetchOk(url: string, init?: RequestInit): Promise<Response> {
  let r: Response;
  try { r = await fetch(url, init); } catch (e) {
    return fail(`could not fetch ${url} (${(e as Error).message})`, CORS_HINT);
  }
  if (!r.ok) fail(`${init?.method ?? 'GET'} ${url}: HTTP ${r.status}`, 'check that the file exists on the server');
  return r;
}

/** reads go out as HTTP Range requests; a server that ignores Range gets the whole file read once */
async function rangeSource(url: string): Promise<ByteSource> {
  const first = await fetchOk(url, { headers: { Range: 'bytes=0-0' } });
  if (first.status !== 206) return memorySource(new Uint8Array(await first.arrayBuffer()));
  await first.arrayBuffer();
  let size = Number(/\/(\d+)$/.exec(first.headers.get('content-range') ?? '')?.[1]);
  if (!Number.isFinite(size)) size = Number((await fetchOk(url, { method: 'HEAD' })).headers.get('content-length'));
  if (!Number.isFinite(size)) fail(`${url}: the server tells neither Content-Range nor Content-Length`, CORS_HINT);
  return {
    size,
    read: async (o, n) => {
      if (n === 0) return new Uint8Array(0);
      const r = await fetchOk(url, { headers: { Range: `bytes=${o}-${o + n - 1}` } });
      const b = new Uint8Array(await r.arrayBuffer());
      if (r.status === 206 && b.byteLength === n) return b;
      if (r.status === 200 && b.byteLength === size) return b.slice(o, o + n);
      return fail(`${url}: asked for bytes ${o}..${o + n - 1}, got HTTP ${r.status} with ${b.byteLength} bytes`, CORS_HINT);
    },
  };
}

function urlDir(base: URL, onRead: OnRead): ModelDir {
  const at = (f: string) => new URL(f, base).href;
  return {
    name: base.href,
    exists: async (f) => { try { return (await fetch(at(f), { method: 'HEAD' })).ok; } catch { return false; } },
    readText: async (f) => (await fetchOk(at(f))).text(),
    source: async (f) => counted(await rangeSource(at(f)), onRead(f)),
  };
}

async function opfsRoot(): Promise<FileSystemDirectoryHandle> {
  const storage = (globalThis as { navigator?: Navigator }).navigator?.storage;
  if (!storage?.getDirectory) fail('this runtime has no origin private file system (navigator.storage.getDirectory)', 'save with to: \'bytes\' instead, or use a browser');
  return storage.getDirectory();
}

async function opfsDir(name: string, onRead: OnRead): Promise<ModelDir> {
  let d: FileSystemDirectoryHandle;
  try { d = await (await (await opfsRoot()).getDirectoryHandle(OPFS_DIR)).getDirectoryHandle(name); } catch {
    return fail(`no saved model '${name}' in this browser's storage (OPFS ${OPFS_DIR}/${name})`, 'save one first (save with to: \'opfs\')');
  }
  const file = async (f: string) => (await d.getFileHandle(f)).getFile();
  return {
    name: `opfs:${OPFS_DIR}/${name}`,
    exists: async (f) => { try { await d.getFileHandle(f); return true; } catch { return false; } },
    readText: async (f) => (await file(f)).text(),
    source: async (f) => counted(blobSource(await file(f)), onRead(f)),
  };
}

async function writeOpfsFile(h: FileSystemFileHandle, bytes: Uint8Array): Promise<void> {
  if (typeof h.createWritable === 'function') {
    const w = await h.createWritable();
    await w.write(bytes as Uint8Array<ArrayBuffer>);
    await w.close();
    return;
  }
  // Safari before 26 has no createWritable; a dedicated worker has sync access handles
  const s = await (h as unknown as { createSyncAccessHandle(): Promise<{ truncate(n: number): void; write(b: Uint8Array, o: { at: number }): number; flush(): void; close(): void }> }).createSyncAccessHandle();
  try { s.truncate(0); s.write(bytes, { at: 0 }); s.flush(); } finally { s.close(); }
}
