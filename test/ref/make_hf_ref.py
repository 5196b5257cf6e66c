#!/usr/bin/python3
"""Write the tiny Hugging Face test directories and golden outputs (all seeded and deterministic).

    /usr/bin/python3 test/ref/make_hf_ref.py            # everything (the big GPT-2 takes ~1 min)
    /usr/bin/python3 test/ref/make_hf_ref.py --no-big   # skip test/ref/gpt2_big_logits.json

Writes
  test/ref/hf/gpt2-tiny/        F32, keys without `transformer.`, with the attn.bias/attn.masked_bias buffers
  test/ref/hf/llama-tiny/       BF16, two shards + model.safetensors.index.json, untied head, GQA 4/2
  test/ref/hf/llama-bias-tiny/  F16, single file, attention_bias + mlp_bias, tied head, 4 kv heads
  test/ref/hf_goldens.json      ids, logits [T][V] and residual stream after each block [L][T][C] per model,
                                computed from the weights as read back from the files (bf16/f16-rounded)
  test/ref/gpt2_big_logits.json a 2-block GPT-2-small-shaped model whose weights are NOT committed: both sides
                                regenerate them from mulberry32 (see big_gpt2_tensors); logits at chosen columns

The goldens are computed in float64 (hf_torch forward with dtype=torch.float64) on the float32 weights, i.e.
as close to exact as the stored weights allow; the float32 forward is also run and its distance printed.
Floats are rounded to 7 significant digits.
"""
import json, math, os, sys, time
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_torch as H  # noqa: E402

OUT = os.path.join(HERE, 'hf')
IDS = [1, 5, 17, 33, 60, 2, 90, 44]


def r7(x):
    """nested lists of floats rounded to 7 significant digits"""
    if isinstance(x, (list, tuple)):
        return [r7(v) for v in x]
    return float(f'{float(x):.7g}')


# ---------------------------------------------------------------- self-tests of the building blocks

def self_test():
    torch.manual_seed(123)
    x = torch.randn(5, 16, dtype=torch.float64)
    w, b = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    assert torch.allclose(H.layer_norm(x, w, b, 1e-5), torch.nn.functional.layer_norm(x, (16,), w, b, 1e-5), atol=1e-12)
    assert torch.allclose(H.gelu_new(x), torch.nn.functional.gelu(x, approximate='tanh'), atol=1e-12)
    # attention vs an explicit per-position loop
    q, k, v = (torch.randn(3, 6, 4, dtype=torch.float64) for _ in range(3))
    y = H.causal_attention(q, k, v)
    for t in range(6):
        s = (q[:, t:t + 1] @ k[:, :t + 1].transpose(-1, -2)) / 2.0
        assert torch.allclose(y[:, t:t + 1], torch.softmax(s, -1) @ v[:, :t + 1], atol=1e-12)
    # rotate_half RoPE == complex rotation of the pairs (i, i + hd/2) by pos * theta^(-2i/hd)
    hd, T = 8, 5
    cos, sin = H.rope_cos_sin(T, hd, 10000.0, torch.float64)
    z = torch.randn(T, hd, dtype=torch.float64)
    r = z * cos + H.rotate_half(z) * sin
    for t in range(T):
        for i in range(hd // 2):
            a = t * 10000.0 ** (-2 * i / hd)
            c = complex(z[t, i], z[t, i + hd // 2]) * complex(math.cos(a), math.sin(a))
            assert abs(r[t, i] - c.real) < 1e-12 and abs(r[t, i + hd // 2] - c.imag) < 1e-12
    # safetensors round trip, all dtypes, scalar shape, header padding
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        a = {'s': np.float32(-1e4), 'm': np.random.RandomState(0).randn(3, 5).astype(np.float32)}
        for dt in ('F32', 'F16', 'BF16'):
            p = os.path.join(d, 'x.safetensors')
            H.write_safetensors(p, a, dt, {'format': 'pt'})
            raw = open(p, 'rb').read()
            assert int.from_bytes(raw[:8], 'little') % 8 == 0
            back, meta = H.read_safetensors(p)
            assert meta == {'format': 'pt'} and back['s'].shape == () and back['m'].shape == (3, 5)
            for k in a:
                assert np.array_equal(back[k], H.round_to(a[k], dt)), (dt, k)
        assert H.round_to(np.float32(1.00390625), 'BF16') == 1.0          # tie -> even
        assert H.round_to(np.float32(1.01171875), 'BF16') == 1.015625     # tie -> even (up)
    print('self-tests passed')


# ---------------------------------------------------------------- tiny models

def gpt2_tiny():
    cfg = {'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'n_embd': 32, 'n_head': 4, 'n_layer': 2,
           'n_positions': 32, 'vocab_size': 96, 'layer_norm_epsilon': 1e-5, 'activation_function': 'gelu_new',
           'tie_word_embeddings': True}
    torch.manual_seed(0)
    C, V, P, L = 32, 96, 32, 2
    mat = lambda *s: torch.randn(*s) * 0.02
    lnw = lambda: 1 + 0.1 * torch.randn(C)
    bias = lambda n: 0.02 * torch.randn(n)
    t = {'wte.weight': mat(V, C), 'wpe.weight': mat(P, C)}
    for i in range(L):
        p = f'h.{i}.'
        t[p + 'ln_1.weight'] = lnw(); t[p + 'ln_1.bias'] = bias(C)
        t[p + 'attn.bias'] = torch.ones(P, P).tril().view(1, 1, P, P)          # mask buffer (must be ignored)
        t[p + 'attn.masked_bias'] = torch.tensor(-1e4)                          # scalar buffer (must be ignored)
        t[p + 'attn.c_attn.weight'] = mat(C, 3 * C); t[p + 'attn.c_attn.bias'] = bias(3 * C)
        t[p + 'attn.c_proj.weight'] = mat(C, C); t[p + 'attn.c_proj.bias'] = bias(C)
        t[p + 'ln_2.weight'] = lnw(); t[p + 'ln_2.bias'] = bias(C)
        t[p + 'mlp.c_fc.weight'] = mat(C, 4 * C); t[p + 'mlp.c_fc.bias'] = bias(4 * C)
        t[p + 'mlp.c_proj.weight'] = mat(4 * C, C); t[p + 'mlp.c_proj.bias'] = bias(C)
    t['ln_f.weight'] = lnw(); t['ln_f.bias'] = bias(C)
    return cfg, t, 'F32', 1


def llama_tensors(cfg, seed):
    torch.manual_seed(seed)
    C, I, L = cfg['hidden_size'], cfg['intermediate_size'], cfg['num_hidden_layers']
    NH, KVH, V = cfg['num_attention_heads'], cfg['num_key_value_heads'], cfg['vocab_size']
    hd = C // NH
    ab, mb = cfg['attention_bias'], cfg['mlp_bias']
    mat = lambda *s: torch.randn(*s) * 0.02
    nw = lambda: 1 + 0.1 * torch.randn(C)
    bias = lambda n: 0.02 * torch.randn(n)
    t = {'model.embed_tokens.weight': mat(V, C)}
    for i in range(L):
        p = f'model.layers.{i}.'
        for name, (o, n) in [('self_attn.q_proj', (NH * hd, C)), ('self_attn.k_proj', (KVH * hd, C)),
                             ('self_attn.v_proj', (KVH * hd, C)), ('self_attn.o_proj', (C, NH * hd))]:
            t[p + name + '.weight'] = mat(o, n)
            if ab:
                t[p + name + '.bias'] = bias(o)
        for name, (o, n) in [('mlp.gate_proj', (I, C)), ('mlp.up_proj', (I, C)), ('mlp.down_proj', (C, I))]:
            t[p + name + '.weight'] = mat(o, n)
            if mb:
                t[p + name + '.bias'] = bias(o)
        t[p + 'input_layernorm.weight'] = nw()
        t[p + 'post_attention_layernorm.weight'] = nw()
    t['model.norm.weight'] = nw()
    if not cfg['tie_word_embeddings']:
        t['lm_head.weight'] = mat(V, C)
    return t


LLAMA_BASE = {'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_size': 32, 'intermediate_size': 88,
              'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2, 'vocab_size': 96,
              'max_position_embeddings': 64, 'rms_norm_eps': 1e-5, 'rope_theta': 10000.0, 'hidden_act': 'silu',
              'tie_word_embeddings': False, 'attention_bias': False, 'mlp_bias': False}


def llama_tiny():
    cfg = dict(LLAMA_BASE)
    return cfg, llama_tensors(cfg, 1), 'BF16', 2


def llama_bias_tiny():
    cfg = dict(LLAMA_BASE, attention_bias=True, mlp_bias=True, tie_word_embeddings=True, num_key_value_heads=4)
    return cfg, llama_tensors(cfg, 2), 'F16', 1


def make_tiny():
    goldens = {}
    for name, make in [('gpt2-tiny', gpt2_tiny), ('llama-tiny', llama_tiny), ('llama-bias-tiny', llama_bias_tiny)]:
        cfg, t, dt, shards = make()
        d = os.path.join(OUT, name)
        H.write_hf_dir(d, cfg, t, dt, shards)
        cfg2, back = H.load_hf_dir(d)                     # golden from what was written (rounded weights)
        assert cfg2 == cfg and set(back) == set(t)
        for k in t:
            assert np.array_equal(back[k].numpy(), H.round_to(t[k].numpy(), dt)), k
        logits, hidden = H.forward(cfg2, back, IDS, torch.float64)
        l32, h32 = H.forward(cfg2, back, IDS, torch.float32)
        print(f'{name}: {dt} x{shards}, {len(back)} tensors, logits {list(logits.shape)} range '
              f'[{logits.min():.4f}, {logits.max():.4f}], hidden {list(hidden.shape)}; '
              f'float32 vs float64 forward max|diff| logits {(l32 - logits).abs().max():.2e} hidden {(h32 - hidden).abs().max():.2e}')
        goldens[name] = {'ids': IDS, 'logits': r7(logits.tolist()), 'hidden': r7(hidden.tolist())}
    # how much the storage rounding matters (so a reader that ignored bf16/f16 rounding would be visible)
    for name, make in [('llama-tiny', llama_tiny), ('llama-bias-tiny', llama_bias_tiny)]:
        cfg, t, dt, _ = make()
        exact, _ = H.forward(cfg, t, IDS, torch.float64)
        print(f'{name}: logits from unrounded float32 weights differ from the {dt} golden by '
              f'{(exact - torch.tensor(goldens[name]["logits"], dtype=torch.float64)).abs().max():.2e}')
    p = os.path.join(HERE, 'hf_goldens.json')
    with open(p, 'w') as f:
        json.dump(goldens, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {p} ({os.path.getsize(p)} bytes)')


# ---------------------------------------------------------------- big GPT-2 from mulberry32

M32 = np.uint64(0xFFFFFFFF)


def mulberry32_scalar(seed, n):
    """plain-python mulberry32 (the JavaScript one-liner, a += 0x6D2B79F5 before each output)"""
    imul = lambda a, b: (a * b) & 0xFFFFFFFF
    out, a = [], seed & 0xFFFFFFFF
    for _ in range(n):
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        out.append(((t ^ (t >> 14)) & 0xFFFFFFFF) / 2 ** 32)
    return out


def mulberry32(seed, start, n):
    """u(seed, i) for i = start..start+n-1, float64 (exact: r / 2^32). uint64 arithmetic, masked to 32 bits."""
    i = np.arange(start + 1, start + n + 1, dtype=np.uint64)
    a = (np.uint64(seed) + i * np.uint64(0x6D2B79F5)) & M32
    t = ((a ^ (a >> np.uint64(15))) * (a | np.uint64(1))) & M32
    t = t ^ ((t + (((t ^ (t >> np.uint64(7))) * (t | np.uint64(61))) & M32)) & M32)
    r = (t ^ (t >> np.uint64(14))) & M32
    return r.astype(np.float64) / 2.0 ** 32


BIG_CFG = {'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': 50257, 'n_embd': 768, 'n_head': 12,
           'n_layer': 2, 'n_positions': 1024, 'layer_norm_epsilon': 1e-5, 'activation_function': 'gelu_new',
           'tie_word_embeddings': True}
BIG_IDS = [50256, 464, 2068, 7586]


def big_gpt2_specs():
    C, V, P = 768, 50257, 1024
    S = 0.02 * math.sqrt(3)
    specs = [('wte.weight', (V, C), 'mat'), ('wpe.weight', (P, C), 'mat')]
    for b in range(2):
        p = f'h.{b}.'
        specs += [(p + 'ln_1.weight', (C,), 'lnw'), (p + 'ln_1.bias', (C,), 'lnb'),
                  (p + 'attn.c_attn.weight', (C, 3 * C), 'mat'), (p + 'attn.c_attn.bias', (3 * C,), 'bias'),
                  (p + 'attn.c_proj.weight', (C, C), 'mat'), (p + 'attn.c_proj.bias', (C,), 'bias'),
                  (p + 'ln_2.weight', (C,), 'lnw'), (p + 'ln_2.bias', (C,), 'lnb'),
                  (p + 'mlp.c_fc.weight', (C, 4 * C), 'mat'), (p + 'mlp.c_fc.bias', (4 * C,), 'bias'),
                  (p + 'mlp.c_proj.weight', (4 * C, C), 'mat'), (p + 'mlp.c_proj.bias', (C,), 'bias')]
    specs += [('ln_f.weight', (C,), 'lnw'), ('ln_f.bias', (C,), 'lnb')]
    assert len(specs) == 28
    return specs, S


def big_gpt2_tensors():
    specs, S = big_gpt2_specs()
    out = {}
    for k, (name, shape, kind) in enumerate(specs):
        n = int(np.prod(shape))
        vals = np.empty(n, dtype=np.float32)
        for s in range(0, n, 1 << 22):                  # chunks keep the uint64 temporaries small
            u = mulberry32(1000 + k, s, min(1 << 22, n - s))
            x = 2.0 * u - 1.0
            if kind == 'mat':
                v = x * S
            elif kind == 'bias':
                v = x * 0.02
            elif kind == 'lnw':
                v = 1.0 + x * 0.1
            else:
                v = x * 0.02
            vals[s:s + len(v)] = v                      # float64 -> float32 (round to nearest)
        out[name] = torch.from_numpy(vals.reshape(shape))
    return out


def make_big():
    ref = mulberry32_scalar(1000, 1000)
    vec = mulberry32(1000, 0, 1000)
    assert ref == vec.tolist(), 'vectorised mulberry32 disagrees with the scalar one'
    for seed in (0, 1027, 0xFFFFFFFF - 5):
        assert mulberry32_scalar(seed, 1000) == mulberry32(seed, 0, 1000).tolist()
    assert mulberry32(1000, 500, 10).tolist() == ref[500:510]
    first5 = vec[:5].tolist()
    print('u(1000, i), i = 0..4:', ', '.join(repr(v) for v in first5))
    print('as uint32:', [int(v * 2 ** 32) for v in first5])
    t0 = time.time()
    W = big_gpt2_tensors()
    print(f'generated {sum(v.numel() for v in W.values())} big-GPT-2 values in {time.time() - t0:.1f} s; '
          f'wte[0,:3] = {W["wte.weight"][0, :3].tolist()}  h.1.mlp.c_proj.bias[-1] = {W["h.1.mlp.c_proj.bias"][-1].item()!r}')
    logits, _ = H.gpt2_forward(BIG_CFG, W, BIG_IDS, torch.float64)
    l32, _ = H.gpt2_forward(BIG_CFG, W, BIG_IDS, torch.float32)
    print(f'big GPT-2: logits {list(logits.shape)}, float32 vs float64 forward max|diff| {(l32 - logits).abs().max():.2e}')
    V = BIG_CFG['vocab_size']
    cols = sorted(set(range(0, V, 97)) | set(range(43500, 43800)))
    res = {'ids': BIG_IDS, 'columns': cols,
           'logits': r7(logits[:, cols].tolist()),
           'argmax': logits.argmax(-1).tolist(),
           'max': r7(logits.max(-1).values.tolist()),
           'u_first5': first5}
    print(f'argmax {res["argmax"]}  max {res["max"]}  ({len(cols)} columns)')
    p = os.path.join(HERE, 'gpt2_big_logits.json')
    with open(p, 'w') as f:
        json.dump(res, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {p} ({os.path.getsize(p)} bytes)')


if __name__ == '__main__':
    self_test()
    make_tiny()
    if '--no-big' not in sys.argv:
        make_big()
