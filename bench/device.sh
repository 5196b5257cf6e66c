#!/usr/bin/env bash
# device: everything the GPU machine measures, results under $OUT (or ./device-out); STAGES picks
# (default all, in this order, ~9 minutes on an H200):
#   bench   bench.md / bench.json: `npm run bench` (dist/) on the machine's WebGPU adapter, less its
#           PyTorch CPU rows (the torch stage measures PyTorch on the GPU)
#   torch   torch.jsonl: PyTorch eager f32 GPT-2 124M step (B 4, T 256), TF32 off, then on
#   big13   big13.jsonl: issue 12's 13 of OpenLLaMA-3B's blocks at B 1, T 2048: PyTorch eager (f32, TF32,
#           bf16 autocast; bench/big13.py) and `inheritune-rt train --recompute --optim adamw8bit`
#           on the same shape (random bf16 weights written by bench/big13.py), its metrics in big13-train.jsonl
#   info.txt  the GPU and the WebGPU adapter
# On a machine without Node or a registry (the lent H200): after `npm run build` here,
#   bash ../shared/device/make-kit.sh
# then one device run with carry [".devkit"]:  bash .devkit/on-gpu.sh bash bench/device.sh
# (or two, with STAGES="bench torch" and STAGES=big13, to stay under one command's 10 minutes).
set -uo pipefail
out=${OUT:-device-out}; mkdir -p "$out"
stages=${STAGES:-bench torch big13}
{ nvidia-smi 2>/dev/null || echo "no nvidia-smi"; node dist/cli.mjs info 2>&1; } > "$out/info.txt"
has() { [[ " $stages " == *" $1 "* ]]; }
if has bench; then
  BENCH_ONLY=peak,matmul,attention,train,tfjs BENCH_JSON="$out/bench.json" timeout 240 node bench/run.mjs > "$out/bench.md" 2> "$out/bench.err" || echo "bench exited $?" >> "$out/bench.err"
fi
if has torch; then
  spec=$(node --input-type=module -e "import { GPT2 } from './bench/configs.mjs'; import { TRAIN_DEFAULTS } from './dist/node.mjs';
    console.log(JSON.stringify({ cfg: GPT2, B: 4, T: 256, steps: 10, warmup: 2, device: 'auto', opt: TRAIN_DEFAULTS }))")
  timeout 60 python3 bench/torch_gpt2_step.py step "$spec" > "$out/torch.jsonl" 2> "$out/torch.err" || echo "torch exited $?" >> "$out/torch.err"
fi
if has big13; then
  m=/tmp/big13; rm -rf "$m" /tmp/big13-run
  timeout 60 python3 bench/big13.py write "$m" > "$out/big13.jsonl" 2> "$out/big13.err" || echo "big13 write exited $?" >> "$out/big13.err"
  timeout 90 python3 bench/big13.py torch 1 2048 3 >> "$out/big13.jsonl" 2>> "$out/big13.err" || echo "big13 torch exited $?" >> "$out/big13.err"
  node dist/cli.mjs plan --model "$m" --batch 1 --seq 2048 --recompute --optim adamw8bit --memory 139GiB >> "$out/big13.err" 2>&1
  timeout 150 node dist/cli.mjs train --model "$m" --text "$m/tokens.bin" --val-text "$m/tokens.bin" --steps 4 --batch 1 --seq 2048 \
    --recompute --optim adamw8bit --val-windows 1 --memory 139GiB --out /tmp/big13-run --json >> "$out/big13.err" 2>&1 || echo "big13 train exited $?" >> "$out/big13.err"
  cp /tmp/big13-run/metrics.jsonl "$out/big13-train.jsonl" 2>/dev/null
fi
tail -n +1 "$out"/*.md "$out"/*.jsonl 2>/dev/null | head -100
