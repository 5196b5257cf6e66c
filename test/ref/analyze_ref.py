#!/usr/bin/python3
"""Reference for src/method/analyze.ts (lazy-layer analysis, arXiv 2404.08634 later version), run by hand:

    /usr/bin/python3 test/ref/analyze_ref.py        # Debian python3 + python3-torch; about 2 minutes

stories260K (llama2.c reader from check_inherit.py, float64 forward written here) on the first N = 100
non-overlapping windows of T = 100 tokens of tinystories_val.txt, tokenized as `eval` does: BOS, then
run.c's encoding of the whole file (encode_numpy from llama2c_tok_ref.py; ~1 minute in that naive loop).
For every block, head and window: A = softmax attention (T, T), sigma = torch.linalg.svdvals(A),
  rank = smallest k with cumsum(sigma^2)[k-1] >= tau * sum(sigma^2)
  mass = fewest columns, by squared norm descending, holding MASS of sum(A^2)
averaged over the windows; max_rank = max over heads; lazy = max_rank < 1.5 (rounds to 1).
A cumulative sum within SLACK (relative) of the threshold counts as reaching it, as in analyze.ts.
Also records the margins: how far the deciding cumulative sums are from the threshold (relative to the
total). A GPU float32 attention differs from this float64 one by ~1e-7, so a margin below ~1e-5 is a
case where the two may legitimately disagree by one; those are listed in "borderline".
Writes test/ref/analyze_ref.json (compared by test/analyze.test.ts).
"""
import json, os, sys, time
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_inherit import read_llama2c  # noqa: E402
import llama2c_tok_ref as TOK           # noqa: E402

SHARED = TOK.SHARED
MODEL = os.path.join(SHARED, 'stories260k/stories260K.bin')
TEXT = 'tinystories-sample/tinystories_val.txt'
N, T, TAU, MASS = 100, 100, 0.9, 0.9
LAZY_MAX_RANK = 1.5
SLACK = 1e-12
BORDER = 1e-5


def attention_probs(cfg, W, ids, eps=1e-5):
    """run.c's forward (RMSNorm, interleaved-pair RoPE theta 1e4, GQA, SwiGLU) in float64 over ids (N, T);
    returns, per block, the post-softmax attention (N, NH, T, T)."""
    return forward(cfg, W, ids, eps)[0]


def forward(cfg, W, ids, eps=1e-5):
    """as attention_probs, and also the residual stream: xs[l] = the input of block l (N, T, C), xs[L] = the
    last block's output (before the final norm)"""
    W = {k: v.double() for k, v in W.items()}
    C, NH, KVH, L = cfg['dim'], cfg['NH'], cfg['KVH'], cfg['L']
    hs = C // NH
    B, T = ids.shape
    rms = lambda x, w: x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w
    freq = 1.0 / (10000.0 ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * freq[None, :]        # (T, hs/2)
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]

    def rope(x):                                                               # (B, T, nh, hs), pairs (2i, 2i+1)
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)

    mask = torch.ones(T, T, dtype=torch.bool).tril()
    x = W['token_embedding'][ids]                                              # (B, T, C)
    atts, xs = [], [x]
    for l in range(L):
        h = rms(x, W['rms_att'][l])
        q = rope((h @ W['wq'][l].T).view(B, T, NH, hs)).transpose(1, 2)        # (B, NH, T, hs)
        k = rope((h @ W['wk'][l].T).view(B, T, KVH, hs)).transpose(1, 2)       # (B, KVH, T, hs)
        v = (h @ W['wv'][l].T).view(B, T, KVH, hs).transpose(1, 2)
        k, v = k.repeat_interleave(NH // KVH, 1), v.repeat_interleave(NH // KVH, 1)
        s = (q @ k.transpose(-1, -2)) / np.sqrt(hs)
        att = torch.softmax(s.masked_fill(~mask, float('-inf')), -1)           # (B, NH, T, T)
        atts.append(att)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ W['wo'][l].T
        h = rms(x, W['rms_ffn'][l])
        x = x + (torch.nn.functional.silu(h @ W['w1'][l].T) * (h @ W['w3'][l].T)) @ W['w2'][l].T
        xs.append(x)
    return atts, xs


def count_to_fraction(v, frac):
    """v (..., n) sorted descending: (count, margin); margin = distance of the deciding cumulative sums
    (the one that reaches the threshold and the one before it) from the threshold, relative to the total."""
    cum = np.cumsum(v, -1)
    total = cum[..., -1:]
    reached = cum >= frac * total * (1 - SLACK)
    k = reached.argmax(-1)                                                     # first index reaching it
    at = np.take_along_axis(cum, k[..., None], -1)[..., 0] / total[..., 0]
    before = np.where(k > 0, np.take_along_axis(cum, np.maximum(k - 1, 0)[..., None], -1)[..., 0] / total[..., 0], 0.0)
    margin = np.minimum(at - frac, frac - before)
    return k + 1, margin


def main():
    t0 = time.time()
    cfg, W = read_llama2c(MODEL)
    with open(os.path.join(SHARED, TEXT), encoding='utf-8', newline='') as f:
        text = f.read()
    ids = TOK.encode_numpy(text)
    print(f'{TEXT}: {len(text)} code points -> {len(ids)} ids ({time.time() - t0:.0f} s)')
    x = torch.tensor(ids[:N * T], dtype=torch.long).view(N, T)
    atts = attention_probs(cfg, W, x)
    blocks, borderline, min_margin = [], [], {'rank': 1.0, 'mass': 1.0}
    for l, att in enumerate(atts):
        assert torch.allclose(att.sum(-1), torch.ones((), dtype=torch.float64))
        s2 = (torch.linalg.svdvals(att) ** 2).numpy()                          # (N, NH, T), descending
        rank, rmargin = count_to_fraction(s2, TAU)
        col = -np.sort(-(att.numpy() ** 2).sum(-2), -1)                        # column squared norms, descending
        mass, mmargin = count_to_fraction(col, MASS)
        for kind, m in (('rank', rmargin), ('mass', mmargin)):
            min_margin[kind] = min(min_margin[kind], float(m.min()))
            for i, h in zip(*np.nonzero(m < BORDER)):
                borderline.append({'block': l, 'head': int(h), 'sequence': int(i), 'kind': kind, 'margin': float(m[i, h])})
        r, ms = rank.mean(0), mass.mean(0)                                     # (NH) averages over the windows
        blocks.append({'block': l, 'max_rank': float(r.max()), 'rank': r.tolist(), 'mass': ms.tolist(),
                       'lazy': bool(r.max() < LAZY_MAX_RANK)})
        print(f'block {l}: max_rank {r.max():.2f}  rank {np.round(r, 2).tolist()}  mass {np.round(ms, 2).tolist()}'
              f'{"  LAZY" if r.max() < LAZY_MAX_RANK else ""}')
    print(f'min margins: rank {min_margin["rank"]:.2e}, mass {min_margin["mass"]:.2e}; '
          f'{len(borderline)} borderline cases (margin < {BORDER:g})')
    out = {
        'about': 'test/ref/analyze_ref.py: stories260K, float64 forward, torch.linalg.svdvals; windows of the tokenized '
                 f'{TEXT} (BOS + run.c encode of the whole file)',
        'model': 'stories260k/stories260K.bin', 'text': TEXT, 'n_ids': len(ids), 'ids_head': ids[:8],
        'ids_sum': int(sum(ids[:N * T])), 'mass_fraction': MASS, 'lazy_max_rank': LAZY_MAX_RANK,
        'min_margin': min_margin, 'borderline': borderline,
        'blocks': blocks, 'sequences': N, 'seq': T, 'tau': TAU,
    }
    path = os.path.join(HERE, 'analyze_ref.json')
    with open(path, 'w') as f:
        json.dump(out, f, indent=1)
    print(f'wrote {path} ({os.path.getsize(path)} bytes, {time.time() - t0:.0f} s)')


if __name__ == '__main__':
    main()
