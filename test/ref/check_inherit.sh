#!/bin/bash
# Writes test/ref/inherit_check.txt (run by hand after npm run build: bash test/ref/check_inherit.sh > test/ref/inherit_check.txt).
# Every command is echoed with "$ " first; stdout+stderr captured.
cd "$(dirname "$0")/../.."
SHARED=${SHARED:-$(cd .. && pwd)/shared}
S=$SHARED/data/stories260k/stories260K.bin
G=$SHARED/data/stories260k/golden
mkdir -p /tmp/ck
run() { echo "\$ $*"; "$@" 2>&1 | grep -v 'artificially reduced'; echo "(exit ${PIPESTATUS[0]})"; }
runj() { local out=$1; shift; echo "\$ $* > $out"; "$@" > "$out" 2> >(grep -v 'artificially reduced' >&2); echo "(exit $?)"; }
echo "# check_inherit report: HF directories written by \`inheritune-rt inherit\` vs reference logits"
echo "# generated $(date -u +%Y-%m-%dT%H:%M:%SZ) at commit $(git rev-parse --short HEAD) (working tree: $(git status --porcelain src | wc -l) modified/new files under src/), node $(node --version), /usr/bin/python3 torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
echo "# dist built with: npm run build"
echo
rm -rf /tmp/ck/*
echo "## 1. stories260K, --layers 3"
run node dist/cli.mjs inherit --from $S --layers 3 --out /tmp/ck/s260k-k3
runj /tmp/ck/s260k-k3.json node dist/cli.mjs logits --model $S --layers 3 --ids 1,403,407,261,378 --json
run /usr/bin/python3 test/ref/check_inherit.py /tmp/ck/s260k-k3 /tmp/ck/s260k-k3.json --golden-f32 $G/prompt_logits_k3.f32
echo
echo "## 2. stories260K, --select 0,1,4 (no CLI logits equivalent: reference = check_inherit.py's own llama2.c forward with blocks 0,1,4)"
run node dist/cli.mjs inherit --from $S --select 0,1,4 --out /tmp/ck/s260k-sel
run /usr/bin/python3 test/ref/check_inherit.py /tmp/ck/s260k-sel --llama2c $S --blocks 0,1,4 --ids 1,403,407,261,378
echo "# sanity: the same reference forward with blocks 0,1,2 vs the shared golden k=3 logits and the k3 directory"
run /usr/bin/python3 test/ref/check_inherit.py /tmp/ck/s260k-k3 --llama2c $S --blocks 0,1,2 --ids 1,403,407,261,378 --golden-f32 $G/prompt_logits_k3.f32
echo
echo "## 3. gpt2-tiny, --layers 1"
run node dist/cli.mjs inherit --from test/ref/hf/gpt2-tiny --layers 1 --out /tmp/ck/gpt2-k1
runj /tmp/ck/gpt2-k1.json node dist/cli.mjs logits --model test/ref/hf/gpt2-tiny --layers 1 --ids 1,5,17,33 --json
run /usr/bin/python3 test/ref/check_inherit.py /tmp/ck/gpt2-k1 /tmp/ck/gpt2-k1.json
echo
echo "## 4. llama-tiny, --layers 1"
run node dist/cli.mjs inherit --from test/ref/hf/llama-tiny --layers 1 --out /tmp/ck/llama-k1
runj /tmp/ck/llama-k1.json node dist/cli.mjs logits --model test/ref/hf/llama-tiny --layers 1 --ids 1,5,17,33 --json
run /usr/bin/python3 test/ref/check_inherit.py /tmp/ck/llama-k1 /tmp/ck/llama-k1.json
echo
echo "## 5. extra: CLI logits of the full tiny models vs test/ref/hf_goldens.json (float64 goldens, 7 significant digits)"
for m in gpt2-tiny llama-tiny llama-bias-tiny; do
  runj /tmp/ck/full-$m.json node dist/cli.mjs logits --model test/ref/hf/$m --ids 1,5,17,33,60,2,90,44 --json
done
echo "\$ /usr/bin/python3 -c '...compare /tmp/ck/full-*.json with test/ref/hf_goldens.json...'"
/usr/bin/python3 -c '
import json, numpy as np
g = json.load(open("test/ref/hf_goldens.json"))
for m in ("gpt2-tiny", "llama-tiny", "llama-bias-tiny"):
    c = json.load(open(f"/tmp/ck/full-{m}.json"))
    assert c["ids"] == g[m]["ids"]
    a, b = np.array(c["logits"]), np.array(g[m]["logits"])
    d = np.abs(a - b).max()
    verdict = "PASS" if d <= 1e-4 else "FAIL"
    print(f"  {m}: CLI vs golden max |diff| {d:.3e} (max |logit| {np.abs(b).max():.3f})  {verdict} at 1e-4")
'
echo
echo "## 6. every family (test/ref/make_families_ref.py), BF16 sources, --layers 2: the written directory in torch vs torch's first 2 blocks of the source"
for f in llama3 qwen2 mistral qwen3 neox neoxseq; do
  run node dist/cli.mjs inherit --from test/ref/hf/fam-$f-bf16 --layers 2 --out /tmp/ck/fam-$f-k2
  run /usr/bin/python3 test/ref/check_inherit.py /tmp/ck/fam-$f-k2 --family-golden test/ref/families_goldens.json fam-$f-bf16
done
