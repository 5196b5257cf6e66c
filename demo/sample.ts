// demo/sample: the "Sample" card of the demo page: a prompt, a model (the reference, the inherited
// model or the baseline), max new tokens and temperature; the worker generates on the GPU with a KV
// cache (src/model/generate.ts) and streams each token's text into the card as it arrives.
import type { InherituneWorker } from '../src/worker/client.js';

export interface SampleState { text: string; ids: number[]; running: boolean }

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** wire the card's button; worker() is the page's worker once it exists; onError shows a failure */
export function wireSample(worker: () => InherituneWorker | null, state: SampleState, onError: (where: string, e: unknown) => void): void {
  $('sample').addEventListener('click', async () => {
    const w = worker();
    if (!w || state.running) return;
    state.running = true;
    ($('sample') as HTMLButtonElement).disabled = true;
    const out = $('sample-out'), prompt = $<HTMLTextAreaElement>('sample-prompt').value;
    out.textContent = prompt;
    try {
      const r = await w.generate({
        model: $<HTMLSelectElement>('sample-model').value, prompt,
        maxNewTokens: Number($<HTMLInputElement>('sample-tokens').value), temperature: Number($<HTMLInputElement>('sample-temp').value),
      }, (p) => { out.textContent = prompt + p.text; });
      state.text = r.text;
      state.ids = r.ids;
      out.textContent = prompt + r.text;
      $('sample-status').textContent = `${r.ids.length} tokens`;
    } catch (e) {
      onError('sample-status', e);
    }
    state.running = false;
    ($('sample') as HTMLButtonElement).disabled = false;
  });
}
