// torch_peer: the PyTorch CPU peer of `npm run bench` (bench/run.mjs). Probes BENCH_PYTHON (default
// /usr/bin/python3) for torch, the BLAS its sgemm binds to and a 1024^3 matmul's GFLOP/s, and runs
// bench/torch_gpt2_step.py's training step (eager f32, AdamW with the Trainer's defaults) on our configs at
// one thread and at all threads. A reference (netlib) BLAS makes torch 10-30x slower than its users see it,
// so under BENCH_TORCH_MIN_GFLOPS (default 20) at all threads the rows are skipped with a line saying why.
import { existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';

const PY = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), 'torch_gpt2_step.py');
const MIN_GFLOPS = Number(process.env.BENCH_TORCH_MIN_GFLOPS ?? 20);

// one run of the script at `threads`: torch.set_num_threads does not reach OpenBLAS's pthread pool, so the
// pools are sized through the environment too (the script checks and reports OpenBLAS's count)
function py(args, threads, timeoutS) {
  const n = String(threads);
  const env = { ...process.env, BENCH_THREADS: n, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n };
  const r = spawnSync(PY, [SCRIPT, ...args], { encoding: 'utf8', env, timeout: timeoutS * 1000 });
  const lines = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const err = r.error?.code === 'ETIMEDOUT' ? `no result within ${timeoutS} s` : (r.error?.message ?? (r.stderr ?? '').trim().split('\n').at(-1));
  return { lines, err };
}

/**
 * whether the PyTorch rows can run here: { ok, threads: [1, all], label (torch + BLAS, for the rows),
 * header (the bench header's line, when torch runs), why (when not ok: the line that says the rows were skipped) }
 */
export function probeTorch(timeoutS = 120) {
  if (!existsSync(PY)) return { ok: false, why: `no ${PY}: PyTorch rows skipped (apt-get install python3-torch libopenblas0-pthread)` };
  const all = availableParallelism(), threads = all > 1 ? [1, all] : [1];
  const runs = threads.map((n) => py(['blas'], n, timeoutS));
  const bad = runs.find((r) => !r.lines.length);
  if (bad) {
    const why = /No module named .?torch/.test(bad.err) ? `no torch in ${PY}: PyTorch rows skipped (apt-get install python3-torch libopenblas0-pthread)` : `the torch BLAS probe failed (${bad.err}): PyTorch rows skipped`;
    return { ok: false, why };
  }
  const b = runs.map((r) => r.lines[0]), top = b.at(-1), gf = top.sgemm_1024_gflops;
  // the load average goes in the header: the all-threads rows (OpenMP's spinning barriers) slow 10-20x when
  // other work holds the cores, so a figure taken on a busy host says so
  const header = `torch ${top.torch} (${PY}) on ${all} CPUs (load average ${loadavg()[0].toFixed(1)}), BLAS ${top.blas} (${top.blas_path ?? 'no sgemm_ symbol found'}); sgemm 1024^3: ` +
    b.map((x) => `${x.sgemm_1024_gflops} GFLOP/s at ${x.threads} thread${x.threads > 1 ? 's' : ''}${x.blas_threads !== null && x.blas_threads !== x.threads ? ` (BLAS ${x.blas_threads})` : ''}`).join(', ');
  let why = null;
  if (!(gf >= MIN_GFLOPS)) {
    why = /reference|netlib/.test(top.blas)
      ? `torch uses a reference BLAS (${gf} GFLOP/s at 1024^3, ${top.blas_path}): install libopenblas0-pthread; PyTorch rows skipped`
      : `torch's BLAS (${top.blas}) gives ${gf} GFLOP/s at 1024^3 with ${top.threads} threads, under BENCH_TORCH_MIN_GFLOPS=${MIN_GFLOPS}: a reference BLAS or a busy machine; PyTorch rows skipped`;
  }
  return { ok: !why, threads, label: `PyTorch ${top.torch} CPU eager f32, ${top.blas}`, header, why };
}

/** one PyTorch training-step row's figures (or { note } on failure) for a config at `threads` */
export function torchStep(cfg, B, T, steps, threads, opt, timeoutS) {
  const spec = { cfg, B, T, steps, warmup: 2, device: 'cpu', opt };
  const { lines, err } = py(['step', JSON.stringify(spec)], threads, timeoutS);
  return lines.length ? lines[0] : { note: `failed: ${err}` };
}
