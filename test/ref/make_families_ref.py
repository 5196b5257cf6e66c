#!/usr/bin/python3
"""Write tiny random checkpoints of each supported family and their golden logits (seeded, deterministic).

    /usr/bin/python3 test/ref/make_families_ref.py

Writes test/ref/hf/fam-<name>-{f32,bf16}/ (config.json + model.safetensors, the same weights stored as F32
and as BF16) and test/ref/families_goldens.json: per directory the ids, logits [T][V] and residual stream
[L][T][C] of all blocks, and the logits of the first K blocks (`--layers K`: the same embeddings, final norm
and head). Goldens are float64 forwards (families_torch.py) of the weights as read back from the files.

  llama3   llama, rope_scaling llama3 (all three wavelength bands hit), head_dim 16 != 32/4, GQA 4/2
  qwen2    qwen2, q/k/v biases (no o bias), rope_scaling linear x2, theta 1e6, tied head
  mistral  mistral, sliding_window 4096 (>= T), GQA 4/1
  qwen3    qwen3, q_norm/k_norm over head_dim 16 (q width 64 != hidden 32), GQA 4/2, tied head
  neox     gpt_neox, parallel residual, rotary_pct 0.25 (4 of 16 dims), untied embed_out; also carries the
           buffers old checkpoints have (attention.masked_bias, rotary_emb.inv_freq) that a reader must skip
  neoxseq  gpt_neox, use_parallel_residual false, rotary_pct 0.5
"""
import json, os, sys
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_torch as H  # noqa: E402
import families_torch as F  # noqa: E402

OUT = os.path.join(HERE, 'hf')
IDS = [1, 5, 17, 33, 60, 2, 41, 44, 9, 63, 0, 28]
K = 2
C, I, V, L = 32, 64, 64, 3

LLAMA = {'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_size': C, 'intermediate_size': I,
         'num_hidden_layers': L, 'num_attention_heads': 4, 'num_key_value_heads': 2, 'vocab_size': V,
         'max_position_embeddings': 128, 'rms_norm_eps': 1e-5, 'rope_theta': 10000.0, 'hidden_act': 'silu',
         'tie_word_embeddings': False, 'attention_bias': False, 'mlp_bias': False}

CONFIGS = {
    'llama3': dict(LLAMA, head_dim=16, rope_scaling={'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0,
                                                     'high_freq_factor': 4.0, 'original_max_position_embeddings': 64}),
    'qwen2': {'architectures': ['Qwen2ForCausalLM'], 'model_type': 'qwen2', 'hidden_size': C, 'intermediate_size': I,
              'num_hidden_layers': L, 'num_attention_heads': 4, 'num_key_value_heads': 2, 'vocab_size': V,
              'max_position_embeddings': 128, 'rms_norm_eps': 1e-6, 'rope_theta': 1000000.0, 'hidden_act': 'silu',
              'tie_word_embeddings': True, 'use_sliding_window': False, 'sliding_window': 32, 'max_window_layers': L,
              'rope_scaling': {'type': 'linear', 'factor': 2.0}},
    'mistral': {'architectures': ['MistralForCausalLM'], 'model_type': 'mistral', 'hidden_size': C, 'intermediate_size': I,
                'num_hidden_layers': L, 'num_attention_heads': 4, 'num_key_value_heads': 1, 'vocab_size': V,
                'max_position_embeddings': 128, 'rms_norm_eps': 1e-5, 'rope_theta': 10000.0, 'hidden_act': 'silu',
                'tie_word_embeddings': False, 'sliding_window': 4096, 'head_dim': None},
    'qwen3': {'architectures': ['Qwen3ForCausalLM'], 'model_type': 'qwen3', 'hidden_size': C, 'intermediate_size': I,
              'num_hidden_layers': L, 'num_attention_heads': 4, 'num_key_value_heads': 2, 'head_dim': 16, 'vocab_size': V,
              'max_position_embeddings': 128, 'rms_norm_eps': 1e-6, 'rope_theta': 1000000.0, 'hidden_act': 'silu',
              'tie_word_embeddings': True, 'attention_bias': False, 'use_sliding_window': False, 'sliding_window': None},
    'neox': {'architectures': ['GPTNeoXForCausalLM'], 'model_type': 'gpt_neox', 'hidden_size': C, 'intermediate_size': I,
             'num_hidden_layers': L, 'num_attention_heads': 2, 'vocab_size': V, 'max_position_embeddings': 128,
             'rotary_pct': 0.25, 'rotary_emb_base': 10000, 'layer_norm_eps': 1e-5, 'use_parallel_residual': True,
             'hidden_act': 'gelu', 'tie_word_embeddings': False, 'attention_bias': True},
    'neoxseq': {'architectures': ['GPTNeoXForCausalLM'], 'model_type': 'gpt_neox', 'hidden_size': C, 'intermediate_size': I,
                'num_hidden_layers': L, 'num_attention_heads': 4, 'vocab_size': V, 'max_position_embeddings': 128,
                'rotary_pct': 0.5, 'rotary_emb_base': 10000, 'layer_norm_eps': 1e-5, 'use_parallel_residual': False,
                'hidden_act': 'gelu', 'tie_word_embeddings': False, 'attention_bias': True},
}


def llama_tensors(cfg):
    mt, NH, KVH = cfg['model_type'], cfg['num_attention_heads'], cfg['num_key_value_heads']
    hd = cfg.get('head_dim') or C // NH
    mat = lambda *s: torch.randn(*s) * 0.1
    nw = lambda n=C: 1 + 0.2 * torch.randn(n)
    bias = lambda n: 0.1 * torch.randn(n)
    t = {'model.embed_tokens.weight': torch.randn(V, C) * 0.5}
    for i in range(L):
        p = f'model.layers.{i}.'
        for name, (o, n) in [('q_proj', (NH * hd, C)), ('k_proj', (KVH * hd, C)), ('v_proj', (KVH * hd, C)), ('o_proj', (C, NH * hd))]:
            t[p + 'self_attn.' + name + '.weight'] = mat(o, n)
            if mt == 'qwen2' and name != 'o_proj':
                t[p + 'self_attn.' + name + '.bias'] = bias(o)
        if mt == 'qwen3':
            t[p + 'self_attn.q_norm.weight'] = nw(hd)
            t[p + 'self_attn.k_norm.weight'] = nw(hd)
        for name, (o, n) in [('gate_proj', (I, C)), ('up_proj', (I, C)), ('down_proj', (C, I))]:
            t[p + 'mlp.' + name + '.weight'] = mat(o, n)
        t[p + 'input_layernorm.weight'] = nw()
        t[p + 'post_attention_layernorm.weight'] = nw()
    t['model.norm.weight'] = nw()
    if not cfg['tie_word_embeddings']:
        t['lm_head.weight'] = mat(V, C)
    return t


def neox_tensors(cfg, buffers):
    NH = cfg['num_attention_heads']
    HS, R = C // NH, int(C // NH * cfg['rotary_pct'])
    mat = lambda *s: torch.randn(*s) * 0.1
    nw = lambda: 1 + 0.2 * torch.randn(C)
    bias = lambda n: 0.1 * torch.randn(n)
    t = {'gpt_neox.embed_in.weight': torch.randn(V, C) * 0.5}
    for i in range(L):
        p = f'gpt_neox.layers.{i}.'
        t[p + 'input_layernorm.weight'] = nw(); t[p + 'input_layernorm.bias'] = bias(C)
        t[p + 'post_attention_layernorm.weight'] = nw(); t[p + 'post_attention_layernorm.bias'] = bias(C)
        if buffers:
            t[p + 'attention.masked_bias'] = torch.tensor(-1e9)
            t[p + 'attention.rotary_emb.inv_freq'] = 1.0 / (10000 ** (torch.arange(0, R, 2).float() / R))
        t[p + 'attention.query_key_value.weight'] = mat(3 * C, C); t[p + 'attention.query_key_value.bias'] = bias(3 * C)
        t[p + 'attention.dense.weight'] = mat(C, C); t[p + 'attention.dense.bias'] = bias(C)
        t[p + 'mlp.dense_h_to_4h.weight'] = mat(I, C); t[p + 'mlp.dense_h_to_4h.bias'] = bias(I)
        t[p + 'mlp.dense_4h_to_h.weight'] = mat(C, I); t[p + 'mlp.dense_4h_to_h.bias'] = bias(C)
    t['gpt_neox.final_layer_norm.weight'] = nw(); t['gpt_neox.final_layer_norm.bias'] = bias(C)
    t['embed_out.weight'] = mat(V, C)
    return t


def r7(x):
    if isinstance(x, (list, tuple)):
        return [r7(v) for v in x]
    return float(f'{float(x):.7g}')


def self_test():
    # rope_inv_freq llama3: the three bands, against a per-frequency loop of the formula
    cfg = CONFIGS['llama3']
    inv0 = 1.0 / (10000.0 ** (torch.arange(0, 16, 2).float() / 16))
    got = F.rope_inv_freq(cfg, 16)
    sc = cfg['rope_scaling']
    bands = set()
    for j, f in enumerate(inv0.tolist()):
        wl = 2 * np.pi / f
        if wl < 64 / 4:
            want, b = f, 'high'
        elif wl > 64 / 1:
            want, b = f / 8, 'low'
        else:
            s = (64 / wl - 1) / (4 - 1)
            want, b = (1 - s) * f / 8 + s * f, 'mid'
        bands.add(b)
        assert abs(got[j].item() - want) <= 1e-6 * want, (j, got[j].item(), want)
    assert bands == {'high', 'mid', 'low'}, bands
    assert torch.allclose(F.rope_inv_freq(CONFIGS['qwen2'], 8), 1.0 / (1e6 ** (torch.arange(0, 8, 2).float() / 8)) / 2)
    x = torch.randn(7, dtype=torch.float64)
    assert torch.allclose(F.gelu_erf(x), torch.nn.functional.gelu(x), atol=1e-12)
    # sliding window: a window >= T masks nothing, a window of 1 attends only to itself
    q, k, v = (torch.randn(2, 5, 4, dtype=torch.float64) for _ in range(3))
    assert torch.allclose(F.attention(q, k, v, 5), H.causal_attention(q, k, v), atol=1e-12)
    assert torch.allclose(F.attention(q, k, v, 1), v, atol=1e-12)
    # the general llama path reproduces hf_torch's plain Llama on the old fixture
    cfg0, t0 = H.load_hf_dir(os.path.join(OUT, 'llama-bias-tiny'))
    a, _ = H.forward(cfg0, t0, [1, 2, 3], torch.float64)
    b, _ = F.forward(cfg0, t0, [1, 2, 3], torch.float64)
    assert torch.allclose(a, b, atol=1e-12)
    print('self-tests passed')


def main():
    self_test()
    goldens = {}
    for seed, (name, cfg) in enumerate(CONFIGS.items()):
        torch.manual_seed(100 + seed)
        t = neox_tensors(cfg, name == 'neox') if cfg['model_type'] == 'gpt_neox' else llama_tensors(cfg)
        for dt in ('F32', 'BF16'):
            d = os.path.join(OUT, f'fam-{name}-{dt.lower()}')
            H.write_hf_dir(d, cfg, t, dt, 1)
            cfg2, back = H.load_hf_dir(d)
            logits, hidden = F.forward(cfg2, back, IDS, torch.float64)
            l32, _ = F.forward(cfg2, back, IDS, torch.float32)
            first, _ = F.forward(dict(cfg2, num_hidden_layers=K), back, IDS, torch.float64)
            print(f'fam-{name}-{dt.lower()}: {len(back)} tensors, logits range [{logits.min():.3f}, {logits.max():.3f}], '
                  f'f32 vs f64 {(l32 - logits).abs().max():.1e}, first {K} vs all {(first - logits).abs().max():.2f}')
            goldens[f'fam-{name}-{dt.lower()}'] = {'ids': IDS, 'k': K, 'logits': r7(logits.tolist()),
                                                   'hidden': r7(hidden.tolist()), 'logitsFirstK': r7(first.tolist())}
    p = os.path.join(HERE, 'families_goldens.json')
    with open(p, 'w') as f:
        json.dump(goldens, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {p} ({os.path.getsize(p)} bytes)')


if __name__ == '__main__':
    main()
