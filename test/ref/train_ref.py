#!/usr/bin/python3
"""PyTorch reference for `inheritune-rt train`: the same recipe, written independently with autograd.

Recipe (what test/train.test.ts runs through the CLI and compares step by step, 2e-3):
  model     stories260K (llama2.c), first 3 blocks inherited: token embedding (tied head), blocks 0..2, final norm
  data      train text = code points [60000, 160000) of tinystories_val.txt, val text = code points [0, 60000);
            each tokenized as `eval` does: BOS, then run.c's encoding of the whole text (llama2c_tok_ref.py)
  sampling  sequential: window i = tokens [i*T, i*T+T] (T+1 tokens); micro-batch m of step s uses windows
            (s*G+m)*B ... (s*G+m)*B+B-1; loss of a step = mean over its G micro-batches of the mean token loss
  optimizer AdamW(lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1) with decay only on tensors of rank >= 2
            (embedding and matrices), clip_grad_norm_(1.0) before each update; gradients of the G micro-batches
            are averaged (each micro-batch loss scaled by 1/G)
  schedule  linear warmup for `warmup` steps: lr*(s+1)/warmup; then cosine from lr to min_lr over the rest:
            min_lr + 0.5*(1+cos(pi*(s-warmup)/(steps-warmup)))*(lr-min_lr)
  val       mean next-token loss over the first `val_windows` windows of T+1 tokens of the val text, after training

Writes test/ref/train_ref.json: {recipe, losses[steps], grad_norms[steps] (before clipping), lrs[steps], val_loss}.
Run by hand: /usr/bin/python3 test/ref/train_ref.py   (Debian python3-torch 1.13; CPU, float32)
"""
import json, math, os, sys
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_inherit import read_llama2c  # noqa: E402
from llama2c_tok_ref import encode_numpy, slice_text  # noqa: E402

SHARED = os.path.abspath(os.path.join(HERE, '..', '..', '..', 'shared', 'data'))
RECIPE = dict(layers=3, steps=10, batch=4, seq=64, grad_accum=2, lr=1e-3, min_lr=1e-4, warmup=3, schedule='cosine',
              beta1=0.9, beta2=0.95, eps=1e-8, wd=0.1, clip=1.0, val_windows=8,
              train_text=['tinystories-sample/tinystories_val.txt', 60000, 100000],
              val_text=['tinystories-sample/tinystories_val.txt', 0, 60000])


def lr_at(s, r):
    if s < r['warmup']:
        return r['lr'] * (s + 1) / r['warmup']
    if r['schedule'] == 'constant':
        return r['lr']
    ratio = (s - r['warmup']) / max(1, r['steps'] - r['warmup'])
    return r['min_lr'] + 0.5 * (1 + math.cos(math.pi * ratio)) * (r['lr'] - r['min_lr'])


def forward(P, cfg, ids):
    """ids [B, T+1] -> mean cross-entropy of predicting ids[:, 1:] from ids[:, :-1] (run.c math, float32)."""
    logits = forward_logits(P, cfg, ids[:, :-1])
    y = ids[:, 1:]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def forward_logits(P, cfg, x_ids):
    """x_ids [B, T] -> logits [B, T, V] (run.c math, float32)."""
    B, T = x_ids.shape
    C, NH, KVH = cfg['dim'], cfg['NH'], cfg['KVH']
    hs = C // NH
    eps = 1e-5
    rms = lambda x, w: x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w
    freq = 1.0 / (10000.0 ** (torch.arange(0, hs, 2, dtype=torch.float32) / hs))
    ang = torch.arange(T, dtype=torch.float32)[:, None] * freq[None, :]
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]

    def rope(t):  # [B, T, h, hs], pairs (2i, 2i+1)
        a, b = t[..., 0::2], t[..., 1::2]
        return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)

    mask = torch.ones(T, T, dtype=torch.bool).tril()
    x = P['token_embedding'][x_ids]
    for l in range(cfg['L']):
        h = rms(x, P['rms_att'][l])
        q = rope((h @ P['wq'][l].T).view(B, T, NH, hs)).transpose(1, 2)          # [B, NH, T, hs]
        k = rope((h @ P['wk'][l].T).view(B, T, KVH, hs)).transpose(1, 2)         # [B, KVH, T, hs]
        v = (h @ P['wv'][l].T).view(B, T, KVH, hs).transpose(1, 2)
        k = k.repeat_interleave(NH // KVH, dim=1)
        v = v.repeat_interleave(NH // KVH, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        s = s.masked_fill(~mask, float('-inf'))
        yv = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + yv @ P['wo'][l].T
        h = rms(x, P['rms_ffn'][l])
        x = x + (torch.nn.functional.silu(h @ P['w1'][l].T) * (h @ P['w3'][l].T)) @ P['w2'][l].T
    return rms(x, P['rms_final']) @ P['token_embedding'].T                     # tied head


def main():
    r = RECIPE
    torch.manual_seed(0)
    cfg, W = read_llama2c(os.path.join(SHARED, 'stories260k/stories260K.bin'))
    K = r['layers']
    cfg = dict(cfg, L=K)
    names = ['token_embedding', 'rms_att', 'wq', 'wk', 'wv', 'wo', 'rms_ffn', 'w1', 'w2', 'w3', 'rms_final']
    per_layer = ('rms_att', 'wq', 'wk', 'wv', 'wo', 'rms_ffn', 'w1', 'w2', 'w3')   # stacked (L, ...): keep blocks 0..K-1
    P = {n: (W[n][:K] if n in per_layer else W[n]).clone().float().requires_grad_(True) for n in names}
    decay = [P[n] for n in names if n in ('token_embedding', 'wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3')]
    no_decay = [P[n] for n in names if n in ('rms_att', 'rms_ffn', 'rms_final')]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': r['wd']}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=r['lr'], betas=(r['beta1'], r['beta2']), eps=r['eps'])
    train = torch.tensor(encode_numpy(slice_text(*r['train_text']), bos=True), dtype=torch.long)
    val = torch.tensor(encode_numpy(slice_text(*r['val_text']), bos=True), dtype=torch.long)
    B, T, G = r['batch'], r['seq'], r['grad_accum']
    window = lambda i: train[i * T: i * T + T + 1]
    losses, norms, lrs = [], [], []
    for s in range(r['steps']):
        lr = lr_at(s, r)
        for gparam in opt.param_groups:
            gparam['lr'] = lr
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for m in range(G):
            first = (s * G + m) * B
            ids = torch.stack([window(first + b) for b in range(B)])
            loss = forward(P, cfg, ids)
            (loss / G).backward()
            total += loss.item() / G
        norm = torch.nn.utils.clip_grad_norm_(list(P.values()), r['clip'])
        opt.step()
        losses.append(total); norms.append(norm.item()); lrs.append(lr)
        print(f'step {s}: loss {total:.6f}  grad norm {norm.item():.6f}  lr {lr:.6g}')
    with torch.no_grad():
        W_ = r['val_windows']
        ids = torch.stack([val[i * T: i * T + T + 1] for i in range(W_)])
        val_loss = forward(P, cfg, ids).item()
    print(f'val loss {val_loss:.6f} ({len(train)} train tokens, {len(val)} val tokens)')
    out = dict(recipe=r, losses=losses, grad_norms=norms, lrs=lrs, val_loss=val_loss, train_tokens=len(train), val_tokens=len(val))
    with open(os.path.join(HERE, 'train_ref.json'), 'w') as f:
        json.dump(out, f, indent=1)


if __name__ == '__main__':
    main()
