#!/usr/bin/python3
"""PyTorch reference for `inheritune-rt train --teacher`: train_ref.py's recipe with a knowledge-distillation
term, written from the formulas (Hinton et al. 2015; torchtune's KD recipe is this form at T = 1), with autograd.

  student  stories260K's first 3 blocks (as train_ref.py)      teacher  the whole 5-block stories260K, frozen
  loss     (1 - A) * CE(student, next token) + A * T^2 * KD, each a mean over all positions, where
           full:  KD = KL(softmax(z_teacher / T) || softmax(z_student / T))
           top-K: p_k = softmax of the teacher's K largest logits / T (its K most probable ids, renormalized);
                  KD = sum_k p_k * (log p_k - log_softmax(z_student / T)[id_k])
  logged   loss (the total), ce and kd (the unweighted means), per step the mean over its G micro-batches;
           val_loss is plain next-token CE after training, as in train_ref.py

Writes test/ref/distill_ref.json: {recipe, cases: [{name, alpha, temperature, topk, losses, ce, kd, grad_norms, val_loss}]}.
Run by hand: /usr/bin/python3 test/ref/distill_ref.py   (Debian python3-torch; CPU, float32)
"""
import json, os, sys
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_inherit import read_llama2c  # noqa: E402
from llama2c_tok_ref import encode_numpy, slice_text  # noqa: E402
from train_ref import RECIPE, SHARED, lr_at, forward, forward_logits  # noqa: E402

CASES = [dict(name='full', alpha=0.5, temperature=1.0, topk=0),
         dict(name='topk', alpha=0.7, temperature=2.0, topk=8)]


def kd_term(zs, zt, T, K):
    """zs, zt [N, V] -> the mean over rows of the KD term at temperature T (whole distribution, or the teacher's top K)."""
    lq = F.log_softmax(zs / T, dim=-1)
    if K == 0:
        lp = F.log_softmax(zt / T, dim=-1)
        return (lp.exp() * (lp - lq)).sum(-1).mean()
    vals, ids = torch.topk(zt, K, dim=-1)
    lp = F.log_softmax(vals / T, dim=-1)
    return (lp.exp() * (lp - lq.gather(-1, ids))).sum(-1).mean()


def run(case, cfg, W, train, val):
    r = RECIPE
    names = ['token_embedding', 'rms_att', 'wq', 'wk', 'wv', 'wo', 'rms_ffn', 'w1', 'w2', 'w3', 'rms_final']
    per_layer = ('rms_att', 'wq', 'wk', 'wv', 'wo', 'rms_ffn', 'w1', 'w2', 'w3')
    L = r['layers']
    P = {n: (W[n][:L] if n in per_layer else W[n]).clone().float().requires_grad_(True) for n in names}
    teacher = {n: W[n].clone().float() for n in names}
    tcfg, scfg = dict(cfg, L=cfg['L']), dict(cfg, L=L)
    decay = [P[n] for n in names if n in ('token_embedding', 'wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3')]
    no_decay = [P[n] for n in names if n in ('rms_att', 'rms_ffn', 'rms_final')]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': r['wd']}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=r['lr'], betas=(r['beta1'], r['beta2']), eps=r['eps'])
    B, T, G = r['batch'], r['seq'], r['grad_accum']
    A, Tk, K = case['alpha'], case['temperature'], case['topk']
    window = lambda i: train[i * T: i * T + T + 1]
    out = dict(case, losses=[], ce=[], kd=[], grad_norms=[])
    for s in range(r['steps']):
        lr = lr_at(s, r)
        for gparam in opt.param_groups:
            gparam['lr'] = lr
        opt.zero_grad(set_to_none=True)
        tot = ce_s = kd_s = 0.0
        for m in range(G):
            first = (s * G + m) * B
            ids = torch.stack([window(first + b) for b in range(B)])
            x, y = ids[:, :-1], ids[:, 1:]
            with torch.no_grad():
                zt = forward_logits(teacher, tcfg, x).reshape(B * T, -1)
            zs = forward_logits(P, scfg, x).reshape(B * T, -1)
            ce = F.cross_entropy(zs, y.reshape(-1))
            kd = kd_term(zs, zt, Tk, K)
            loss = (1 - A) * ce + A * Tk * Tk * kd
            (loss / G).backward()
            tot += loss.item() / G; ce_s += ce.item() / G; kd_s += kd.item() / G
        norm = torch.nn.utils.clip_grad_norm_(list(P.values()), r['clip'])
        opt.step()
        out['losses'].append(tot); out['ce'].append(ce_s); out['kd'].append(kd_s); out['grad_norms'].append(norm.item())
        print(f"{case['name']} step {s}: loss {tot:.6f}  ce {ce_s:.6f}  kd {kd_s:.6f}  grad norm {norm.item():.6f}")
    with torch.no_grad():
        ids = torch.stack([val[i * T: i * T + T + 1] for i in range(r['val_windows'])])
        out['val_loss'] = forward(P, scfg, ids).item()
    print(f"{case['name']} val loss {out['val_loss']:.6f}")
    return out


def main():
    torch.manual_seed(0)
    cfg, W = read_llama2c(os.path.join(SHARED, 'stories260k/stories260K.bin'))
    train = torch.tensor(encode_numpy(slice_text(*RECIPE['train_text']), bos=True), dtype=torch.long)
    val = torch.tensor(encode_numpy(slice_text(*RECIPE['val_text']), bos=True), dtype=torch.long)
    cases = [run(c, cfg, W, train, val) for c in CASES]
    with open(os.path.join(HERE, 'distill_ref.json'), 'w') as f:
        json.dump(dict(recipe=RECIPE, cases=cases), f, indent=1)


if __name__ == '__main__':
    main()
