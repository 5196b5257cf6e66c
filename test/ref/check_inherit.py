#!/usr/bin/python3
"""Check a Hugging Face directory written by `inheritune-rt inherit` against reference logits (run by hand).

    check_inherit.py DIR LOGITS_JSON
        LOGITS_JSON = {"ids": [...], "logits": [[...] x T]}, e.g. the output of
        `inheritune-rt logits --model SRC --layers K --ids ... --json` on the *source* model. DIR is loaded with
        hf_torch.py (independent safetensors reader) and families_torch.py (the math of each HF family), run on `ids`, compared: max |diff|,
        PASS/FAIL at 1e-4.
    check_inherit.py DIR --llama2c BIN --blocks 0,1,4 --ids 1,403,407
        no CLI equivalent needed: the reference logits come from this file's own llama2.c reader and forward
        (interleaved-pair RoPE, as run.c) of the llama2.c checkpoint BIN with only the given blocks, in that order
        (token embedding + those blocks + final RMSNorm + tied head).
    check_inherit.py DIR --family-golden GOLDENS NAME
        the reference is the torch first-K logits of source NAME in GOLDENS (make_families_ref.py: the source
        checkpoint's first K blocks run by families_torch.py), for a DIR inherited with --layers K.
    Options: --golden-f32 FILE  also compare with a raw float32 [T, V] file (e.g. shared stories260K goldens);
             --tol X            tolerance (default 1e-4).
Also prints the directory's inheritune.json blocks/parts and whether its logits are finite.
"""
import json, math, os, struct, sys
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_torch as H  # noqa: E402
import families_torch as F  # noqa: E402


# ---------------------------------------------------------------- llama2.c (legacy and version-1 layouts)

def read_llama2c(path):
    data = open(path, 'rb').read()
    magic = struct.unpack_from('<I', data, 0)[0]
    if magic == 0x616b3432:                              # "ak42": version-1 export, 256-byte header
        assert struct.unpack_from('<i', data, 4)[0] == 1, 'only fp32 version 1'
        dim, hidden, L, NH, KVH, V, seq = struct.unpack_from('<7i', data, 8)
        shared, off, legacy = data[36] != 0, 256, False
    else:
        dim, hidden, L, NH, KVH, V, seq = struct.unpack_from('<7i', data, 0)
        shared, V, off, legacy = V > 0, abs(V), 28, True
    hs = dim // NH
    kv = KVH * hs
    shapes = {'token_embedding': (V, dim), 'rms_att': (L, dim), 'wq': (L, dim, dim), 'wk': (L, kv, dim),
              'wv': (L, kv, dim), 'wo': (L, dim, dim), 'rms_ffn': (L, dim), 'w1': (L, hidden, dim),
              'w2': (L, dim, hidden), 'w3': (L, hidden, dim), 'rms_final': (dim,),
              'freq_cis_real': (seq, hs // 2), 'freq_cis_imag': (seq, hs // 2), 'wcls': (V, dim)}
    order = (['token_embedding', 'rms_att', 'wq', 'wk', 'wv', 'wo', 'rms_ffn', 'w1', 'w2', 'w3', 'rms_final',
              'freq_cis_real', 'freq_cis_imag'] if legacy else
             ['rms_att', 'rms_ffn', 'rms_final', 'token_embedding', 'wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'])
    if not shared:
        order.append('wcls')
    W = {}
    for name in order:
        n = int(np.prod(shapes[name]))
        W[name] = torch.from_numpy(np.frombuffer(data, '<f4', n, off).astype(np.float32).reshape(shapes[name]))
        off += 4 * n
    assert off == len(data), f'{path}: {len(data) - off} bytes left over'
    if shared:
        W['wcls'] = W['token_embedding']
    cfg = dict(dim=dim, hidden=hidden, L=L, NH=NH, KVH=KVH, V=V, seq=seq)
    return cfg, W


def llama2c_forward(cfg, W, ids, blocks, eps=1e-5, dtype=torch.float64):
    """run.c's math: RMSNorm, interleaved-pair RoPE (theta 10000), GQA, SwiGLU; only `blocks`, in order."""
    W = {k: v.to(dtype) for k, v in W.items()}
    C, NH, KVH = cfg['dim'], cfg['NH'], cfg['KVH']
    hs = C // NH
    T = len(ids)
    ids = torch.tensor(ids, dtype=torch.long)
    rms = lambda x, w: x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w
    pos = torch.arange(T, dtype=dtype)[:, None]
    freq = 1.0 / (10000.0 ** (torch.arange(0, hs, 2, dtype=dtype) / hs))      # per pair (2i, 2i+1)
    ang = pos * freq[None, :]                                                   # [T, hs/2]
    cos, sin = ang.cos(), ang.sin()

    def rope(x):                                          # x [T, nh, hs], pairs (2i, 2i+1)
        a, b = x[..., 0::2], x[..., 1::2]
        c, s = cos[:, None, :], sin[:, None, :]
        return torch.stack((a * c - b * s, a * s + b * c), dim=-1).flatten(-2)

    x = W['token_embedding'][ids]
    for l in blocks:
        h = rms(x, W['rms_att'][l])
        q = rope((h @ W['wq'][l].T).view(T, NH, hs))
        k = rope((h @ W['wk'][l].T).view(T, KVH, hs))
        v = (h @ W['wv'][l].T).view(T, KVH, hs)
        y = torch.zeros(T, NH, hs, dtype=dtype)
        for hh in range(NH):
            kh = hh // (NH // KVH)
            s = q[:, hh] @ k[:, kh].T / math.sqrt(hs)
            s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float('-inf'))
            y[:, hh] = torch.softmax(s, -1) @ v[:, kh]
        x = x + y.reshape(T, C) @ W['wo'][l].T
        h = rms(x, W['rms_ffn'][l])
        x = x + (torch.nn.functional.silu(h @ W['w1'][l].T) * (h @ W['w3'][l].T)) @ W['w2'][l].T
    return (rms(x, W['rms_final']) @ W['wcls'].T).float()


# ---------------------------------------------------------------- main

def arg(flag, default=None):
    if flag in sys.argv:
        return sys.argv[sys.argv.index(flag) + 1]
    return default


def compare(label, got, want, tol):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        print(f'  {label}: shape {list(got.shape)} vs {list(want.shape)}  FAIL')
        return False
    d = np.abs(got - want).max()
    ok = bool(d <= tol)
    same_argmax = bool((got.argmax(-1) == want.argmax(-1)).all())
    print(f'  {label}: max |diff| {d:.3e} (max |logit| {np.abs(want).max():.3f}, argmax equal: {same_argmax})  '
          f'{"PASS" if ok else "FAIL"} at {tol:g}')
    return ok


def main():
    if len(sys.argv) < 3 or sys.argv[1] in ('-h', '--help'):
        print(__doc__)
        sys.exit(2)
    d = sys.argv[1]
    tol = float(arg('--tol', '1e-4'))
    config, tensors = H.load_hf_dir(d)
    shard_files = sorted(f for f in os.listdir(d) if f.endswith('.safetensors'))
    print(f'{d}: model_type {config.get("model_type")}, {len(tensors)} tensors in {shard_files}, '
          f'{sum(v.numel() for v in tensors.values())} values')
    ij = os.path.join(d, 'inheritune.json')
    if os.path.exists(ij):
        rec = json.load(open(ij))
        print(f'  inheritune.json: blocks {rec.get("blocks")}, preset {rec.get("preset")}, parts {rec.get("parts")}')
    if sys.argv[2] == '--llama2c':
        ids = [int(s) for s in arg('--ids').split(',')]
        blocks = [int(s) for s in arg('--blocks').split(',')]
        lcfg, lw = read_llama2c(arg('--llama2c'))
        want = llama2c_forward(lcfg, lw, ids, blocks).numpy()
        print(f'  reference: llama2.c forward (this file) of {arg("--llama2c")} with blocks {blocks}')
    elif sys.argv[2] == '--family-golden':
        gold = json.load(open(sys.argv[3]))[sys.argv[4]]
        ids, want = gold['ids'], np.array(gold['logitsFirstK'], dtype=np.float64)
        print(f'  reference: torch first-{gold["k"]} logits of {sys.argv[4]} ({sys.argv[3]})')
    else:
        ref = json.load(open(sys.argv[2]))
        ids, want = ref['ids'], np.array(ref['logits'], dtype=np.float64)
        print(f'  reference: {sys.argv[2]}')
    logits, hidden = F.forward(config, tensors, ids)
    logits = logits.numpy()
    print(f'  ids {ids}: logits {list(logits.shape)}, finite: {bool(np.isfinite(logits).all())}, '
          f'argmax {logits.argmax(-1).tolist()}')
    ok = compare('torch(DIR) vs reference', logits, want, tol)
    g = arg('--golden-f32')
    if g:
        gold = np.fromfile(g, '<f4').reshape(len(ids), -1)
        ok = compare(f'torch(DIR) vs {g}', logits, gold, tol) and ok
    print('  RESULT', 'PASS' if ok else 'FAIL')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
