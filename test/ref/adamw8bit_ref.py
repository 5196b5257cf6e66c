#!/usr/bin/python3
"""Float64 reference for 8-bit AdamW (test/adamw8bit.test.ts), written from the paper's algorithm:
Dettmers, Lewis, Shleifer, Zettlemoyer 2022, "8-bit Optimizers via Block-wise Quantization" (arXiv 2110.02861).

  map      dynamic tree quantization, 7 exponent bits (the paper's section 2 / bitsandbytes create_dynamic_map):
           for i = 0..6 the midpoints of linspace(0.1, 1, F+1) times 10^(i-6), F = 2^i (and their negatives) for
           the signed map of m, F = 2^(i+1) for the unsigned map of v; then 0 and 1; 256 values, sorted,
           stored as float32 (as bitsandbytes stores its maps)
  blocks   each tensor (each "layer" of a stacked one) is cut into blocks of 256 elements, the last one short;
           a block's state: 256 codes a moment and absmax(m), max(v), stored as float32
  step t   dequantize m = qmap_s[c_m] * a_m, v = qmap_u[c_v] * a_v
           torch.optim.AdamW on the dequantized moments: p *= 1 - lr*wd*rate; m = b1 m + (1-b1) g;
           v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
           requantize: a = float32(max |.|) over the block, code = argmin |x/a - qmap| (the first, i.e. the lower
           code, on a tie; 0 when a = 0)
Everything in float64 except the stored maps and absmax (float32). Inputs: random float32 tensors, including
zeros, tiny and huge gradients, values spread over many decades inside one block, and lengths that are not
multiples of 256. Per step it records the parameters (rounded to float32), the codes, the absmax and the
near ties: elements whose x/a lies within 1e-5 (relative) of the midpoint between two codes, where float32
arithmetic on the GPU may round to the other code.

Writes test/ref/adamw8bit_ref.json. Run by hand: /usr/bin/python3 test/ref/adamw8bit_ref.py
"""
import base64, json, os
import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
HYPER = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, wd=0.1)
STEPS = 5
SCALES = [1.0, 1.0, 0.5, 1.0, 1.0]   # the gradient clip factor of each step
BLOCK = 256
NEAR = 1e-5


def dynamic_map(signed):
    data = [0.0, 1.0]
    for i in range(7):
        F = 2 ** i if signed else 2 ** (i + 1)
        b = torch.linspace(0.1, 1.0, F + 1, dtype=torch.float64)
        means = (b[:-1] + b[1:]) / 2 * 10.0 ** (i - 6)
        data += means.tolist()
        if signed:
            data += (-means).tolist()
    assert len(data) == 256
    return torch.tensor(sorted(data), dtype=torch.float32).to(torch.float64)


QS, QU = dynamic_map(True), dynamic_map(False)


def quantize(x, q):
    """nearest code (lower on a tie), and whether x is within NEAR (relative) of a decision midpoint"""
    d = (x[:, None] - q[None, :]).abs()
    code = torch.argmin(d, dim=1)   # the first minimum: the lower code on a tie
    two = torch.topk(d, 2, dim=1, largest=False).values
    margin = (two[:, 1] - two[:, 0]) / 2
    near = margin <= NEAR * x.abs()
    return code, near


def b64(t):
    return base64.b64encode(t.to(torch.float32).numpy().tobytes()).decode()


def hexcodes(c):
    return bytes(c.to(torch.uint8).tolist()).hex()


# (name, n, layers, decay rate, gradient maker)
def make(gen, n, kind):
    g = torch.randn(n, generator=gen)
    if kind == 'normal':
        return g
    if kind == 'spread':   # magnitudes over ten decades inside each block
        return g * 10.0 ** (-10 * torch.rand(n, generator=gen))
    if kind == 'huge':
        return g * 1e3
    if kind == 'tiny':
        return g * 1e-7
    if kind == 'zero':
        return torch.zeros(n)
    if kind == 'sparse':   # mostly zero, a few large
        return g * (torch.rand(n, generator=gen) < 0.05) * 10
    raise ValueError(kind)


TENSORS = [('spread', 700, 1, 1.0, 'spread'), ('stack', 300, 2, 0.0, 'normal'), ('huge', 257, 1, 1.0, 'huge'),
           ('tiny', 64, 1, 0.0, 'tiny'), ('zero', 256, 1, 1.0, 'zero'), ('one', 1, 1, 0.0, 'normal'),
           ('sparse', 520, 1, 1.0, 'sparse')]


def main():
    gen = torch.Generator().manual_seed(8)
    h = HYPER
    out = dict(hyper=h, steps=STEPS, scales=SCALES, block=BLOCK, near=NEAR,
               map_signed=QS.tolist(), map_unsigned=QU.tolist(), tensors=[])
    for name, n, layers, rate, kind in TENSORS:
        N = n * layers
        p = torch.randn(N, generator=gen).to(torch.float32).to(torch.float64)
        grads = [make(gen, N, kind).to(torch.float32).to(torch.float64) for _ in range(STEPS)]
        nb = -(-n // BLOCK)
        # state per layer and block: codes (N,) for m and v, absmax (layers*nb,)
        cm = torch.full((N,), int(torch.nonzero(QS == 0)[0]), dtype=torch.long)
        cv = torch.zeros(N, dtype=torch.long)
        am, av = torch.zeros(layers * nb), torch.zeros(layers * nb)
        rec = dict(name=name, n=n, layers=layers, rate=rate, kind=kind, p0=b64(p), grads=[b64(g) for g in grads], steps=[])
        for t in range(1, STEPS + 1):
            g = grads[t - 1] * SCALES[t - 1]
            near_all = []
            ncm, ncv = cm.clone(), cv.clone()
            nam, nav = am.clone(), av.clone()
            for l in range(layers):
                for k in range(nb):
                    s = slice(l * n + k * BLOCK, l * n + min(n, (k + 1) * BLOCK))
                    bi = l * nb + k
                    m = QS[cm[s]] * am[bi]
                    v = QU[cv[s]] * av[bi]
                    p[s] *= 1 - h['lr'] * h['wd'] * rate
                    m = h['beta1'] * m + (1 - h['beta1']) * g[s]
                    v = h['beta2'] * v + (1 - h['beta2']) * g[s] ** 2
                    p[s] -= h['lr'] / (1 - h['beta1'] ** t) * m / (v.sqrt() / (1 - h['beta2'] ** t) ** 0.5 + h['eps'])
                    a_m = float(torch.tensor(m.abs().max().item(), dtype=torch.float32))
                    a_v = float(torch.tensor(v.max().item(), dtype=torch.float32))
                    nam[bi], nav[bi] = a_m, a_v
                    for (x, a, q, codes, w) in ((m, a_m, QS, ncm, 0), (v, a_v, QU, ncv, 1)):
                        xn = x / a if a > 0 else torch.zeros_like(x)
                        c, near = quantize(xn, q)
                        codes[s] = c
                        near_all += [[s.start + int(i), w] for i in torch.nonzero(near).flatten().tolist()]
            cm, cv, am, av = ncm, ncv, nam, nav
            rec['steps'].append(dict(p=b64(p), m_codes=hexcodes(cm), v_codes=hexcodes(cv),
                                     m_absmax=b64(am), v_absmax=b64(av), near=near_all))
        out['tensors'].append(rec)
    path = os.path.join(HERE, 'adamw8bit_ref.json')
    with open(path, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
    nn = sum(len(s['near']) for r in out['tensors'] for s in r['steps'])
    print(f'wrote {path}: {len(TENSORS)} tensors, {STEPS} steps, {nn} near ties')


if __name__ == '__main__':
    main()
