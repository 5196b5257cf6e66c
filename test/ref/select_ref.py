#!/usr/bin/python3
"""Reference for src/method/select.ts (block selection by similarity of the residual stream), run by hand:

    /usr/bin/python3 test/ref/select_ref.py        # Debian python3 + python3-torch; about 1 minute

stories260K (float64 forward of analyze_ref.py) on the first N = 16 non-overlapping windows of T = 64 tokens
of tinystories_val.txt (BOS + run.c's encoding of the whole file). With x[l] the input of block l (x[L]: the
last block's output, before the final norm):
  block influence (ShortGPT, Men et al. 2024, arXiv 2403.03853): BI[l] = 1 - mean over all tokens of
      cos(x[l], x[l+1]); keeping K blocks = dropping the L-K of lowest BI.
  angular distance (Gromov et al. 2024, arXiv 2403.17887): d[l][n] = mean over the windows of
      arccos(cos(x[l], x[l+n])) / pi at the window's last token; keeping K blocks = dropping the n = L-K
      consecutive blocks l*..l*+n-1 with l* = argmin_l d[l][n].
Writes test/ref/select_ref.json: the ids, BI, d, and the blocks each rule keeps for K = 1..L-1.
"""
import json, os, sys
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_inherit import read_llama2c  # noqa: E402
import llama2c_tok_ref as TOK           # noqa: E402
import analyze_ref as A                 # noqa: E402

N, T = 16, 64


def cos(a, b):
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def main():
    cfg, W = read_llama2c(A.MODEL)
    with open(os.path.join(A.SHARED, A.TEXT), encoding='utf-8', newline='') as f:
        text = f.read()
    ids = TOK.encode_numpy(text)[:N * T]
    x = torch.tensor(ids, dtype=torch.long).view(N, T)
    _, xs = A.forward(cfg, W, x)
    L = len(xs) - 1
    bi = [float(1 - cos(xs[l], xs[l + 1]).mean()) for l in range(L)]
    d = [[float((torch.arccos(cos(xs[l][:, -1], xs[l + n][:, -1]).clamp(-1, 1)) / np.pi).mean()) for n in range(1, L - l + 1)] for l in range(L)]
    keep_bi, keep_ang = {}, {}
    for k in range(1, L):
        order = sorted(range(L), key=lambda l: (-bi[l], l))       # highest influence first, lower index on ties
        keep_bi[k] = sorted(order[:k])
        n = L - k
        best = min(range(L - n + 1), key=lambda l: (d[l][n - 1], l))
        keep_ang[k] = [l for l in range(L) if not best <= l < best + n]
    print('block influence', np.round(bi, 5).tolist())
    for l in range(L):
        print(f'angular from block {l}:', np.round(d[l], 5).tolist())
    print('keep (block influence)', keep_bi, '\nkeep (angular)', keep_ang)
    out = {'about': __doc__.split('\n\n')[0], 'sequences': N, 'seq': T, 'ids': [int(i) for i in ids],
           'block_influence': bi, 'angular': d, 'keep_block_influence': keep_bi, 'keep_angular': keep_ang}
    with open(os.path.join(HERE, 'select_ref.json'), 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')


if __name__ == '__main__':
    main()
