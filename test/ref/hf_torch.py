#!/usr/bin/python3
"""Independent PyTorch reference for Hugging Face GPT-2 and Llama model directories.

Library module used by make_hf_ref.py and check_inherit.py (run by hand with Debian's python3-torch
1.13 and python3-numpy; CI never runs Python). Nothing here imports `transformers` or `safetensors`:

- a minimal safetensors reader/writer (8-byte little-endian header length + JSON header with an optional
  `__metadata__` entry + raw little-endian data; dtypes F32, F16, BF16, where BF16 <-> float32 is a
  16-bit shift of the uint32 bit pattern, rounding to nearest even on write);
- a directory loader: config.json + model.safetensors, or model.safetensors.index.json (weight_map ->
  shard files); every tensor comes back as a float32 torch tensor;
- forward passes written from the math of HF's GPT2LMHeadModel and LlamaForCausalLM (eval mode, no
  cache, positions 0..T-1), returning logits [T, V] and the residual stream after every block [L, T, C].

`dtype` of the forward passes (float32 by default, as HF runs them) may be torch.float64 to get a
reference closer to exact arithmetic on the same (float32) weights.
"""
import json, math, os, struct
import numpy as np
import torch

# ---------------------------------------------------------------- safetensors

_NP = {'F32': np.dtype('<f4'), 'F16': np.dtype('<f2'), 'BF16': np.dtype('<u2')}


def bf16_bits_to_f32(u16):
    return (np.asarray(u16, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def f32_to_bf16_bits(x):
    """float32 -> bfloat16 bit patterns, round to nearest even (NaN kept quiet)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + np.uint64(0x7FFF) + ((u >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    out = rounded.astype(np.uint16)
    out[nan] = 0x7FC0
    return out


def round_to(x, dtype):
    """What a float32 array becomes after storing it as `dtype` and reading it back (float32)."""
    x = np.asarray(x, dtype=np.float32)
    if dtype == 'F32':
        return x.copy()
    if dtype == 'F16':
        return x.astype(np.float16).astype(np.float32)
    if dtype == 'BF16':
        return bf16_bits_to_f32(f32_to_bf16_bits(x)).reshape(x.shape)
    raise ValueError(dtype)


def read_safetensors(path):
    """-> (dict name -> float32 numpy array, metadata dict or None). Validates offsets."""
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack_from('<Q', data, 0)
    if n > len(data) - 8:
        raise ValueError(f'{path}: header length {n} exceeds file size {len(data)}')
    header = json.loads(data[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', None)
    base = 8 + n
    out = {}
    for name, h in header.items():
        dt = h['dtype']
        if dt not in _NP:
            raise ValueError(f'{path}: {name}: dtype {dt} not supported')
        shape = tuple(h['shape'])
        b, e = h['data_offsets']
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= b <= e <= len(data) - base) or e - b != count * _NP[dt].itemsize:
            raise ValueError(f'{path}: {name}: bad data_offsets {b},{e} for {dt} {list(shape)}')
        arr = np.frombuffer(data, dtype=_NP[dt], count=count, offset=base + b)
        arr = bf16_bits_to_f32(arr) if dt == 'BF16' else arr.astype(np.float32)
        out[name] = arr.reshape(shape)
    return out, meta


def safetensors_bytes(tensors, dtype='F32', metadata=None):
    """tensors: dict name -> array-like (float). Stored in insertion order as `dtype`."""
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        a = np.asarray(a, dtype=np.float32)
        if dtype == 'F32':
            raw = a.astype('<f4').tobytes()
        elif dtype == 'F16':
            raw = a.astype('<f2').tobytes()
        elif dtype == 'BF16':
            raw = f32_to_bf16_bits(a).astype('<u2').tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {'dtype': dtype, 'shape': list(a.shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((-len(h)) % 8)
    return struct.pack('<Q', len(h)) + h + b''.join(blobs)


def write_safetensors(path, tensors, dtype='F32', metadata=None):
    with open(path, 'wb') as f:
        f.write(safetensors_bytes(tensors, dtype, metadata))


# ---------------------------------------------------------------- directories

def load_hf_dir(path):
    """-> (config dict, dict name -> float32 torch tensor)."""
    with open(os.path.join(path, 'config.json')) as f:
        config = json.load(f)
    single = os.path.join(path, 'model.safetensors')
    index = os.path.join(path, 'model.safetensors.index.json')
    tensors = {}
    if os.path.exists(single):
        arrs, _ = read_safetensors(single)
        tensors.update(arrs)
    elif os.path.exists(index):
        with open(index) as f:
            wm = json.load(f)['weight_map']
        for shard in sorted(set(wm.values())):
            arrs, _ = read_safetensors(os.path.join(path, shard))
            for k, v in arrs.items():
                if wm.get(k) != shard:
                    raise ValueError(f'{shard}: tensor {k} not mapped to this shard in the index')
                tensors[k] = v
        missing = set(wm) - set(tensors)
        if missing:
            raise ValueError(f'{path}: index names tensors not found in shards: {sorted(missing)[:5]}')
    else:
        raise FileNotFoundError(f'{path}: neither model.safetensors nor model.safetensors.index.json')
    return config, {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in tensors.items()}


def write_hf_dir(path, config, tensors, dtype='F32', shards=1, prefix=''):
    """Write config.json and the tensors (names get `prefix` prepended) as `shards` safetensors files
    (consecutive runs of the insertion order, split by bytes) plus an index when shards > 1."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    items = [(prefix + k, v) for k, v in tensors.items()]
    for stale in os.listdir(path):
        if stale.startswith('model') and (stale.endswith('.safetensors') or stale.endswith('.index.json')):
            os.remove(os.path.join(path, stale))
    if shards == 1:
        write_safetensors(os.path.join(path, 'model.safetensors'), dict(items), dtype, {'format': 'pt'})
        return
    size = {'F32': 4, 'F16': 2, 'BF16': 2}[dtype]
    nbytes = [int(np.prod(np.shape(v), dtype=np.int64)) * size for _, v in items]
    total, groups, acc = sum(nbytes), [[] for _ in range(shards)], 0
    for (k, v), nb in zip(items, nbytes):
        g = min(shards - 1, acc * shards // max(total, 1))
        groups[g].append((k, v))
        acc += nb
    assert all(groups), 'too few tensors for that many shards'
    weight_map = {}
    for i, g in enumerate(groups):
        fname = f'model-{i + 1:05d}-of-{shards:05d}.safetensors'
        write_safetensors(os.path.join(path, fname), dict(g), dtype, {'format': 'pt'})
        for k, _ in g:
            weight_map[k] = fname
    with open(os.path.join(path, 'model.safetensors.index.json'), 'w') as f:
        json.dump({'metadata': {'total_size': total}, 'weight_map': weight_map}, f, indent=2)
        f.write('\n')


# ---------------------------------------------------------------- GPT-2

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)       # biased variance, as torch.nn.LayerNorm
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def causal_attention(q, k, v):
    """q [NH, T, hd], k/v [NH, T, hd] -> [NH, T, hd]; softmax(q k^T / sqrt(hd)) with future masked."""
    T, hd = q.shape[1], q.shape[2]
    att = q @ k.transpose(-1, -2) / math.sqrt(hd)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    att = att.masked_fill(~mask, float('-inf'))
    return torch.softmax(att, dim=-1) @ v


def gpt2_forward(config, tensors, ids, dtype=torch.float32):
    W = {}
    for k, v in tensors.items():
        if k.startswith('transformer.'):
            k = k[len('transformer.'):]
        if k.endswith('.attn.bias') or k.endswith('.attn.masked_bias'):
            continue                                      # causal-mask buffers, not parameters
        W[k] = v.to(dtype)
    act = config.get('activation_function', 'gelu_new')
    assert act in ('gelu_new', 'gelu_pytorch_tanh'), act
    assert not config.get('scale_attn_by_inverse_layer_idx', False) and config.get('scale_attn_weights', True)
    C, NH, L = config['n_embd'], config['n_head'], config['n_layer']
    eps = config.get('layer_norm_epsilon', 1e-5)
    hd = C // NH
    ids = torch.tensor(ids, dtype=torch.long)
    T = len(ids)
    x = W['wte.weight'][ids] + W['wpe.weight'][torch.arange(T)]
    hidden = []
    for i in range(L):
        p = f'h.{i}.'
        h = layer_norm(x, W[p + 'ln_1.weight'], W[p + 'ln_1.bias'], eps)
        qkv = h @ W[p + 'attn.c_attn.weight'] + W[p + 'attn.c_attn.bias']      # Conv1D: W is (in, out)
        q, k, v = qkv.split(C, dim=-1)
        heads = lambda t: t.view(T, NH, hd).transpose(0, 1)
        y = causal_attention(heads(q), heads(k), heads(v)).transpose(0, 1).reshape(T, C)
        x = x + (y @ W[p + 'attn.c_proj.weight'] + W[p + 'attn.c_proj.bias'])
        h = layer_norm(x, W[p + 'ln_2.weight'], W[p + 'ln_2.bias'], eps)
        h = gelu_new(h @ W[p + 'mlp.c_fc.weight'] + W[p + 'mlp.c_fc.bias'])
        x = x + (h @ W[p + 'mlp.c_proj.weight'] + W[p + 'mlp.c_proj.bias'])
        hidden.append(x.clone())
    x = layer_norm(x, W['ln_f.weight'], W['ln_f.bias'], eps)
    tied = config.get('tie_word_embeddings', True)
    head = W['wte.weight'] if tied else W['lm_head.weight']   # tied: HF ignores a stored lm_head.weight
    logits = x @ head.T
    return logits.float(), torch.stack(hidden).float()


# ---------------------------------------------------------------- Llama

def rms_norm(x, w, eps):
    x32 = x.float() if x.dtype != torch.float64 else x
    y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return w * y.to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_cos_sin(T, hd, theta, dtype):
    ft = torch.float64 if dtype == torch.float64 else torch.float32
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).to(ft) / hd))
    freqs = torch.outer(torch.arange(T, dtype=inv_freq.dtype), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def llama_forward(config, tensors, ids, dtype=torch.float32):
    W = {(k[len('model.'):] if k.startswith('model.') else k): v.to(dtype) for k, v in tensors.items()}
    assert config.get('hidden_act', 'silu') == 'silu'
    assert not config.get('rope_scaling'), 'rope_scaling not implemented'
    C, NH, L = config['hidden_size'], config['num_attention_heads'], config['num_hidden_layers']
    KVH = config.get('num_key_value_heads') or NH
    hd = config.get('head_dim') or C // NH
    eps = config.get('rms_norm_eps', 1e-6)
    theta = config.get('rope_theta', 10000.0)
    abias, mbias = config.get('attention_bias', False), config.get('mlp_bias', False)
    ids = torch.tensor(ids, dtype=torch.long)
    T = len(ids)
    cos, sin = rope_cos_sin(T, hd, theta, dtype)
    rep = NH // KVH

    def lin(x, name, bias):
        y = x @ W[name + '.weight'].T
        return y + W[name + '.bias'] if bias else y

    x = W['embed_tokens.weight'][ids]
    hidden = []
    for i in range(L):
        p = f'layers.{i}.'
        h = rms_norm(x, W[p + 'input_layernorm.weight'], eps)
        q = lin(h, p + 'self_attn.q_proj', abias).view(T, NH, hd).transpose(0, 1)
        k = lin(h, p + 'self_attn.k_proj', abias).view(T, KVH, hd).transpose(0, 1)
        v = lin(h, p + 'self_attn.v_proj', abias).view(T, KVH, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(rep, dim=0)               # repeat_kv: kv head j serves q heads j*rep..j*rep+rep-1
        v = v.repeat_interleave(rep, dim=0)
        y = causal_attention(q, k, v).transpose(0, 1).reshape(T, NH * hd)
        x = x + lin(y, p + 'self_attn.o_proj', abias)
        h = rms_norm(x, W[p + 'post_attention_layernorm.weight'], eps)
        m = torch.nn.functional.silu(lin(h, p + 'mlp.gate_proj', mbias)) * lin(h, p + 'mlp.up_proj', mbias)
        x = x + lin(m, p + 'mlp.down_proj', mbias)
        hidden.append(x.clone())
    x = rms_norm(x, W['norm.weight'], eps)
    tied = config.get('tie_word_embeddings', False)
    head = W['embed_tokens.weight'] if tied else W['lm_head.weight']
    logits = x @ head.T
    return logits.float(), torch.stack(hidden).float()


def forward(config, tensors, ids, dtype=torch.float32):
    mt = config.get('model_type')
    if mt == 'gpt2':
        return gpt2_forward(config, tensors, ids, dtype)
    if mt == 'llama':
        return llama_forward(config, tensors, ids, dtype)
    raise ValueError(f'model_type {mt!r} not supported')


def forward_dir(path, ids, dtype=torch.float32):
    config, tensors = load_hf_dir(path)
    return forward(config, tensors, ids, dtype)
