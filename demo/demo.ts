// demo: the page script of the inheritune-rt demo (demo/index.html, built to dist/demo/demo.mjs).
// The main thread only reads controls, posts requests to the worker (dist/demo/worker.mjs, through
// InherituneWorker) and draws: a live loss chart (reference validation loss as a flat line, the
// inherited model, then a random-init baseline of the same size), the lazy-layer chart of the
// reference (max attention rank per block), a Sample card (demo/sample.ts: text from any of the
// models, streamed), and download links for the trained HF directory. One click starts without any
// files: the built-in reference and Brown Corpus text (demo/builtin.ts), as `inheritune-rt demo` does.
// window.__demo exposes the worker and the page state for tests (test/demo.test.ts), and
// __demo.cancelAfter = n presses Cancel once a run has done n steps.
import { InherituneWorker } from '../src/worker/client.js';
import { lineChart, type Series } from '../src/util/svg.js';
import { NO_ADAPTER_HINT } from '../src/gpu/device.js';
import type { StepMetrics, TrainOptions } from '../src/train/trainer.js';
import { wireSample, type SampleState } from './sample.js';
import { BUILTIN, builtinText } from './builtin.js';
import type { GpuInfo, ModelInfo, DataInfo, InheritResult, LoadRequest, TrainProgress, AnalyzeResult } from '../src/worker/protocol.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const num = (id: string) => Number(input(id).value);
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (x: number | null | undefined, d = 4) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
const human = (n: number) => n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} K` : String(n);
const bytes = (n: number) => n >= 1 << 30 ? `${+(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

interface Run { model: 'inherited' | 'baseline'; label: string; n_layers: number; parameters: number; initVal: number | null; steps: StepMetrics[]; done: boolean; cancelled: boolean }

const state = {
  ready: false,
  info: null as GpuInfo | null,
  ref: null as ModelInfo | null,
  data: null as DataInfo | null,
  inherited: null as InheritResult | null,
  analysis: null as AnalyzeResult | null,
  refVal: null as number | null,
  opts: null as (Partial<TrainOptions> & { steps: number; batch: number; seq: number; valWindows: number }) | null,
  withBaseline: true,
  /** both runs also learn the reference's output distribution (the worker's train with distill) */
  distill: false,
  runs: [] as Run[],
  current: null as Run | null,
  phase: 'idle' as 'idle' | 'busy' | 'training' | 'cancelling' | 'cancelled' | 'done',
  errors: [] as string[],
  log: [] as string[],
  sample: { text: '', ids: [], running: false } as SampleState,
};

function log(line: string): void {
  state.log.push(line);
  const el = $('log');
  el.textContent = state.log.slice(-200).join('\n');
  el.scrollTop = el.scrollHeight;
}

function showError(where: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  state.errors.push(`${where}: ${msg}`);
  log(`error (${where}): ${msg}`);
  const el = $(where);
  el.textContent = msg;
  el.classList.add('bad');
}

function status(id: string, text: string): void {
  const el = $(id);
  el.classList.remove('bad');
  el.textContent = text;
}

// ---- WebGPU check, then the worker ----

let worker: InherituneWorker | null = null;

async function start(): Promise<void> {
  const dev = $('device');
  if (!(navigator as Navigator & { gpu?: unknown }).gpu) {
    dev.classList.add('bad');
    dev.textContent = `No WebGPU here (navigator.gpu is missing${window.isSecureContext ? '' : ': the page is not a secure context, serve it from https:// or http://localhost'}).\n` +
      `---> HINT: ${NO_ADAPTER_HINT.browser}`;
    return;
  }
  worker = new InherituneWorker(new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' }));
  (window as any).__demo.worker = worker;
  try {
    const info = state.info = await worker.info();
    const a = info.adapter;
    const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' · ') || 'unnamed adapter';
    dev.innerHTML = `WebGPU adapter <b>${esc(name)}</b> in a web worker · features: ${esc(info.features.join(', ') || 'none')} · ` +
      `max binding ${bytes(info.limits.maxStorageBufferBindingSize)}, max buffer ${bytes(info.limits.maxBufferSize)}`;
    state.ready = true;
    log(`worker ready: ${name}`);
  } catch (e) {
    dev.classList.add('bad');
    dev.textContent = (e as Error).message;
    state.errors.push(`device: ${(e as Error).message}`);
  }
  refreshOpfsList();
}

// ---- 1) load the reference and the text ----

function sourceKind(): string {
  return (document.querySelector('input[name=source]:checked') as HTMLInputElement).value;
}

/** the one-click start: the built-in reference and its Brown text (demo/builtin.ts) */
async function loadBuiltin(): Promise<void> {
  let text: { train: string; val: string };
  busy(true);
  status('load-status', 'fetching the Brown Corpus text…');
  try {
    text = await builtinText();
  } catch (e) {
    showError('load-status', e);
    busy(false);
    return;
  }
  busy(false);
  await loadAll({ source: 'url', url: BUILTIN.model }, text);
}

/** the reference (req, else the chosen source) and the text (text, else the text file inputs) */
async function loadAll(given?: LoadRequest, text?: { train: string; val: string }): Promise<void> {
  const w = worker!;
  const kind = sourceKind();
  let req: LoadRequest;
  if (given) {
    req = given;
  } else if (kind === 'files') {
    const files = input('model-files').files;
    if (!files?.length) { showError('load-status', new Error('pick the model files first')); return; }
    const byName: Record<string, Blob> = {};
    for (const f of Array.from(files)) byName[f.name] = f;
    req = { source: 'files', files: byName };
  } else if (kind === 'url') {
    const url = input('model-url').value.trim(), tok = input('tok-url').value.trim();
    req = url.startsWith('hf:') ? { source: 'hub', spec: url, endpoint: input('hub-endpoint').value.trim() || undefined }
      : { source: 'url', url, tokenizer: tok ? tok.split(/[\s,]+/) : undefined };
  } else {
    req = { source: 'opfs', name: $<HTMLSelectElement>('opfs-name').value };
  }
  busy(true);
  status('load-status', 'loading…');
  $('load-bar').style.width = '0';
  try {
    const ref = await w.load(req, (p) => {
      $('load-bar').style.width = `${(100 * p.done) / Math.max(1, p.total)}%`;
      status('load-status', `${p.file}: ${bytes(p.done)} of ${bytes(p.total)}`);
    });
    // the worker replaced its reference, and dropped the models and data made from the old one
    state.ref = ref;
    state.data = state.inherited = state.analysis = state.current = null;
    state.refVal = null;
    state.runs = [];
    state.phase = 'idle';
    $('inherit-info').innerHTML = '';
    $('lazy-chart').innerHTML = '';
    $('lazy-table').innerHTML = '';
    renderLoss();
    $('load-bar').style.width = '100%';
    const c = ref.config;
    log(`loaded ${ref.name}: ${c.family}, ${c.nLayers} blocks, ${ref.parameters} parameters`);
    $('model-info').innerHTML = `<dl>
      <dt>model</dt><dd>${esc(ref.name)} (${ref.format === 'hf' ? 'HF directory' : 'llama2.c'})</dd>
      <dt>family</dt><dd>${c.family}, ${c.nLayers} blocks, dim ${c.dim}, ${c.nHeads} heads, vocab ${c.vocabSize}</dd>
      <dt>parameters</dt><dd>${human(ref.parameters)}</dd>
      <dt>tokenizer</dt><dd>${ref.tokenizer ? `${esc(ref.tokenizer.kind)} (${ref.tokenizer.files.map(esc).join(', ')})` : '<span class="error">none found</span>'}</dd>
      <dt>read</dt><dd>${bytes(ref.bytes)}</dd></dl>`;
    const k = input('k');
    k.max = String(c.nLayers);
    k.value = String(Math.max(1, Math.floor(c.nLayers / 2)));
    k.disabled = false;
    $('k-out').textContent = k.value;
    const train = text?.train ?? input('text-file').files?.[0];
    if (train) {
      const val = text ? text.val : input('val-file').files?.[0];
      status('load-status', 'tokenizing…');
      const d = state.data = await w.data({ train, val });
      log(`text: ${d.train_tokens} training tokens, ${d.val_tokens} validation tokens${d.held_out ? ' (held out from the end)' : ''}`);
      $('model-info').querySelector('dl')!.insertAdjacentHTML('beforeend',
        `<dt>text</dt><dd>${human(d.train_tokens)} train / ${human(d.val_tokens)} val tokens${d.held_out ? ' (last 10% held out)' : ''}</dd>`);
    }
    status('load-status', 'loaded');
    busy(false);
    if (state.data) await analyzeReference();
  } catch (e) {
    showError('load-status', e);
    busy(false);
  }
}

async function analyzeReference(): Promise<void> {
  const c = state.ref!.config;
  const seq = Math.min(64, c.maxSeqLen);
  const sequences = Math.min(16, Math.floor(Math.max(state.data!.val_tokens, state.data!.train_tokens) / seq));
  if (sequences < 1) return;
  $('lazy-chart').innerHTML = '<p class="hint">analyzing attention…</p>';
  try {
    const a = state.analysis = await worker!.analyze({ model: 'reference', sequences, seq }, (p) => {
      $('lazy-chart').innerHTML = `<p class="hint">analyzing attention: ${p.done} of ${p.total} windows…</p>`;
    });
    log(`lazy-layer analysis (${a.sequences} x ${a.seq} tokens, tau ${a.tau}): max rank ${a.blocks.map((b) => b.max_rank.toFixed(2)).join(', ')}`);
    renderLazy();
  } catch (e) {
    $('lazy-chart').innerHTML = `<p class="error">${esc((e as Error).message)}</p>`;
  }
}

// ---- 2) inherit ----

async function doInherit(): Promise<InheritResult> {
  const k = num('k');
  const preset = $<HTMLSelectElement>('preset').value as 'paper' | 'official';
  status('inherit-status', 'inheriting…');
  const r = state.inherited = await worker!.inherit({ model: 'inherited', layers: k, preset });
  state.runs = [];
  state.current = null;
  state.phase = 'idle';
  const from = r.record ? Object.values(r.record.tensors).filter((t) => t.source === 'reference').length : 0;
  const fresh = r.record ? Object.values(r.record.tensors).length - from : 0;
  $('inherit-info').innerHTML = `<dl>
    <dt>blocks</dt><dd>[${r.blocks?.join(', ')}] of ${state.ref!.config.nLayers}</dd>
    <dt>parameters</dt><dd>${human(r.parameters)} (${((100 * r.parameters) / state.ref!.parameters).toFixed(0)}% of the reference)</dd>
    <dt>tensors</dt><dd>${from} inherited, ${fresh} fresh (${preset} preset)</dd>
    ${r.record ? `<dt>parts</dt><dd>${parts(r.record.parts)}</dd>` : ''}</dl>` +
    (r.record?.notes.length ? `<p class="hint">${r.record.notes.map(esc).join('<br>')}</p>` : '');
  status('inherit-status', `${r.n_layers} blocks ready`);
  log(`inherited blocks [${r.blocks}] (${r.parameters} parameters, ${preset})`);
  renderLoss();
  return r;
}

/** the non-block parts of an inherited model: from the reference or fresh */
function parts(p: { embeddings: boolean; final_norm: boolean; head: boolean; positions: boolean | null; tied: boolean }): string {
  const pill = (name: string, inherited: boolean) => `<span class="pill ${inherited ? 'blue' : 'orange'}">${name}: ${inherited ? 'inherited' : 'fresh'}</span>`;
  return [pill('embeddings', p.embeddings), p.positions === null ? '' : pill('positions', p.positions), pill('final norm', p.final_norm),
    pill(p.tied ? 'head (tied)' : 'head', p.head)].filter(Boolean).join(' ');
}

// ---- 3) train: inherited, then the baseline; cancel and resume ----

function readOptions() {
  return {
    steps: num('steps'), batch: num('batch'), seq: num('seq'), lr: num('lr'),
    evalEvery: num('eval-every'), valWindows: num('val-windows'),
    minLr: num('lr') / 10, sampling: 'random' as const, seed: 0,
  };
}

async function trainAll(): Promise<void> {
  const w = worker!;
  if (!state.data) { showError('train-status', new Error('load a training text first (step 1)')); return; }
  state.opts = readOptions();
  state.withBaseline = input('baseline').checked;
  state.distill = input('distill').checked;
  busy(true);
  try {
    const k = num('k');
    if (!state.inherited || state.inherited.n_layers !== k || state.runs.length) await doInherit();
    const { seq, valWindows: windows, batch } = state.opts;
    status('train-status', 'evaluating the reference…');
    state.refVal = (await w.evaluate({ model: 'reference', seq, windows, batch })).loss;
    log(`reference validation loss ${state.refVal.toFixed(4)} (${windows} windows of ${seq})`);
    state.runs = [newRun('inherited', `k=${k} inherited${state.distill ? ' + KD' : ''}`, state.inherited!)];
    await runPhase(state.runs[0], false);
    await afterPhase();
  } catch (e) {
    showError('train-status', e);
    state.phase = 'idle';
  }
  busy(false);
}

function newRun(model: Run['model'], label: string, r: InheritResult): Run {
  return { model, label, n_layers: r.n_layers, parameters: r.parameters, initVal: null, steps: [], done: false, cancelled: false };
}

async function runPhase(run: Run, resume: boolean): Promise<void> {
  const w = worker!, o = state.opts!;
  state.current = run;
  if (!resume) {
    status('train-status', `${run.label}: evaluating before training…`);
    run.initVal = (await w.evaluate({ model: run.model, seq: o.seq, windows: o.valWindows, batch: o.batch })).loss;
    renderLoss();
  }
  state.phase = 'training';
  buttons();
  const onStep = (p: TrainProgress) => {
    run.steps.push(p);
    status('train-status', `${run.label}: step ${p.step + 1} of ${p.steps} · loss ${p.loss.toFixed(4)}` +
      `${p.kd !== undefined ? ` (ce ${p.ce!.toFixed(4)}, kd ${p.kd.toFixed(4)})` : ''}` +
      `${p.val_loss !== undefined ? ` · val ${p.val_loss.toFixed(4)}` : ''} · ${p.tokens_per_s.toFixed(0)} tokens/s`);
    $('train-bar').style.width = `${(100 * (p.step + 1)) / p.steps}%`;
    scheduleRender();
    // test hook: press Cancel after this many steps of a run (fast adapters finish before a poll would)
    if ((window as any).__demo.cancelAfter === run.steps.length && state.phase === 'training') cancel();
  };
  const r = resume ? await w.resume(run.model, onStep) : await w.train({ model: run.model, options: o, distill: state.distill }, onStep);
  run.done = r.done;
  run.cancelled = r.cancelled;
  log(`${run.label}: ${r.cancelled ? 'cancelled' : 'finished'} at step ${r.step} of ${r.steps}` +
    `${r.val_loss !== undefined ? `, val loss ${r.val_loss.toFixed(4)}` : ''} (${r.seconds.toFixed(1)} s)`);
  renderLoss();
}

/** after a phase: stop when cancelled, else go on to the baseline, else done */
async function afterPhase(): Promise<void> {
  const run = state.current!;
  if (run.cancelled) {
    state.phase = 'cancelled';
    status('train-status', `${run.label}: cancelled after step ${run.steps.length ? run.steps.at(-1)!.step + 1 : 0}; Resume continues`);
    return;
  }
  if (run.model === 'inherited' && state.withBaseline) {
    status('train-status', 'baseline: random init of the same size…');
    const r = await worker!.inherit({ model: 'baseline', random: true, layers: run.n_layers, seed: 0 });
    const base = newRun('baseline', `random init${state.distill ? ' + KD' : ''}`, r);
    state.runs.push(base);
    await runPhase(base, false);
    return afterPhase();
  }
  state.phase = 'done';
  status('train-status', 'done');
  renderLoss();
}

async function cancel(): Promise<void> {
  state.phase = 'cancelling';
  buttons();
  status('train-status', 'cancelling after the current step…');
  await worker!.cancel();
}

async function resume(): Promise<void> {
  busy(true);
  try {
    await runPhase(state.current!, true);
    await afterPhase();
  } catch (e) {
    showError('train-status', e);
  }
  busy(false);
}

// ---- 4) download / save ----

async function prepareDownload(): Promise<void> {
  const model = $<HTMLSelectElement>('save-model').value;
  busy(true);
  try {
    const r = await worker!.save({ model, to: 'bytes' });
    const links = $('downloads');
    for (const a of Array.from(links.querySelectorAll('a'))) URL.revokeObjectURL(a.href);
    links.innerHTML = '';
    for (const [name, b] of Object.entries(r.files!)) {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([b as Uint8Array<ArrayBuffer>]));
      a.download = name;
      a.textContent = `${name} (${bytes(b.byteLength)})`;
      links.append(a);
    }
    status('save-status', `${model}: ${Object.keys(r.files!).length} files ready to download`);
  } catch (e) {
    showError('save-status', e);
  }
  busy(false);
}

async function saveOpfs(): Promise<void> {
  const model = $<HTMLSelectElement>('save-model').value;
  busy(true);
  try {
    const r = await worker!.save({ model, to: 'opfs', name: input('save-name').value.trim() });
    status('save-status', `saved in this browser as ${r.opfs} (${bytes(Object.values(r.sizes).reduce((a, b) => a + b, 0))})`);
    await refreshOpfsList();
  } catch (e) {
    showError('save-status', e);
  }
  busy(false);
}

async function refreshOpfsList(): Promise<void> {
  const sel = $<HTMLSelectElement>('opfs-name');
  const names: string[] = [];
  try {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('inheritune');
    for await (const [name, h] of (dir as any).entries() as AsyncIterable<[string, FileSystemHandle]>) if (h.kind === 'directory') names.push(name);
  } catch { /* nothing saved yet, or no OPFS */ }
  sel.innerHTML = names.length ? names.sort().map((n) => `<option>${esc(n)}</option>`).join('') : '<option value="">(nothing saved yet)</option>';
}

// ---- drawing ----

const COLORS = { reference: '#344054', inherited: '#d62728', baseline: '#1f77b4' };

let renderQueued = false;
function scheduleRender(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; renderLoss(); });
}

function renderLoss(): void {
  const series: Series[] = [];
  const steps = state.opts?.steps ?? 1;
  if (state.refVal !== null) {
    series.push({ name: `reference val (${state.ref!.config.nLayers} blocks)`, points: [[0, state.refVal], [steps, state.refVal]], dashed: true, color: COLORS.reference });
  }
  // one color per model: training loss solid (at each step, before its update), validation loss dashed (after it)
  for (const r of state.runs) {
    const short = r.model === 'inherited' ? `k=${r.n_layers}` : 'random init';
    series.push({ name: `${short} train`, points: r.steps.map((s) => [s.step, s.loss]), color: COLORS[r.model] });
    const val: [number, number][] = r.initVal === null ? [] : [[0, r.initVal]];
    for (const s of r.steps) if (s.val_loss !== undefined) val.push([s.step + 1, s.val_loss]);
    series.push({ name: `${short} val`, points: val, dashed: true, color: COLORS[r.model] });
  }
  $('chart').innerHTML = series.length ? lineChart(series, { title: 'Training and validation loss', xLabel: 'step', yLabel: 'loss (nats/token)', width: 820, height: 400 })
    : '<p class="hint">Start with the built-in model (or load a model and a text), pick k, and train: the curves appear here live.</p>';
  const rows = state.runs.map((r) => {
    const last = r.steps.at(-1);
    const val = [...r.steps].reverse().find((s) => s.val_loss !== undefined)?.val_loss ?? r.initVal;
    return `<tr><td>${esc(r.label)}</td><td>${r.n_layers}</td><td>${human(r.parameters)}</td><td>${r.steps.length ? last!.step + 1 : 0} / ${state.opts?.steps ?? '–'}</td>` +
      `<td>${fmt(r.initVal)}</td><td>${fmt(last?.loss)}</td><td>${fmt(val)}</td><td>${last ? last.tokens_per_s.toFixed(0) : '–'}</td>` +
      `<td>${r.done ? 'done' : r.cancelled ? 'cancelled' : state.current === r ? 'training' : ''}</td></tr>`;
  });
  if (state.refVal !== null) {
    rows.unshift(`<tr><td>reference</td><td>${state.ref!.config.nLayers}</td><td>${human(state.ref!.parameters)}</td><td>–</td><td>${fmt(state.refVal)}</td><td>–</td><td>${fmt(state.refVal)}</td><td>–</td><td></td></tr>`);
  }
  $('runs').innerHTML = rows.length ? '<tr><th>model</th><th>blocks</th><th>params</th><th>step</th><th>val at start</th><th>train loss</th><th>val loss</th><th>tokens/s</th><th></th></tr>' + rows.join('') : '';
}

function renderLazy(): void {
  const a = state.analysis;
  if (!a) return;
  const L = a.blocks.length;
  const series: Series[] = [
    { name: 'max rank', points: a.blocks.map((b) => [b.block, b.max_rank]), color: COLORS.reference },
    { name: `lazy below ${a.lazy_below}`, points: [[0, a.lazy_below], [Math.max(1, L - 1), a.lazy_below]], dashed: true, color: '#b54708' },
  ];
  $('lazy-chart').innerHTML = lineChart(series, { title: 'Attention max rank per block', xLabel: 'block', yLabel: `rank (tau ${a.tau})`, width: 460, height: 290 });
  $('lazy-table').innerHTML = '<tr><th>block</th><th>max rank</th><th>mean rank</th><th></th></tr>' + a.blocks.map((b) =>
    `<tr><td>${b.block}</td><td>${b.max_rank.toFixed(2)}</td><td>${(b.rank.reduce((s, r) => s + r, 0) / b.rank.length).toFixed(2)}</td>` +
    `<td><span class="pill ${b.lazy ? 'orange' : 'blue'}">${b.lazy ? 'lazy' : 'active'}</span></td></tr>`).join('');
}

// ---- controls ----

let isBusy = false;
function busy(b: boolean): void {
  isBusy = b;
  buttons();
}

function buttons(): void {
  const ready = state.ready && !isBusy;
  const training = state.phase === 'training' || state.phase === 'cancelling';
  ($('load') as HTMLButtonElement).disabled = !ready || training;
  ($('builtin') as HTMLButtonElement).disabled = !ready || training;
  ($('inherit') as HTMLButtonElement).disabled = !ready || !state.ref || training;
  ($('train') as HTMLButtonElement).disabled = !ready || !state.ref || !state.data || training;
  ($('cancel') as HTMLButtonElement).disabled = state.phase !== 'training';
  ($('resume') as HTMLButtonElement).disabled = !ready || state.phase !== 'cancelled';
  ($('download') as HTMLButtonElement).disabled = !ready || !state.inherited || training;
  ($('save-opfs') as HTMLButtonElement).disabled = !ready || !state.inherited || training;
  ($('sample') as HTMLButtonElement).disabled = !ready || !state.ref || training || state.sample.running;
}

function wire(): void {
  for (const r of Array.from(document.querySelectorAll<HTMLInputElement>('input[name=source]'))) {
    r.addEventListener('change', () => {
      for (const d of Array.from(document.querySelectorAll<HTMLElement>('[data-src]'))) d.classList.toggle('on', d.dataset.src === sourceKind());
      if (sourceKind() === 'opfs') refreshOpfsList();
    });
  }
  input('k').addEventListener('input', () => { $('k-out').textContent = input('k').value; });
  $('load').addEventListener('click', () => loadAll());
  $('builtin').addEventListener('click', () => loadBuiltin());
  $('inherit').addEventListener('click', async () => {
    busy(true);
    try { await doInherit(); } catch (e) { showError('inherit-status', e); }
    busy(false);
  });
  $('train').addEventListener('click', () => trainAll());
  $('cancel').addEventListener('click', () => cancel());
  $('resume').addEventListener('click', () => resume());
  $('download').addEventListener('click', () => prepareDownload());
  $('save-opfs').addEventListener('click', () => saveOpfs());
  wireSample(() => (state.ready && state.ref ? worker : null), state.sample, showError);
  buttons();
  renderLoss();
}

(window as any).__demo = { state, worker: null };
wire();
start().then(buttons);
