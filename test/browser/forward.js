// Main thread: only starts the module worker, posts it where the data is, and publishes the
// worker's answer as window.__result (read by the Playwright driver) and on the page.
const status = document.getElementById('status');
const out = document.getElementById('out');

function finish(result) {
  window.__result = result;
  status.textContent = result.ok ? 'PASS' : 'FAIL';
  status.style.color = result.ok ? 'green' : 'red';
  const lines = [`runtime: ${result.runtime}  adapter: ${JSON.stringify(result.adapter)}  ${result.ms} ms`];
  for (const c of result.cases ?? []) {
    lines.push(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(4)} max|diff| ${c.maxAbsDiff?.toExponential?.(2) ?? c.maxAbsDiff}  argmax ${c.argmax.join(',')}`);
  }
  if (result.error) lines.push(result.error);
  out.textContent = lines.join('\n');
}

const params = new URLSearchParams(location.search);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
worker.onmessage = (e) => { finish(e.data); worker.terminate(); };
worker.onerror = (e) => { finish({ ok: false, error: `worker error: ${e.message ?? e}` }); worker.terminate(); };
worker.postMessage({ data: params.get('data') ?? '/data/stories260k/' });
