#!/usr/bin/python3
"""Gradient goldens for the tiny HF models (test/ref/hf/*): mean next-token cross-entropy of one
sequence, d loss / d every parameter, computed with autograd through hf_torch.py's independent
forward in float64 (from the stored float32/bf16/f16 weights); the F32 family checkpoints of
make_families_ref.py (Llama 3, Qwen2, Mistral, Qwen3, GPT-NeoX both residual forms) through families_torch.py.

Writes test/ref/hf_grads.json ({model: {ids, loss, keys: [[hf key, shape], ...]}}) and
test/ref/hf_grads_<model>.f32 (the gradients, concatenated in `keys` order, HF layouts: GPT-2 Conv1D
weights (in, out)). Run by hand: /usr/bin/python3 test/ref/hf_grads.py
"""
import json, os, sys
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_torch as H  # noqa: E402
import families_torch as F  # noqa: E402

IDS = [1, 5, 17, 33, 60, 2, 90, 44, 7, 71, 12]   # mod vocab_size; inputs ids[:-1], targets ids[1:] (T = 10)


def main():
    out = {}
    fams = [f'fam-{f}-f32' for f in ('llama3', 'qwen2', 'mistral', 'qwen3', 'neox', 'neoxseq')]
    for name in ['gpt2-tiny', 'llama-tiny', 'llama-bias-tiny'] + fams:
        config, tensors = H.load_hf_dir(os.path.join(HERE, 'hf', name))
        ids = [i % config['vocab_size'] for i in IDS]
        params = {k: v.clone().requires_grad_(True) for k, v in tensors.items()
                  if not (k.endswith('.attn.bias') or k.endswith('.attn.masked_bias'))}
        logits, _ = F.forward(config, params, ids[:-1], dtype=torch.float64)
        loss = torch.nn.functional.cross_entropy(logits.double(), torch.tensor(ids[1:]))
        loss.backward()
        keys = [k for k in params if params[k].grad is not None]
        flat = np.concatenate([params[k].grad.numpy().astype(np.float32).ravel() for k in keys])
        flat.astype('<f4').tofile(os.path.join(HERE, f'hf_grads_{name}.f32'))
        out[name] = dict(ids=ids, loss=loss.item(), keys=[[k, list(params[k].shape)] for k in keys])
        print(f'{name}: loss {loss.item():.6f}, {len(keys)} tensors, {flat.size} values')
    with open(os.path.join(HERE, 'hf_grads.json'), 'w') as f:
        json.dump(out, f, indent=1)


if __name__ == '__main__':
    main()
