#!/usr/bin/python3
"""Independent reference for the llama2.c tokenizer: a direct, naive Python port of run.c's `encode`.

Reads shared/data/stories260k/tok512.bin itself (layout: int32 max_token_length, then per id:
float32 score, int32 len, len bytes), encodes a fixed set of texts and writes test/ref/llama2c_tok.json,
which test/tokenizer.test.ts compares with the WASM tokenizer id for id.

Run by hand (Debian python3 with python3-numpy and python3-sentencepiece):
    /usr/bin/python3 test/ref/llama2c_tok_ref.py            # numpy-vectorised naive loop (seconds)
    /usr/bin/python3 test/ref/llama2c_tok_ref.py --literal  # pure literal run.c loop for every text (~10+ min)
Both variants run run.c's O(n) scan per merge; the numpy one only vectorises that scan (argmax returns
the first maximum, i.e. leftmost on ties, like run.c's strict `>`). The literal one is always run on the
small texts and on a 3,000-code-point prefix to show the two agree.

Texts that come from shared data are stored by (file, start, length) in code points, never copied.
Also prints, for information, how run.c's encoding compares with SentencePiece on tok512.model.

Differences from run.c that cannot be expressed in C: a text is bytes with no NUL terminator here
(run.c would stop at the first NUL); none of the texts below contains NUL.
"""
import json, os, struct, sys, time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
SHARED = os.path.abspath(os.path.join(REPO, '..', 'shared', 'data'))
TOK = 'stories260k/tok512.bin'


def read_tokenizer(path):
    data = open(path, 'rb').read()
    (max_token_length,) = struct.unpack_from('<i', data, 0)
    off, vocab, scores = 4, [], []
    while off < len(data):
        score, n = struct.unpack_from('<fi', data, off)
        off += 8
        vocab.append(data[off:off + n])
        scores.append(score)
        off += n
    assert off == len(data)
    return max_token_length, vocab, np.array(scores, dtype=np.float32)


MAX_TOKEN_LENGTH, VOCAB, SCORES = read_tokenizer(os.path.join(SHARED, TOK))
LOOKUP = {}
for i, p in enumerate(VOCAB):  # run.c bsearches a sorted copy; tok512 has no duplicate pieces
    assert p not in LOOKUP
    LOOKUP[p] = i
NEG = np.float32(-1e10)        # run.c: float best_score = -1e10; merge only if score > best_score


def str_lookup(s):
    return LOOKUP.get(s, -1)


def initial_tokens(text, bos):
    """run.c encode up to the merge loop: BOS, dummy-prefix " ", per-UTF-8-char pieces / byte fallback."""
    b = text.encode('utf-8')
    tokens = [1] if bos else []
    if len(b) > 0:
        tokens.append(str_lookup(b' '))
    buf = bytearray()
    for i, c in enumerate(b):
        if (c & 0xC0) != 0x80:
            buf = bytearray()
        buf.append(c)
        nxt = b[i + 1] if i + 1 < len(b) else 0
        if (nxt & 0xC0) == 0x80 and len(buf) < 4:
            continue
        tid = str_lookup(bytes(buf))
        if tid != -1:
            tokens.append(tid)
        else:
            tokens.extend(x + 3 for x in buf)
        buf = bytearray()
    return tokens


def encode_literal(text, bos=True, eos=False):
    """The merge loop exactly as written in run.c: rescan every adjacent pair after each merge."""
    tokens = initial_tokens(text, bos)
    while True:
        best_score, best_id, best_idx = NEG, -1, -1
        for i in range(len(tokens) - 1):
            tid = str_lookup(VOCAB[tokens[i]] + VOCAB[tokens[i + 1]])
            if tid != -1 and SCORES[tid] > best_score:
                best_score, best_id, best_idx = SCORES[tid], tid, i
        if best_idx == -1:
            break
        tokens[best_idx] = best_id
        del tokens[best_idx + 1]
    if eos:
        tokens.append(2)
    return tokens


def encode_numpy(text, bos=True, eos=False):
    """Same loop; the per-merge scan is numpy.argmax over the scores of all adjacent pairs."""
    tokens = initial_tokens(text, bos)

    def pair_score(i):
        tid = str_lookup(VOCAB[tokens[i]] + VOCAB[tokens[i + 1]])
        return SCORES[tid] if tid != -1 and not np.isnan(SCORES[tid]) else -np.inf

    pair = np.array([pair_score(i) for i in range(len(tokens) - 1)], dtype=np.float32)
    while len(pair):
        i = int(np.argmax(pair))  # first index of the maximum == leftmost on ties
        if not pair[i] > NEG:
            break
        tokens[i] = str_lookup(VOCAB[tokens[i]] + VOCAB[tokens[i + 1]])
        del tokens[i + 1]
        pair = np.delete(pair, i)
        if i > 0:
            pair[i - 1] = pair_score(i - 1)
        if i < len(pair):
            pair[i] = pair_score(i)
    if eos:
        tokens.append(2)
    return tokens


TORTURE = ('Hello,\r\nworld!\r\n\tTabs\t\tand    runs of   spaces,  double  spaces.\n\n\n'
           'Digits 0123456789 and 3.14159, 1,000,000; 2024-01-31.\n'
           'Emoji 🙂 👍🏽 and CJK 你好，世界 and accents: café naïve Ångström Zoë façade crème brûlée.\n'
           'A lone <0x41> literal, <0xE4> too, <unk> and <s> </s> markers.\n'
           '“Curly quotes” – dashes — ellipsis… non\u00a0breaking\u200aspace € ™ ñ â.\n'
           '   leading and trailing   ')
SMALL = [
    ('once', 'Once upon a time'),
    ('torture', TORTURE),
    ('empty', ''),
    ('space', ' '),
    ('spaces', '     '),
    ('newline', '\n'),
    ('crlf', 'a\r\nb\r\n'),
    ('emoji', '🙂'),
    ('cjk', '你好'),
    ('lone_byte_literal', '<0x41>'),
    ('bos_literal', '\n<s>\n'),
]
SLICES = [
    ('tinystories_60k', 'tinystories-sample/tinystories_val.txt', 0, 60000),
    ('tinyshakespeare_20k', 'tinyshakespeare/input.txt', 100000, 20000),
]


def slice_text(file, start, length):
    # newline='' keeps the bytes as they are (no universal-newline translation); slices are in code points
    with open(os.path.join(SHARED, file), encoding='utf-8', newline='') as f:
        return f.read()[start:start + length]


def main():
    literal_all = '--literal' in sys.argv
    cases = []
    for name, text in SMALL:
        ids = encode_literal(text)
        assert ids == encode_numpy(text), name
        cases.append(({'name': name, 'text': text}, text, ids))
    prefix = slice_text(SLICES[0][1], 0, 3000)
    assert encode_literal(prefix) == encode_numpy(prefix)
    print('literal run.c loop == numpy loop on the small texts and a 3,000-code-point prefix')
    for name, file, start, length in SLICES:
        text = slice_text(file, start, length)
        t0 = time.time()
        ids = encode_numpy(text)
        if literal_all:
            assert encode_literal(text) == ids, name
        print(f'{name}: {len(text)} code points -> {len(ids)} ids ({time.time() - t0:.1f} s)')
        cases.append(({'name': name, 'file': file, 'start': start, 'length': length, 'unit': 'code points'}, text, ids))
    assert len(cases[len(SMALL)][2]) == 28770, 'golden/SOURCE.md: the 60,000-char tinystories prefix is 28,770 ids'
    assert cases[0][2] == [1, 403, 407, 261, 378]

    compare_sentencepiece(cases)

    out = os.path.join(HERE, 'llama2c_tok.json')
    with open(out, 'w', encoding='utf-8') as f:
        f.write('{"about":' + json.dumps(
            'llama2.c run.c encode (bos=true, eos=false) of tok512.bin, written by test/ref/llama2c_tok_ref.py; '
            'file/start/length texts are code-point slices of shared/data files') + ',\n')
        f.write('"tokenizer":' + json.dumps(TOK) + ',\n"cases":[\n')
        rows = []
        for meta, _, ids in cases:
            rows.append(json.dumps(dict(meta, n=len(ids), ids=ids), ensure_ascii=False, separators=(',', ':')))
        f.write(',\n'.join(rows) + '\n]}\n')
    print('wrote', out, os.path.getsize(out), 'bytes')


def compare_sentencepiece(cases):
    try:
        import sentencepiece as spm
    except ImportError:
        print('sentencepiece not installed: skipping the comparison')
        return
    sp = spm.SentencePieceProcessor(model_file=os.path.join(SHARED, 'stories260k/tok512.model'))
    print('run.c encode vs SentencePiece tok512.model ([BOS] + sp.encode(text)):')
    for meta, text, ids in cases:
        sp_ids = [1] + sp.encode(text)
        if sp_ids == ids:
            print(f'  {meta["name"]}: identical ({len(ids)} ids)')
            continue
        k = next((i for i in range(min(len(ids), len(sp_ids))) if ids[i] != sp_ids[i]), min(len(ids), len(sp_ids)))
        show = lambda xs: [VOCAB[x].decode('utf-8', 'replace') if 0 <= x < len(VOCAB) else x for x in xs]
        print(f'  {meta["name"]}: DIFFER run.c {len(ids)} ids, sentencepiece {len(sp_ids)} ids; first at {k}: '
              f'run.c {show(ids[k:k + 6])} vs sp {show(sp_ids[k:k + 6])}; '
              f'sp decode round-trips: {sp.decode(sp_ids[1:]) == text}')


if __name__ == '__main__':
    main()
