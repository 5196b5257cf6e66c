# PyTorch peer for `npm run bench` (bench/torch_peer.mjs) and bench/device.sh: a GPT-2 training step written
# the way PyTorch users write it (eager f32; LayerNorm, GELU tanh, causal attention through
# F.scaled_dot_product_attention where torch has it (>= 2.0), else the masked softmax; tied head; AdamW with
# decay on matrices and embeddings only, a cosine learning rate, clip), one loss readback a step.
#   blas            one JSON line: torch version, the BLAS library torch's sgemm_ binds to, the threads, and
#                   a 1024^3 matmul's GFLOP/s (best of 5) at those threads
#   step SPEC       one JSON line per setting: ms/step and tokens/s after `warmup` untimed steps, and the
#                   parameter count. SPEC is JSON: {cfg (a bench/configs.mjs config), B, T, steps, warmup,
#                   device: cpu | cuda | auto (the default: cuda where present; cuda runs f32 with TF32 off, then
#                   on, then bf16 autocast (TF32 on for what stays f32); settings: a list of those to run),
#                   opt: the Trainer's TRAIN_DEFAULTS (lr, minLr, beta1, beta2, eps, wd, clip are read)}
# Threads: torch.set_num_threads does not reach OpenBLAS's own pool, so the caller sets OMP_NUM_THREADS and
# OPENBLAS_NUM_THREADS, and BENCH_THREADS here sets both torch's and (through its C API) OpenBLAS's count.
import ctypes, json, math, os, sys, time
import torch
import torch.nn.functional as F


def set_threads():
    n = int(os.environ.get('BENCH_THREADS', '0'))
    if n > 0:
        torch.set_num_threads(n)
        ob = openblas()
        if ob: ob.openblas_set_num_threads(n)


def torch_cpu_lib():
    """the loaded libtorch_cpu (whose sgemm_ binding is the one torch's matmuls take), or None"""
    for line in open('/proc/self/maps'):
        path = line.split()[-1]
        if 'libtorch_cpu' in path: return ctypes.CDLL(path)
    return None


def sgemm_file():
    """the file that defines the sgemm_ libtorch_cpu binds to (its dependencies searched in load order)"""
    lib = torch_cpu_lib()
    if lib is None: return None
    try: addr = ctypes.cast(lib.sgemm_, ctypes.c_void_p).value
    except AttributeError: return None

    class DlInfo(ctypes.Structure):
        _fields_ = [('fname', ctypes.c_char_p), ('fbase', ctypes.c_void_p), ('sname', ctypes.c_char_p), ('saddr', ctypes.c_void_p)]
    info = DlInfo()
    if not ctypes.CDLL(None).dladdr(ctypes.c_void_p(addr), ctypes.byref(info)): return None
    return os.path.realpath(info.fname.decode())


def openblas():
    f = sgemm_file()
    if not f or 'openblas' not in f: return None
    lib = torch_cpu_lib()
    return lib if hasattr(lib, 'openblas_get_config') else None


def blas_name():
    f, cfg = sgemm_file(), torch.__config__.show()
    ob = openblas()
    if ob:
        ob.openblas_get_config.restype = ctypes.c_char_p
        return ob.openblas_get_config().decode().split(' NO_')[0].split(' USE_')[0] + (' pthread' if 'pthread' in f else ' openmp' if 'openmp' in f else ''), f
    if f and ('/blas/' in f or 'netlib' in f): return 'netlib (reference BLAS)', f
    if f: return os.path.basename(f), f
    return ('MKL' if 'MKL' in cfg and 'BLAS_INFO=mkl' in cfg else 'unknown'), None


def blas():
    set_threads()
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(2): a @ b
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t0)
    name, path = blas_name()
    ob = openblas()
    print(json.dumps({'torch': torch.__version__, 'blas': name, 'blas_path': path, 'threads': torch.get_num_threads(),
                      'blas_threads': ob.openblas_get_num_threads() if ob else None, 'sgemm_1024_gflops': round(2 * 1024 ** 3 / best / 1e9, 2)}), flush=True)


def step(spec):
    cfg, B, T, STEPS, WARMUP, dev, o = spec['cfg'], spec['B'], spec['T'], spec['steps'], spec.get('warmup', 2), spec.get('device', 'auto'), spec['opt']
    if dev == 'auto': dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    if cfg['family'] != 'gpt2' or not cfg['tiedEmbeddings'] or cfg['nKvHeads'] != cfg['nHeads']:
        sys.exit('torch_gpt2_step.py: only GPT-2 configs with a tied head and nKvHeads = nHeads')
    V, C, HID, L, H, MAXT, EPS = cfg['vocabSize'], cfg['dim'], cfg['hiddenDim'], cfg['nLayers'], cfg['nHeads'], cfg['maxSeqLen'], cfg['normEps']
    set_threads()
    sdpa = hasattr(F, 'scaled_dot_product_attention')
    mask = torch.full((T, T), float('-inf'), device=dev).triu(1)

    def attend(q, k, v):
        if sdpa: return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return ((q @ k.transpose(-1, -2)) / math.sqrt(C // H) + mask).softmax(-1) @ v

    def model():
        g = torch.Generator().manual_seed(0)
        p = lambda *s: (torch.randn(*s, generator=g) * 0.02).to(dev).requires_grad_(True)
        ones = lambda n: torch.ones(n, device=dev, requires_grad=True)
        zeros = lambda n: torch.zeros(n, device=dev, requires_grad=True)
        P = {'wte': p(V, C), 'wpe': p(MAXT, C), 'lnfw': ones(C), 'lnfb': zeros(C)}
        blocks = [dict(ln1w=ones(C), ln1b=zeros(C), qkvw=p(3 * C, C), qkvb=zeros(3 * C), pw=p(C, C), pb=zeros(C), ln2w=ones(C), ln2b=zeros(C),
                       fw=p(HID, C), fb=zeros(HID), fpw=p(C, HID), fpb=zeros(C)) for _ in range(L)]
        return P, blocks

    def loss(P, blocks, x, y):
        h = P['wte'][x] + P['wpe'][:T]
        for b in blocks:
            q, k, v = F.linear(F.layer_norm(h, (C,), b['ln1w'], b['ln1b'], EPS), b['qkvw'], b['qkvb']).split(C, -1)
            q, k, v = [z.view(B, T, H, C // H).transpose(1, 2) for z in (q, k, v)]
            h = h + F.linear(attend(q, k, v).transpose(1, 2).reshape(B, T, C), b['pw'], b['pb'])
            h = h + F.linear(F.gelu(F.linear(F.layer_norm(h, (C,), b['ln2w'], b['ln2b'], EPS), b['fw'], b['fb']), approximate='tanh'), b['fpw'], b['fpb'])
        logits = F.linear(F.layer_norm(h, (C,), P['lnfw'], P['lnfb'], EPS), P['wte'])
        return F.cross_entropy(logits.view(-1, V), y.reshape(-1))

    def run(setting):
        tf32, bf16 = setting in ('tf32', 'bf16-autocast'), setting == 'bf16-autocast'
        if dev == 'cuda':
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
        P, blocks = model()
        params = list(P.values()) + [t for b in blocks for t in b.values()]
        opt = torch.optim.AdamW([{'params': [t for t in params if t.dim() >= 2], 'weight_decay': o['wd']},
                                 {'params': [t for t in params if t.dim() < 2], 'weight_decay': 0.0}],
                                lr=o['lr'], betas=(o['beta1'], o['beta2']), eps=o['eps'])
        g = torch.Generator().manual_seed(1)
        total = WARMUP + STEPS

        def one(s):
            lr = o['minLr'] + 0.5 * (o['lr'] - o['minLr']) * (1 + math.cos(math.pi * s / total))   # cosine, as the Trainer
            for grp in opt.param_groups: grp['lr'] = lr
            d = torch.randint(0, V, (B, T + 1), generator=g).to(dev)
            with torch.autocast(dev, dtype=torch.bfloat16, enabled=bf16):
                l = loss(P, blocks, d[:, :-1], d[:, 1:])
            opt.zero_grad(set_to_none=True)
            l.backward()
            torch.nn.utils.clip_grad_norm_(params, o['clip'])
            opt.step()
            return l.item()   # one sync a step, as the package's one readback

        for s in range(WARMUP): one(s)
        if dev == 'cuda': torch.cuda.synchronize()
        t0 = time.perf_counter()
        for s in range(STEPS): last = one(WARMUP + s)
        dt = (time.perf_counter() - t0) / STEPS
        ob = openblas() if dev == 'cpu' else None
        print(json.dumps({'ref': 'pytorch-eager-' + ('bf16-autocast' if bf16 else 'f32'), 'setting': setting, 'torch': torch.__version__,
                          'device': torch.cuda.get_device_name() if dev == 'cuda' else 'cpu', 'tf32': tf32 if dev == 'cuda' else None, 'threads': torch.get_num_threads(), 'blas_threads': ob.openblas_get_num_threads() if ob else None,
                          'attention': 'sdpa' if sdpa else 'masked softmax', 'B': B, 'T': T, 'steps': STEPS,
                          'ms_per_step': round(dt * 1000, 2), 'tokens_per_s': round(B * T / dt, 1), 'params': sum(t.numel() for t in params),
                          'loss': round(last, 4)}), flush=True)

    for setting in spec.get('settings', ['f32', 'tf32', 'bf16-autocast'] if dev == 'cuda' else ['f32']): run(setting)


if __name__ == '__main__':
    if sys.argv[1:2] == ['blas']: blas()
    elif sys.argv[1:2] == ['step'] and len(sys.argv) == 3: step(json.loads(sys.argv[2]))
    else: sys.exit('usage: torch_gpt2_step.py blas | step SPEC_JSON')
