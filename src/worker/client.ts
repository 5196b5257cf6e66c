// worker/client: a small typed client for the page side of the inheritune-rt web worker
// (src/worker/worker.ts). Every method posts one request (src/worker/protocol.ts) and returns a promise of
// its result; progress messages go to the optional callback. Worker-side errors come back as
// InherituneError with the same text (problem + HINT) as in Node.
//   const w = new InherituneWorker(new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' }));
//   await w.load({ source: 'url', url: '/models/stories260K.bin' });
import { InherituneError } from '../util/errors.js';
import type {
  Protocol, RequestType, Response, WireError, LoadRequest, DataRequest, InheritRequest, TrainRequest, TrainProgress,
  EvaluateRequest, AnalyzeRequest, AnalyzeProgress, SaveRequest, LoadProgress, GenerateRequest, GenerateProgress,
} from './protocol.js';

type Result<K extends RequestType> = Protocol[K][1];
interface Pending { resolve: (v: any) => void; reject: (e: Error) => void; progress?: (p: any) => void }

export function errorFromWire(w: WireError): Error {
  if (w.name === 'InherituneError') return new InherituneError(w.problem, w.hint);
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}

export class InherituneWorker {
  private nextId = 1;
  private pending = new Map<number, Pending>();

  constructor(readonly worker: Worker) {
    worker.addEventListener('message', (e: MessageEvent<Response>) => this.receive(e.data));
    // the worker script failed to load or threw outside a request: every open request fails
    worker.addEventListener('error', (e: ErrorEvent) => {
      e.preventDefault?.();
      this.rejectAll(new InherituneError(`the inheritune-rt worker failed: ${e.message || 'could not load the worker script'}`,
        'check that worker.mjs is served beside the page as JavaScript, from http(s)://, not file://'));
    });
    worker.addEventListener('messageerror', () => this.rejectAll(new InherituneError('a message from the worker could not be read')));
  }

  /** one request of any type; the typed methods below are shorthands */
  request<K extends RequestType>(type: K, fields: Protocol[K][0], onProgress?: (p: Protocol[K][2]) => void): Promise<Result<K>> {
    const id = this.nextId++;
    return new Promise<Result<K>>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, progress: onProgress });
      try { this.worker.postMessage({ ...fields, id, type }); } catch (e) { this.pending.delete(id); reject(e as Error); }
    });
  }

  info() { return this.request('info', {}); }
  load(req: LoadRequest, onProgress?: (p: LoadProgress) => void) { return this.request('load', req, onProgress); }
  /** the files of an <input type=file multiple> (or a drop): an HF directory's files, or a llama2.c .bin + tokenizer */
  loadFiles(files: Iterable<File> | ArrayLike<File>, onProgress?: (p: LoadProgress) => void) {
    const byName: Record<string, Blob> = {};
    for (const f of Array.from(files)) byName[f.name] = f;
    return this.load({ source: 'files', files: byName }, onProgress);
  }
  data(req: DataRequest) { return this.request('data', req); }
  inherit(req: InheritRequest = {}) { return this.request('inherit', req); }
  train(req: TrainRequest, onStep?: (p: TrainProgress) => void) { return this.request('train', req, onStep); }
  /** continue a cancelled run at its next step (steps: a new, larger target) */
  resume(model: string, onStep?: (p: TrainProgress) => void, steps?: number) {
    return this.request('train', { model, resume: true, options: steps === undefined ? undefined : { steps } }, onStep);
  }
  /** stop the running train after its current step (answered at once; the train request then resolves with cancelled: true) */
  cancel(model?: string) { return this.request('cancel', { model }); }
  evaluate(req: EvaluateRequest) { return this.request('evaluate', req); }
  analyze(req: AnalyzeRequest = {}, onProgress?: (p: AnalyzeProgress) => void) { return this.request('analyze', req, onProgress); }
  logits(model: string, ids: number[]) { return this.request('logits', { model, ids }); }
  /** text after a prompt, decoded on the GPU with a KV cache; onToken sees each id and the text so far */
  generate(req: GenerateRequest, onToken?: (p: GenerateProgress) => void) { return this.request('generate', req, onToken); }
  save(req: SaveRequest) { return this.request('save', req); }
  dispose(model: string) { return this.request('dispose', { model }); }

  terminate(): void {
    this.worker.terminate();
    this.rejectAll(new InherituneError('the inheritune-rt worker was terminated'));
  }

  private receive(msg: Response): void {
    const p = this.pending.get(msg?.id);
    if (!p) return;
    if (msg.kind === 'progress') { p.progress?.(msg.data); return; }
    this.pending.delete(msg.id);
    if (msg.kind === 'result') p.resolve(msg.data);
    else p.reject(errorFromWire(msg.error));
  }

  private rejectAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
