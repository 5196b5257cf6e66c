#!/usr/bin/env bash
# device: everything the GPU machine measures, in one run, results under $OUT (or ./device-out):
#   bench.md / bench.json   `npm run bench` (dist/) on the machine's WebGPU adapter
#   torch.jsonl             PyTorch eager f32 GPT-2 124M step (B 4, T 256), TF32 off, then on
#   info.txt                the GPU and the WebGPU adapter
# On a machine without Node or a registry (the lent H200): after `npm run build` here,
#   bash ../shared/device/make-kit.sh
# then one device run with carry [".devkit"]:  bash .devkit/on-gpu.sh bash bench/device.sh
set -uo pipefail
out=${OUT:-device-out}; mkdir -p "$out"
{ nvidia-smi 2>/dev/null || echo "no nvidia-smi"; node dist/cli.mjs info 2>&1; } > "$out/info.txt"
BENCH_JSON="$out/bench.json" timeout 420 node bench/run.mjs > "$out/bench.md" 2> "$out/bench.err" || echo "bench exited $?" >> "$out/bench.err"
timeout 120 python3 bench/torch_gpt2_step.py 4 256 10 > "$out/torch.jsonl" 2> "$out/torch.err" || echo "torch exited $?" >> "$out/torch.err"
tail -n +1 "$out"/*.md "$out"/torch.jsonl 2>/dev/null | head -80
