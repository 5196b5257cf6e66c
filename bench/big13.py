# big13: the 13-block model of issue 12 (13 of OpenLLaMA-3B's 26 blocks: hidden 3200, intermediate 8640,
# 32 heads, vocab 32000, untied head; 1.82B parameters) for the GPU machine's bench, in two parts:
#   write DIR   a Hugging Face directory of random bf16 weights (std 0.02, norms 1; a hand-written
#               safetensors writer, no transformers needed) and DIR-tokens.bin beside it (not inside: the
#               CLI would take a .bin in the model directory for its tokenizer), an llm.c shard of
#               random ids for `train --text`
#   torch B T N PyTorch eager training steps of the same model (plain torch: RMSNorm, rotate-half RoPE,
#               SDPA causal attention, SwiGLU; AdamW fused), f32 weights, with TF32 off, TF32 on and bf16
#               autocast; one JSON line per setting with the step time and tokens/s
# bench/device.sh runs both and `inheritune-rt train` on DIR beside them.
# Dry runs on a CPU: BIG13_DIMS=C,H,L,NH,V (e.g. 64,172,2,4,512) shrinks the model, BIG13_DEVICE=cpu picks the device.
import json, math, os, struct, sys, time
import torch
import torch.nn.functional as F

C, H, L, NH, V = [int(x) for x in os.environ.get('BIG13_DIMS', '3200,8640,13,32,32000').split(',')]
HS = C // NH
dev = os.environ.get('BIG13_DEVICE') or ('cuda' if torch.cuda.is_available() else 'cpu')
CONFIG = {'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_size': C, 'intermediate_size': H,
          'num_hidden_layers': L, 'num_attention_heads': NH, 'num_key_value_heads': NH, 'vocab_size': V,
          'max_position_embeddings': 2048, 'rms_norm_eps': 1e-6, 'rope_theta': 10000.0, 'tie_word_embeddings': False,
          'hidden_act': 'silu', 'torch_dtype': 'bfloat16', 'bos_token_id': 1, 'eos_token_id': 2}


def shapes():
    out = [('model.embed_tokens.weight', (V, C))]
    for l in range(L):
        p = f'model.layers.{l}.'
        out.append((p + 'input_layernorm.weight', (C,)))
        out += [(f'{p}self_attn.{m}_proj.weight', (C, C)) for m in 'qkvo']
        out += [(p + 'post_attention_layernorm.weight', (C,)), (p + 'mlp.gate_proj.weight', (H, C)),
                (p + 'mlp.up_proj.weight', (H, C)), (p + 'mlp.down_proj.weight', (C, H))]
    return out + [('model.norm.weight', (C,)), ('lm_head.weight', (V, C))]


def write(d):
    import os
    os.makedirs(d, exist_ok=True)
    json.dump(CONFIG, open(f'{d}/config.json', 'w'))
    header, off = {'__metadata__': {'format': 'pt'}}, 0
    for name, s in shapes():
        n = 2 * torch.Size(s).numel()
        header[name] = {'dtype': 'BF16', 'shape': list(s), 'data_offsets': [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    g = torch.Generator(device=dev).manual_seed(0)
    with open(f'{d}/model.safetensors', 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h)
        for name, s in shapes():
            t = torch.ones(s, device=dev) if len(s) == 1 else torch.randn(s, generator=g, device=dev) * 0.02
            f.write(t.to(torch.bfloat16).view(torch.int16).cpu().numpy().tobytes())
    ids = torch.randint(0, V, (1 << 20,), generator=torch.Generator().manual_seed(1), dtype=torch.int32)
    with open(f'{d.rstrip("/")}-tokens.bin', 'wb') as f:
        f.write(struct.pack('<256i', 20240520, 1, ids.numel(), *([0] * 253)))
        f.write(ids.to(torch.int16).numpy().tobytes())  # ids < 32768: int16 bits = uint16
    print(json.dumps({'wrote': d, 'bytes': off}))


def model():
    g = torch.Generator(device=dev).manual_seed(0)
    p = lambda *s: (torch.randn(*s, generator=g, device=dev) * 0.02).requires_grad_(True)
    ones = lambda n: torch.ones(n, device=dev, requires_grad=True)
    P = {'emb': p(V, C), 'norm': ones(C), 'head': p(V, C)}
    blocks = [dict(n1=ones(C), q=p(C, C), k=p(C, C), v=p(C, C), o=p(C, C), n2=ones(C), w1=p(H, C), w3=p(H, C), w2=p(C, H)) for _ in range(L)]
    return P, blocks


def attend(q, k, v, T):
    if hasattr(F, 'scaled_dot_product_attention'): return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    mask = torch.full((T, T), float('-inf'), device=q.device).triu(1)   # torch < 2.0 (a CPU dry run)
    return ((q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1]) + mask).softmax(-1).to(v.dtype) @ v


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w


def loss(P, blocks, x, y, T):
    inv = 1.0 / (10000 ** (torch.arange(0, HS, 2, device=dev).float() / HS))
    f = torch.outer(torch.arange(T, device=dev).float(), inv)
    cos, sin = torch.cat([f.cos()] * 2, -1), torch.cat([f.sin()] * 2, -1)
    rot = lambda z: z * cos + torch.cat([-z[..., HS // 2:], z[..., :HS // 2]], -1) * sin
    h = P['emb'][x]
    B = x.shape[0]
    for b in blocks:
        a = rms(h, b['n1'])
        q, k, v = [F.linear(a, b[m]).view(B, T, NH, HS).transpose(1, 2) for m in 'qkv']
        att = attend(rot(q), rot(k), v, T).transpose(1, 2).reshape(B, T, C)
        h = h + F.linear(att, b['o'])
        a = rms(h, b['n2'])
        h = h + F.linear(F.silu(F.linear(a, b['w1'])) * F.linear(a, b['w3']), b['w2'])
    logits = F.linear(rms(h, P['norm']), P['head'])
    return F.cross_entropy(logits.view(-1, V).float(), y.view(-1))


def bench(B, T, steps):
    P, blocks = model()
    params = list(P.values()) + [t for b in blocks for t in b.values()]
    opt = torch.optim.AdamW(params, lr=1e-4, **({'fused': True} if dev == 'cuda' else {}))
    x = torch.randint(0, V, (B, T), device=dev)
    y = torch.randint(0, V, (B, T), device=dev)
    for setting in ['f32', 'tf32', 'bf16-autocast']:
        torch.backends.cuda.matmul.allow_tf32 = setting == 'tf32'
        torch.backends.cudnn.allow_tf32 = setting == 'tf32'
        times = []
        for s in range(steps + 1):
            if dev == 'cuda': torch.cuda.synchronize()
            t0 = time.time()
            with torch.autocast(dev, dtype=torch.bfloat16, enabled=setting == 'bf16-autocast'):
                l = loss(P, blocks, x, y, T)
            l.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if dev == 'cuda': torch.cuda.synchronize()
            if s: times.append(time.time() - t0)  # step 0 warms up
        ms = 1000 * sorted(times)[len(times) // 2]
        print(json.dumps({'model': '13 of OpenLLaMA-3B blocks' if (C, L) == (3200, 13) else f'dims {C},{H},{L},{NH},{V}', 'setting': setting,
                          'params': sum(t.numel() for t in params), 'B': B, 'T': T, 'step_ms': round(ms, 1),
                          'tokens_per_s': round(B * T / (ms / 1000), 1), 'loss': float(l), 'device': torch.cuda.get_device_name() if dev == 'cuda' else 'cpu'}), flush=True)


if __name__ == '__main__':
    if sys.argv[1] == 'write':
        write(sys.argv[2])
    else:
        bench(*[int(a) for a in sys.argv[2:5]])
