# hf_logits: transformers' side of bench/device.sh's check: loads an HF directory this package wrote with
# transformers (AutoModelForCausalLM, float32, TF32 off), runs the ids bench/hf_logits.mjs ran, and prints
# one JSON line comparing its logits with ours (PREFIX.json, PREFIX.f32): the largest difference, the
# largest logit, and how many positions agree on the arg-max (reported: random weights make near-ties).
# ok: difference <= 1e-3 * (1 + largest logit).
#   python3 bench/hf_logits.py DIR PREFIX [cpu|cuda]
import json, sys
import numpy as np
import torch


def main(d, prefix, dev):
    ours = json.load(open(prefix + '.json'))
    T, V = ours['T'], ours['V']
    mine = np.fromfile(prefix + '.f32', dtype='<f4').reshape(T, V)
    out = {'check': 'transformers loads our HF directory', 'dir': d, 'T': T, 'V': V, 'adapter': ours['adapter']}
    try:
        import transformers
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        print(json.dumps({**out, 'ok': None, 'skipped': f'no transformers here ({e})'}), flush=True)
        return
    if dev == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    m = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32).to(dev).eval()
    with torch.no_grad():
        theirs = m(torch.tensor([ours['ids']], device=dev)).logits[0].float().cpu().numpy()
    diff = float(np.abs(theirs - mine).max())
    top = float(np.abs(theirs).max())
    agree = int((theirs.argmax(-1) == mine.argmax(-1)).sum())
    print(json.dumps({**out, 'transformers': transformers.__version__, 'torch': torch.__version__, 'device': dev,
                      'class': type(m).__name__, 'max_abs_diff': diff, 'max_abs_logit': top, 'argmax_agree': f'{agree}/{T}',
                      'ok': bool(diff <= 1e-3 * (1 + top))}), flush=True)


if __name__ == '__main__':
    if len(sys.argv) < 3: sys.exit('usage: hf_logits.py DIR PREFIX [cpu|cuda]')
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ('cuda' if torch.cuda.is_available() else 'cpu'))
