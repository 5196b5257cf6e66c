#!/usr/bin/python3
"""Independent PyTorch reference for src/tasks/score.ts: lm-evaluation-harness zero-shot scoring of stories260K (run by hand).

    /usr/bin/python3 test/ref/tasks_ref.py [N]      # N items per task (default 200); wikitext: its first 3 pages

Writes test/ref/tasks_ref.json: per task the metrics and, per item, the loglikelihood of every choice, so that
test/tasks.test.ts can check src/tasks/score.ts item by item. Written from the harness's own definitions, request by
request, with no batching (Debian python3 + python3-torch 1.13, numpy):
  - files and prompts: shared/data/*/SOURCE.md and the harness task configs (lambada_openai, piqa, arc_easy,
    boolq, winogrande (partial scoring), hellaswag, wikitext (document-level pages, wikitext_detokenizer));
  - requests: HFLM._encode_pair (trailing context whitespace moves to the continuation; whole = enc(ctx+cont),
    cont_enc = whole[len(enc(ctx)):]) with BOS on both encodings; input (ctx+cont)[-(512+1):][:-1];
    loglikelihood = sum of log_softmax at the continuation tokens; greedy = every continuation token is argmax;
  - wikitext: utils.get_rolling_token_windows(context_len=1) + make_disjoint_window, prefix = BOS, page tokens
    without BOS; word_perplexity = exp(-sum ll / sum words), words = len(re.split(r"\\s+", page)) of the
    original page, bytes = len(page.encode()); bits_per_byte = -sum ll / sum bytes / ln 2;
  - metrics (lm_eval/api/task.py): acc = argmax of ll == gold, acc_norm = argmax of ll / len(choice) (Python
    len: code points, the choice without its leading space); lambada acc = mean greedy, ppl = exp(-mean ll).
Model and tokenizer come from the repo's other references: check_inherit.read_llama2c / llama2c_forward (float64
math, float32 logits) and llama2c_tok_ref.encode_numpy (run.c encode).
"""
import json, math, os, re, sys, time
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_inherit import read_llama2c, llama2c_forward  # noqa: E402
from llama2c_tok_ref import encode_numpy  # noqa: E402

SHARED = os.path.abspath(os.path.join(HERE, '..', '..', '..', 'shared', 'data'))
MAX_LEN = 512   # stories260K seq_len
BOS = 1
ACC_NORM = {'piqa', 'arc_easy', 'hellaswag'}


# ---------------------------------------------------------------- data -> (context, continuation) requests

def read(folder, name):
    with open(os.path.join(SHARED, folder, name), encoding='utf-8', newline='') as f:
        return f.read()


def jsonl(folder, name):
    return [json.loads(line) for line in read(folder, name).split('\n') if line.strip()]


def docs_lambada():
    return [dict(req=[(d['context'], ' ' + d['continuation'])], choices=[d['continuation']], gold=0)
            for d in jsonl('lambada-openai', 'lambada_openai.jsonl')]


def docs_piqa():
    labels = read('piqa', 'valid-labels.lst').split()
    out = []
    for d, y in zip(jsonl('piqa', 'valid.jsonl'), labels):
        ctx = 'Question: ' + d['goal'] + '\nAnswer:'
        out.append(dict(req=[(ctx, ' ' + d['sol1']), (ctx, ' ' + d['sol2'])], choices=[d['sol1'], d['sol2']], gold=int(y)))
    return out


def docs_arc_easy():
    return [dict(req=[(d['query'] + '\nAnswer:', ' ' + c) for c in d['choices']], choices=d['choices'], gold=d['gold'])
            for d in jsonl('arc-easy', 'arc_easy.jsonl')]


def docs_boolq():
    out = []
    for d in jsonl('boolq', 'boolq.jsonl'):
        assert d['query'].startswith('Passage: ')
        passage, question = d['query'][len('Passage: '):].split('\nQuestion: ', 1)
        ctx = passage + '\nQuestion: ' + question + '\nAnswer:'   # question keeps its trailing "?"
        out.append(dict(req=[(ctx, ' ' + c) for c in d['choices']], choices=d['choices'], gold=d['gold']))
    return out


def docs_winogrande():
    return [dict(req=[(c, ' ' + d['continuation']) for c in d['context_options']], choices=d['context_options'],
                 gold=d['gold']) for d in jsonl('winogrande', 'winogrande.jsonl')]


def docs_hellaswag():
    lines = read('hellaswag', 'hellaswag_val_full.txt').split('\n')
    out = []
    for i in range(0, len(lines) - 5, 6):
        ctx, gold, endings = lines[i], int(lines[i + 1]), lines[i + 2:i + 6]
        out.append(dict(req=[(ctx, ' ' + e) for e in endings], choices=endings, gold=gold))
    return out


def wikitext_pages():
    """EleutherAI/wikitext_document_level _generate_examples, on the CRLF-normalised raw test split."""
    data = read('wikitext-2', 'wiki.test.raw').replace('\r\n', '\n').split('\n')
    pages, ret = [], []
    for line in data:
        rline = line.replace('= = =', '===').replace('= =', '==').strip()
        if rline.startswith('= ') and rline.strip().endswith(' ='):
            page = '\n'.join(ret)
            if page.strip():
                pages.append(page)
            ret = []
        ret.append(line)
    pages.append('\n'.join(ret))
    return pages


def wikitext_detokenizer(string):
    """lm_eval/tasks/wikitext/preprocess_wikitext.py"""
    string = string.replace("s '", "s'")
    string = re.sub(r"/' [0-9]/", r"/'[0-9]/", string)
    string = string.replace(" @-@ ", "-")
    string = string.replace(" @,@ ", ",")
    string = string.replace(" @.@ ", ".")
    string = string.replace(" : ", ": ")
    string = string.replace(" ; ", "; ")
    string = string.replace(" . ", ". ")
    string = string.replace(" ! ", "! ")
    string = string.replace(" ? ", "? ")
    string = string.replace(" , ", ", ")
    string = re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", string)
    string = re.sub(r"\[\s*([^\]]*?)\s*\]", r"[\1]", string)
    string = re.sub(r"{\s*([^}]*?)\s*}", r"{\1}", string)
    string = re.sub(r"\"\s*([^\"]*?)\s*\"", r'"\1"', string)
    string = re.sub(r"'\s*([^']*?)\s*'", r"'\1'", string)
    string = string.replace("= = = =", "====")
    string = string.replace("= = =", "===")
    string = string.replace("= =", "==")
    string = string.replace(" " + chr(176) + " ", chr(176))
    string = string.replace(" \n", "\n")
    string = string.replace("\n ", "\n")
    string = string.replace(" N ", " 1 ")
    string = string.replace(" 's", "'s")
    return string


# ---------------------------------------------------------------- HFLM request scoring

def encode_pair(context, continuation):
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole_enc = encode_numpy(context + continuation, bos=True)
    context_enc = encode_numpy(context, bos=True)
    return context_enc, whole_enc[len(context_enc):]


class Scorer:
    def __init__(self, path):
        self.cfg, self.W = read_llama2c(path)
        self.blocks = list(range(self.cfg['L']))

    def __call__(self, context_enc, continuation_enc):
        """(loglikelihood, is_greedy, margin): margin = min over continuation tokens of
        logit[target] - max other logit (negative where the token is not the argmax)."""
        assert 0 < len(continuation_enc) <= MAX_LEN and len(context_enc) > 0
        inp = (context_enc + continuation_enc)[-(MAX_LEN + 1):][:-1]
        logits = llama2c_forward(self.cfg, self.W, inp, self.blocks)          # [T, V] float32
        rows = logits[len(inp) - len(continuation_enc):].double()
        cont = torch.tensor(continuation_enc)
        ll = torch.log_softmax(rows, -1).gather(1, cont[:, None]).sum().item()
        greedy = bool((rows.argmax(-1) == cont).all())
        target = rows.gather(1, cont[:, None])[:, 0]
        other = rows.scatter(1, cont[:, None], float('-inf')).max(-1).values
        return ll, greedy, (target - other).min().item()


def rolling_windows(tokens, prefix, max_seq_len):
    """lm_eval.utils.get_rolling_token_windows(context_len=1), then make_disjoint_window."""
    if not tokens:
        return []
    pred_len = max_seq_len
    first = min(max_seq_len, len(tokens))
    out = [([prefix] + tokens[:first - 1], tokens[:first])]
    predicted = first
    while predicted < len(tokens):
        n = min(len(tokens) - predicted, pred_len)
        end = predicted + n
        out.append((tokens[end - max_seq_len - 1:end - 1], tokens[end - n:end]))
        predicted += n
    return [(a[:len(a) - (len(b) - 1)], b) for a, b in out]


def second_gap(xs):
    s = sorted(xs, reverse=True)
    return s[0] - s[1] if len(s) > 1 else float('inf')


def run_choice_task(name, docs, score):
    items, acc, acc_norm, acc_bytes, lls_all = [], 0, 0, 0, []
    for d in docs:
        lls, toks, greedy, margin = [], [], None, None
        for ctx, cont in d['req']:
            ce, xe = encode_pair(ctx, cont)
            ll, greedy, margin = score(ce, xe)
            lls.append(ll)
            toks.append([len(ce), len(xe)])
        item = dict(ll=[round(x, 6) for x in lls], toks=toks)
        if name == 'lambada_openai':
            acc += greedy
            lls_all.append(lls[0])
            item.update(greedy=greedy, margin=round(margin, 6))
        else:
            norm = [ll / len(c) for ll, c in zip(lls, d['choices'])]
            # the SOURCE.md wording ("byte length of the continuation", i.e. with its leading space), for comparison
            by_bytes = [ll / len((' ' + c).encode('utf-8')) for ll, c in zip(lls, d['choices'])]
            pred, pred_norm = int(np.argmax(lls)), int(np.argmax(norm))
            acc += pred == d['gold']
            acc_norm += pred_norm == d['gold']
            acc_bytes += int(np.argmax(by_bytes)) == d['gold']
            item.update(gold=d['gold'], pred=pred, pred_norm=pred_norm,
                        gap=round(second_gap(lls), 6), gap_norm=round(second_gap(norm), 6),
                        norm_bytes_differs=int(np.argmax(by_bytes)) != pred_norm)
        items.append(item)
    n = len(docs)
    res = dict(task=name, n=n, acc=acc / n)
    if name == 'lambada_openai':
        res['ppl'] = math.exp(-sum(lls_all) / n)
    if name in ACC_NORM:
        res['acc_norm'] = acc_norm / n
        res['acc_norm_by_bytes_with_space'] = acc_bytes / n   # not a harness metric; see norm_bytes_differs
    return res, items


def run_wikitext(pages, score):
    items, LL, W, B = [], 0.0, 0, 0
    for page in pages:
        tokens = encode_numpy(wikitext_detokenizer(page), bos=False)
        windows = rolling_windows(tokens, BOS, MAX_LEN)
        ll = sum(score(a, b)[0] for a, b in windows)
        words, nbytes = len(re.split(r"\s+", page)), len(page.encode('utf-8'))
        items.append(dict(ll=[round(ll, 6)], words=words, bytes=nbytes, tokens=len(tokens), windows=len(windows)))
        LL, W, B = LL + ll, W + words, B + nbytes
    res = dict(task='wikitext', n=len(pages), word_perplexity=math.exp(-LL / W), byte_perplexity=math.exp(-LL / B),
               bits_per_byte=-LL / B / math.log(2))
    return res, items


def main():
    N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    score = Scorer(os.path.join(SHARED, 'stories260k', 'stories260K.bin'))
    tasks = [('lambada_openai', docs_lambada), ('piqa', docs_piqa), ('arc_easy', docs_arc_easy), ('boolq', docs_boolq),
             ('winogrande', docs_winogrande), ('hellaswag', docs_hellaswag)]
    out = dict(about='lm-evaluation-harness zero-shot scoring of stories260K, written by test/ref/tasks_ref.py '
                     '(float64 forward, float32 logits, per request); ll = loglikelihood per choice, toks = '
                     '[context tokens incl. BOS, continuation tokens] per choice; gap/gap_norm = best minus '
                     'second-best ll (ll/len); lambada margin = min over tokens of target logit - best other logit',
               model='stories260k/stories260K.bin', tokenizer='stories260k/tok512.bin', max_len=MAX_LEN, tasks={})
    for name, make in tasks:
        t0 = time.time()
        res, items = run_choice_task(name, make()[:N], score)
        res['seconds'] = round(time.time() - t0, 1)
        print(json.dumps(res))
        out['tasks'][name] = dict(result=res, items=items)
    t0 = time.time()
    res, items = run_wikitext(wikitext_pages()[:3], score)
    res['seconds'] = round(time.time() - t0, 1)
    print(json.dumps(res))
    out['tasks']['wikitext'] = dict(result=res, items=items)

    path = os.path.join(HERE, 'tasks_ref.json')
    with open(path, 'w') as f:
        f.write('{' + ',\n'.join(f'{json.dumps(k)}: {json.dumps(v)}' for k, v in out.items() if k != 'tasks'))
        f.write(',\n"tasks": {\n')
        f.write(',\n'.join(f'{json.dumps(k)}: {{"result": {json.dumps(v["result"])}, "items": [\n' +
                           ',\n'.join(json.dumps(it, separators=(',', ':')) for it in v['items']) + ']}'
                           for k, v in out['tasks'].items()))
        f.write('\n}}\n')
    print('wrote', path, os.path.getsize(path), 'bytes')


if __name__ == '__main__':
    main()
