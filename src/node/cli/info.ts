// cli/info: `inheritune-rt info`, the WebGPU adapter, its features and limits, and the runtime.
import type { Gpu } from '../../gpu/gpu.js';
import type { Flags } from './args.js';

export async function info(flags: Flags, gpu: Gpu): Promise<void> {
  const r = { ...gpu.report(), backend: 'webgpu' };
  if (flags.json) { console.log(JSON.stringify(r)); return; }
  console.log(`runtime   ${r.runtime} (WebGPU)`);
  console.log(`adapter   ${Object.values(r.adapter).join(' / ') || '(no adapter info)'}`);
  console.log(`features  ${r.features.join(' ')}`);
  for (const [k, v] of Object.entries(r.limits).sort()) console.log(`  ${k.padEnd(44)} ${v}`);
}
