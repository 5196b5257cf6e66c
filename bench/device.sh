#!/usr/bin/env bash
# device: the one prepared GPU run (issue 29 item 5). Everything the GPU machine measures, as JSON and
# markdown under $OUT (or ./device-out): at most 8 files come back from a lent machine, so there are six:
#   info.txt      the GPU (nvidia-smi), the WebGPU adapter (inheritune-rt info) and its subgroup-matrix configs
#   bench.md, bench.json  `npm run bench`'s table (dist/): FMA peak; matmul rows at f32 and f16, every
#                 variant incl. the subgroup-matrix (tensor-core) one, at 1024^3, GPT-2's shapes and 4096^3;
#                 attention; training steps of the small config and GPT-2 124M (B 4, T 256) at f32 and f16
#   results.json, results.md  bench/device_summary.mjs over every stage's lines (below): PyTorch beside
#                 ours, tokens/s, the hours 1B and 0.39B tokens take, the transformers check
#   log.txt       every stage's stderr
# Stages (STAGES, default all, in this order):
#   bench   the bench above (BENCH_ONLY=peak,matmul,attention,train; BENCH_MATMUL_BIG=1 for 4096^3)
#   torch   PyTorch eager GPT-2 124M step (B 4, T 256; bench/torch_gpt2_step.py): f32, TF32, bf16 autocast
#   big13   13 of OpenLLaMA-3B's 26 blocks (1.82B parameters, random bf16 weights of that config;
#           bench/big13.py) at B 1, T 2048: PyTorch eager f32 / TF32 / bf16 autocast, and `inheritune-rt
#           train --recompute --optim adamw8bit` on the same directory at f32 and at --precision f16
#   hf      `inheritune-rt inherit` writes a 2-block HF directory from the big13 model; transformers loads
#           it (AutoModelForCausalLM, f32) and its logits are compared with ours (bench/hf_logits.*)
# Each stage's lines are kept in $WORK (default /tmp/inheritune-device), so a run split into two commands
# on one warm machine still summarises both (each command's $OUT has what was there by then).
# On the lent machine (no Node, no registry), after `npm run build` here:
#   bash ../shared/device/make-kit.sh
# then, carrying [".devkit"], two device runs (one command may take 10 minutes; the worst cases below):
#   bash .devkit/on-gpu.sh env STAGES="bench torch" bash bench/device.sh     (timeout_s 480)
#   bash .devkit/on-gpu.sh env STAGES="big13 hf" bash bench/device.sh        (timeout_s 600)
# Dry run on a CPU (lavapipe, PyTorch on the CPU, tiny shapes): DEVICE_DRY=1 bash bench/device.sh
set -uo pipefail
out=${OUT:-device-out}; work=${WORK:-/tmp/inheritune-device}; mkdir -p "$out" "$work"
stages=${STAGES:-bench torch big13 hf}
dry=${DEVICE_DRY:-0}
has() { [[ " $stages " == *" $1 "* ]]; }
log="$out/log.txt"; : >> "$log"
say() { echo "device: $*" | tee -a "$log" >&2; }
py=${PYTHON:-python3}
if [ "$dry" = 1 ]; then
  # tiny shapes on the CPU: the same commands, minutes not hours
  export BIG13_DIMS=${BIG13_DIMS:-64,172,2,4,512} BIG13_DEVICE=cpu BENCH_SKIP_GPT2=1
  seq=64; gpt2='SMALL'; pydev=cpu; mem=8GiB; [ -x /usr/bin/python3 ] && py=/usr/bin/python3
else
  seq=2048; gpt2='GPT2'; pydev=auto; mem=${DEVICE_MEMORY:-$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null | head -1 | awk '{print int($1/1024) "GiB"}')}
  mem=${mem:-78GiB}
fi

{ nvidia-smi 2>&1 || echo "no nvidia-smi"; node dist/cli.mjs info 2>&1
  node --input-type=module -e "import { nodeGpu } from './dist/node.mjs'; const a = await (await nodeGpu()).requestAdapter({ powerPreference: 'high-performance' });
    console.log('subgroups: ' + a.info.subgroupMinSize + '-' + a.info.subgroupMaxSize + ' lanes; subgroup-matrix configs: ' + JSON.stringify([...(a.info.subgroupMatrixConfigs ?? [])].map((c) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K }))));
    process.exit(0)" 2>&1; } > "$out/info.txt"

if has bench; then
  say "bench"
  rm -f "$work/bench.json"
  # dry run: the FMA peak and the small config's training rows (the matmul rows take minutes on a CPU)
  BENCH_ONLY=$([ "$dry" = 1 ] && echo peak,train || echo peak,matmul,attention,train) BENCH_MATMUL_BIG=$([ "$dry" = 1 ] && echo 0 || echo 1) BENCH_JSON="$work/bench.json" \
    timeout 300 node bench/run.mjs > "$out/bench.md" 2>> "$log" || say "bench exited $?"
  cp "$work/bench.json" "$out/bench.json" 2>/dev/null
fi
if has torch; then
  say "torch"
  spec=$(node --input-type=module -e "import { SMALL, GPT2 } from './bench/configs.mjs'; import { TRAIN_DEFAULTS } from './dist/node.mjs';
    console.log(JSON.stringify({ cfg: $gpt2, B: $([ "$dry" = 1 ] && echo '8, T: 64' || echo '4, T: 256'), steps: 10, warmup: 2, device: '$pydev', opt: TRAIN_DEFAULTS }))")
  timeout 120 "$py" bench/torch_gpt2_step.py step "$spec" > "$work/torch.jsonl" 2>> "$log" || say "torch exited $?"
fi
if has big13; then
  say "big13"
  m=$work/big13; rm -rf "$m" "$m-tokens.bin" "$work"/big13-run-* "$work"/big13*.jsonl
  timeout 90 "$py" bench/big13.py write "$m" > "$work/big13.jsonl" 2>> "$log" || say "big13 write exited $?"
  timeout 150 "$py" bench/big13.py torch 1 "$seq" 3 >> "$work/big13.jsonl" 2>> "$log" || say "big13 torch exited $?"
  node dist/cli.mjs plan --model "$m" --batch 1 --seq "$seq" --recompute --optim adamw8bit --memory "$mem" >> "$log" 2>&1
  for p in f32 f16; do
    timeout 170 node dist/cli.mjs train --model "$m" --text "$m-tokens.bin" --val-text "$m-tokens.bin" --steps 4 --batch 1 --seq "$seq" \
      --recompute --optim adamw8bit --precision "$p" --val-windows 1 --memory "$mem" --out "$work/big13-run-$p" --json >> "$log" 2>&1 || say "big13 train $p exited $?"
    cp "$work/big13-run-$p/metrics.jsonl" "$work/big13-train-$p.jsonl" 2>/dev/null
  done
fi
if has hf; then
  say "hf"
  m=$work/big13; k=$work/big13-k2; rm -rf "$k"
  [ -f "$m/config.json" ] || { BIG13_DIMS=${BIG13_DIMS:-3200,8640,4,32,32000} timeout 90 "$py" bench/big13.py write "$m" >> "$log" 2>&1; }
  timeout 120 node dist/cli.mjs inherit --model "$m" --layers 2 --out "$k" >> "$log" 2>&1 || say "inherit exited $?"
  timeout 90 node bench/hf_logits.mjs "$k" "$work/hf-ours" 64 >> "$log" 2>&1 || say "hf_logits.mjs exited $?"
  timeout 150 "$py" bench/hf_logits.py "$k" "$work/hf-ours" $([ "$dry" = 1 ] && echo cpu) > "$work/hf.jsonl" 2>> "$log" || say "hf_logits.py exited $?"
fi
node bench/device_summary.mjs "$work" "$out" 2>> "$log" || say "summary exited $?"
cat "$out/results.md" 2>/dev/null
