#!/usr/bin/python3
"""Plain-torch forward passes of the decoder families beyond GPT-2 and plain Llama (run by hand with Debian's
python3-torch; CI never runs Python). Nothing here imports `transformers`; each function is written from the
math of the transformers modeling file it names, in eval mode, without a cache, positions 0..T-1:

- llama_family_forward: modeling_llama.py (LlamaForCausalLM), modeling_mistral.py (the same decoder; the
  sliding window masks nothing when it is >= T), modeling_qwen2.py (q/k/v projections with bias, o_proj
  without), modeling_qwen3.py (Qwen3RMSNorm over head_dim on each head of q and k, before RoPE; head_dim
  from config, not hidden/heads);
- rope_inv_freq: modeling_rope_utils.py (_compute_default_rope_parameters, _compute_linear_scaling_rope_parameters,
  _compute_llama3_parameters), in float32 as there; the attention scaling of these three types is 1;
- neox_forward: modeling_gpt_neox.py (GPTNeoXForCausalLM): LayerNorm with bias, query_key_value viewed as
  (T, NH, 3*HS) and chunked into q|k|v per head, rotate_half RoPE on the first rotary_ndims = int(HS *
  rotary_pct) dims of each head, exact (erf) GELU, use_parallel_residual either way, untied embed_out.

forward(config, tensors, ids, dtype) dispatches on model_type (gpt2 and plain llama too, via the general
code) and returns (logits [T, V], residual stream after each block [L, T, C]) as float32.
"""
import math
import torch

import hf_torch as H


def rope_inv_freq(config, dim):
    """inv_freq [dim/2] in float32, with the rope_scaling of config (classic keys or rope_parameters)."""
    params = config.get('rope_parameters') or {}
    base = params.get('rope_theta', config.get('rope_theta', config.get('rotary_emb_base', 10000.0)))
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    sc = config.get('rope_scaling') or (params if params.get('rope_type', 'default') != 'default' else None)
    if not sc:
        return inv
    kind = sc.get('rope_type', sc.get('type'))
    if kind == 'default':
        return inv
    if kind == 'linear':
        return inv / sc['factor']
    assert kind == 'llama3', kind
    factor, lo, hi = sc['factor'], sc['low_freq_factor'], sc['high_freq_factor']
    old = sc['original_max_position_embeddings']
    low_wavelen, high_wavelen = old / lo, old / hi
    wavelen = 2 * math.pi / inv
    inv_l = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, inv_l)


def cos_sin(inv_freq, T, dtype):
    """positions 0..T-1; the angles in float64 for a float64 run, else float32 (as HF, autocast off)"""
    ft = torch.float64 if dtype == torch.float64 else torch.float32
    freqs = torch.outer(torch.arange(T, dtype=ft), inv_freq.to(ft))
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def attention(q, k, v, window=None):
    """q [NH, T, hd], k/v [NH, T, hd]; causal, and keys older than `window` masked (Mistral's sliding window)"""
    T, hd = q.shape[1], q.shape[2]
    att = q @ k.transpose(-1, -2) * hd ** -0.5
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    keep = j <= i
    if window is not None:
        keep &= (i - j) < window
    att = att.masked_fill(~keep, float('-inf'))
    return torch.softmax(att, dim=-1) @ v


def llama_family_forward(config, tensors, ids, dtype=torch.float32):
    mt = config['model_type']
    W = {(k[len('model.'):] if k.startswith('model.') else k): v.to(dtype) for k, v in tensors.items()}
    assert config.get('hidden_act', 'silu') == 'silu'
    C, NH, L = config['hidden_size'], config['num_attention_heads'], config['num_hidden_layers']
    KVH = config.get('num_key_value_heads') or NH
    hd = config.get('head_dim') or C // NH
    eps = config.get('rms_norm_eps', 1e-6)
    qkv_bias = mt == 'qwen2' or (mt in ('llama', 'qwen3') and config.get('attention_bias', False))
    o_bias = mt in ('llama', 'qwen3') and config.get('attention_bias', False)
    mlp_bias = mt == 'llama' and config.get('mlp_bias', False)
    qk_norm = mt == 'qwen3'
    window = None
    if mt == 'mistral' or config.get('use_sliding_window', False):
        window = config.get('sliding_window')
    ids = torch.tensor(ids, dtype=torch.long)
    T = len(ids)
    cos, sin = cos_sin(rope_inv_freq(config, hd), T, dtype)
    rep = NH // KVH

    def lin(x, name, bias):
        y = x @ W[name + '.weight'].T
        return y + W[name + '.bias'] if bias else y

    x = W['embed_tokens.weight'][ids]
    hidden = []
    for i in range(L):
        p = f'layers.{i}.'
        h = H.rms_norm(x, W[p + 'input_layernorm.weight'], eps)
        q = lin(h, p + 'self_attn.q_proj', qkv_bias).view(T, NH, hd)
        k = lin(h, p + 'self_attn.k_proj', qkv_bias).view(T, KVH, hd)
        v = lin(h, p + 'self_attn.v_proj', qkv_bias).view(T, KVH, hd)
        if qk_norm:                                       # Qwen3: RMSNorm(head_dim) per head, then RoPE
            q = H.rms_norm(q, W[p + 'self_attn.q_norm.weight'], eps)
            k = H.rms_norm(k, W[p + 'self_attn.k_norm.weight'], eps)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        q = q * cos + H.rotate_half(q) * sin
        k = k * cos + H.rotate_half(k) * sin
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        y = attention(q, k, v, window).transpose(0, 1).reshape(T, NH * hd)
        x = x + lin(y, p + 'self_attn.o_proj', o_bias)
        h = H.rms_norm(x, W[p + 'post_attention_layernorm.weight'], eps)
        m = torch.nn.functional.silu(lin(h, p + 'mlp.gate_proj', mlp_bias)) * lin(h, p + 'mlp.up_proj', mlp_bias)
        x = x + lin(m, p + 'mlp.down_proj', mlp_bias)
        hidden.append(x.clone())
    x = H.rms_norm(x, W['norm.weight'], eps)
    head = W['embed_tokens.weight'] if config.get('tie_word_embeddings', False) else W['lm_head.weight']
    return (x @ head.T).float(), torch.stack(hidden).float()


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def neox_forward(config, tensors, ids, dtype=torch.float32):
    W = {(k[len('gpt_neox.'):] if k.startswith('gpt_neox.') else k): v.to(dtype) for k, v in tensors.items()}
    assert config.get('hidden_act', 'gelu') == 'gelu'
    C, NH, L = config['hidden_size'], config['num_attention_heads'], config['num_hidden_layers']
    HS = C // NH
    params = config.get('rope_parameters') or {}
    R = int(HS * params.get('partial_rotary_factor', config.get('rotary_pct', 0.25)))
    eps = config.get('layer_norm_eps', 1e-5)
    parallel = config.get('use_parallel_residual', True)
    ids = torch.tensor(ids, dtype=torch.long)
    T = len(ids)
    cos, sin = cos_sin(rope_inv_freq(config, R), T, dtype)

    def lin(x, name):
        return x @ W[name + '.weight'].T + W[name + '.bias']

    def ln(x, name):
        return H.layer_norm(x, W[name + '.weight'], W[name + '.bias'], eps)

    def rope(t):                                          # t [NH, T, HS]: rotate the first R dims only
        r, rest = t[..., :R], t[..., R:]
        return torch.cat((r * cos + H.rotate_half(r) * sin, rest), dim=-1)

    def attn(h, p):
        qkv = lin(h, p + 'attention.query_key_value').view(T, NH, 3 * HS).transpose(0, 1)
        q, k, v = qkv.chunk(3, dim=-1)
        y = attention(rope(q), rope(k), v).transpose(0, 1).reshape(T, C)
        return lin(y, p + 'attention.dense')

    def mlp(h, p):
        return lin(gelu_erf(lin(h, p + 'mlp.dense_h_to_4h')), p + 'mlp.dense_4h_to_h')

    x = W['embed_in.weight'][ids]
    hidden = []
    for i in range(L):
        p = f'layers.{i}.'
        a = attn(ln(x, p + 'input_layernorm'), p)
        if parallel:                                      # x + attn(ln1(x)) + mlp(ln2(x))
            x = x + a + mlp(ln(x, p + 'post_attention_layernorm'), p)
        else:                                             # x + attn(ln1(x)), then + mlp(ln2(that))
            x = x + a
            x = x + mlp(ln(x, p + 'post_attention_layernorm'), p)
        hidden.append(x.clone())
    x = ln(x, 'final_layer_norm')
    head = W['embed_in.weight'] if config.get('tie_word_embeddings', False) else W['embed_out.weight']
    return (x @ head.T).float(), torch.stack(hidden).float()


def forward(config, tensors, ids, dtype=torch.float32):
    mt = config.get('model_type')
    if mt == 'gpt2':
        return H.gpt2_forward(config, tensors, ids, dtype)
    if mt in ('llama', 'mistral', 'qwen2', 'qwen3'):
        return llama_family_forward(config, tensors, ids, dtype)
    if mt == 'gpt_neox':
        return neox_forward(config, tensors, ids, dtype)
    raise ValueError(f'model_type {mt!r} not supported')


def forward_dir(path, ids, dtype=torch.float32):
    config, tensors = H.load_hf_dir(path)
    return forward(config, tensors, ids, dtype)
