# PyTorch eager f32 reference for `npm run bench`'s GPT-2 124M row: the same model (12 layers, 12 heads,
# C 768, V 50257, tied head, GELU tanh, LayerNorm, AdamW), B 4, T 256, on CUDA when present (else CPU),
# with TF32 matmuls off and then on. Prints one JSON line per setting; `bench/device.sh` writes them to $OUT.
# Usage: python3 bench/torch_gpt2_step.py [B T steps]
import json, math, sys, time
import torch
import torch.nn.functional as F

B, T, STEPS = [int(x) for x in (sys.argv[1:] or [4, 256, 10])]
V, C, L, H = 50257, 768, 12, 12
dev = 'cuda' if torch.cuda.is_available() else 'cpu'


def model():
    g = torch.Generator().manual_seed(0)
    p = lambda *s: (torch.randn(*s, generator=g) * 0.02).to(dev).requires_grad_(True)
    ones = lambda n: torch.ones(n, device=dev, requires_grad=True)
    zeros = lambda n: torch.zeros(n, device=dev, requires_grad=True)
    P = {'wte': p(V, C), 'wpe': p(1024, C), 'lnfw': ones(C), 'lnfb': zeros(C)}
    blocks = [dict(ln1w=ones(C), ln1b=zeros(C), qkvw=p(3 * C, C), qkvb=zeros(3 * C), pw=p(C, C), pb=zeros(C), ln2w=ones(C), ln2b=zeros(C),
                   fw=p(4 * C, C), fb=zeros(4 * C), fpw=p(C, 4 * C), fpb=zeros(C)) for _ in range(L)]
    return P, blocks


def loss(P, blocks, x, y):
    h = P['wte'][x] + P['wpe'][:T]
    for b in blocks:
        q, k, v = F.linear(F.layer_norm(h, (C,), b['ln1w'], b['ln1b']), b['qkvw'], b['qkvb']).split(C, -1)
        q, k, v = [z.view(B, T, H, C // H).transpose(1, 2) for z in (q, k, v)]
        y1 = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        h = h + F.linear(y1, b['pw'], b['pb'])
        h = h + F.linear(F.gelu(F.linear(F.layer_norm(h, (C,), b['ln2w'], b['ln2b']), b['fw'], b['fb']), approximate='tanh'), b['fpw'], b['fpb'])
    logits = F.linear(F.layer_norm(h, (C,), P['lnfw'], P['lnfb']), P['wte'])
    return F.cross_entropy(logits.view(-1, V), y.reshape(-1))


def run(tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    P, blocks = model()
    params = list(P.values()) + [t for b in blocks for t in b.values()]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    g = torch.Generator().manual_seed(1)

    def step():
        d = torch.randint(0, V, (B, T + 1), generator=g).to(dev)
        l = loss(P, blocks, d[:, :-1], d[:, 1:])
        opt.zero_grad(set_to_none=True)
        l.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return l.item()   # one sync per step, as the package's one readback

    for _ in range(2): step()
    if dev == 'cuda': torch.cuda.synchronize()
    t0 = time.time()
    for _ in range(STEPS): last = step()
    dt = (time.time() - t0) / STEPS
    n = sum(p.numel() for p in params) - 1024 * C + T * C   # positions used: T rows of wpe
    print(json.dumps({'ref': 'pytorch-eager-f32', 'device': torch.cuda.get_device_name() if dev == 'cuda' else 'cpu', 'tf32': tf32,
                      'torch': torch.__version__, 'B': B, 'T': T, 'ms_per_step': round(dt * 1000, 2), 'tokens_per_s': round(B * T / dt, 1),
                      'params': n, 'loss': round(last, 4)}), flush=True)


run(False)
if dev == 'cuda': run(True)
