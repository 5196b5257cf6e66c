#!/usr/bin/python3
# spm_ref: SentencePiece goldens for test/tokenizers.test.ts, from the sentencepiece library itself.
# Run by hand with Debian's python (python3-sentencepiece 0.1.97), from the repository root:
#     /usr/bin/python3 test/ref/spm_ref.py
# Writes test/ref/spm_ref.json (small: shared-data texts are referenced by (file, byte start, byte length)),
# test/ref/spm_shakespeare.model (a tiny BPE model trained here: user-defined and control symbols, no byte
# fallback, whitespace kept, pieces spanning spaces: the corners tok512.model does not exercise), and
# test/ref/tok512_tokenizer.json: tok512.model as transformers' LlamaConverter writes it (legacy normalizer
# Prepend + Replace, merges from SentencePieceExtractor / generate_merges), re-implemented here since Debian
# has no transformers; its ids must equal sentencepiece's with remove_extra_whitespaces = false.
#
# Variants of tok512.model are made by appending protobuf fields to the ModelProto: a repeated sub-message
# merges into the first, so e.g. b'\x1a\x02\x20\x00' (normalizer_spec { remove_extra_whitespaces: false })
# flips one flag. The test applies the same bytes.
import hashlib, io, json, os, random, struct, sys
import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, '..', 'shared', 'data')
OUT = os.path.join(ROOT, 'test', 'ref')

VARIANTS = {  # name -> hex bytes appended to tok512.model
    'tok512': '',
    'keep_spaces': '1a022000',        # normalizer_spec.remove_extra_whitespaces = false (Llama's setting)
    'no_dummy': '1a021800',           # normalizer_spec.add_dummy_prefix = false
}
FILES = ['tinyshakespeare/input.txt', 'wikitext-2/valid.txt', 'wikitext-2/test.txt', 'wikitext-2/wiki.test.raw',
         'tinystories-sample/tinystories_val.txt']

TORTURE = [
    'Hello world', 'Once upon a time', '', ' ', '  ', 'a', ' a', 'a ', '  a  b  ', 'line1\r\nline2\r\n\r\nline4\n',
    '\tindent\t\ttabs\t', 'a    b     c   d', '   leading spaces', 'trailing spaces   ', '\n\n\nnewlines\n\n',
    '1234567890 3.14159 1,000,000 2024-05-20 007 ٣٤٥ ⅫⅣ', '🙂👍🏽👨\u200d👩\u200d👧\u200d👦 🇫🇷 emoji! 🙂🙂',
    '日本語のテキスト、中文文本。한국어 텍스트', "I'm you're he'll she'd we've it's can't Don't I'M YOU'RE 's 't",
    'e\u0301 café naïve Ångström', 'مرحبا بالعالم שלום עולם', 'zero\u200bwidth\u200djoiner', 'a\u00a0b\u2003c\u3000d',
    'sep\u2028arate\u2029para', 'form\x0cfeed\x0bvtab', 'nul\x00char', '\ufeffBOM at start', '<s>hi</s> <unk>',
    '<|endoftext|>GPT<|endoftext|>', '\u2581literal\u2581meta \u2581', 'a' * 3000, '9' * 500, '!!!!!!????....',
    '  \n  \n  ', 'x\ud800y\udfffz\udbff\udc00', 'Romeo<sep>Juliet <ctl> Romeo', 'ÿþ\x7f\x80\x9f',
]

def well_formed(s):  # what TextEncoder does to lone surrogates: U+FFFD
    return s.encode('utf-16', 'surrogatepass').decode('utf-16', 'replace')

def sha(ids):
    return hashlib.sha256(struct.pack('<%di' % len(ids), *ids)).hexdigest()

def read_bytes(f):
    with open(os.path.join(SHARED, f), 'rb') as fh:
        return fh.read()

def slices(data, count, length, seed):
    """(start, length) byte ranges on UTF-8 character boundaries."""
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        s = rnd.randrange(0, len(data) - length)
        while data[s] & 0xc0 == 0x80: s += 1
        e = s + length
        while e < len(data) and data[e] & 0xc0 == 0x80: e += 1
        out.append((s, e - s))
    return out

def train_small():
    lines = read_bytes('tinyshakespeare/input.txt')[:300000].decode('utf-8').split('\n')
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([l for l in lines if l.strip()]), model_writer=model, model_type='bpe',
        vocab_size=400, character_coverage=0.995, byte_fallback=False, split_by_whitespace=False,
        remove_extra_whitespaces=False, add_dummy_prefix=True, normalization_rule_name='identity',
        user_defined_symbols=['<sep>', 'Romeo'], control_symbols=['<ctl>'], allow_whitespace_only_pieces=True,
        num_threads=1, minloglevel=2)
    return model.getvalue()

def llama_tokenizer_json(sp):
    n = sp.get_piece_size()
    vocab = {sp.id_to_piece(i): i for i in range(n)}
    scores = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(n)]
    scores[:3] = [('<unk>', 0.0), ('<s>', 0.0), ('</s>', 0.0)]
    merges = []  # transformers convert_slow_tokenizer.generate_merges(vocab, vocab_scores)
    for piece, score in dict(scores).items():
        local = [(piece[:k], piece[k:], score) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        merges.extend(sorted(local, key=lambda x: (vocab[x[0]], vocab[x[1]])))
    merges = sorted(merges, key=lambda v: (v[2], len(v[0]), len(v[1])), reverse=True)
    special = lambda i, t: {'id': i, 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False,
                            'normalized': False, 'special': True}
    return {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
        'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': '\u2581'},
                       {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '\u2581'}]},
        'pre_tokenizer': None,
        'post_processor': {'type': 'TemplateProcessing', 'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}},
                           {'Sequence': {'id': 'A', 'type_id': 0}}], 'pair': [], 'special_tokens': {}},
        'decoder': {'type': 'Sequence', 'decoders': [{'type': 'Replace', 'pattern': {'String': '\u2581'}, 'content': ' '},
                    {'type': 'ByteFallback'}, {'type': 'Fuse'}, {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
                  'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False,
                  'vocab': vocab, 'merges': ['%s %s' % (a, b) for a, b, _ in merges]},
    }

def main():
    tok512 = read_bytes('stories260k/tok512.model')
    small = train_small()
    with open(os.path.join(OUT, 'spm_shakespeare.model'), 'wb') as fh:
        fh.write(small)
    with open(os.path.join(OUT, 'tok512_tokenizer.json'), 'w') as fh:
        json.dump(llama_tokenizer_json(spm.SentencePieceProcessor(model_proto=tok512)), fh, ensure_ascii=False, indent=1)
        fh.write('\n')
    procs = {k: spm.SentencePieceProcessor(model_proto=tok512 + bytes.fromhex(v)) for k, v in VARIANTS.items()}
    procs['shakespeare'] = spm.SentencePieceProcessor(model_proto=small)
    ref = {'generator': 'test/ref/spm_ref.py, sentencepiece %s' % spm.__version__, 'variants': VARIANTS,
           'torture': TORTURE, 'cases': [], 'files': [], 'decode': []}
    pieces = {k: [p.id_to_piece(i) for i in range(p.get_piece_size())] for k, p in procs.items()}
    ref['shakespeare_pieces'] = pieces['shakespeare']
    # 1. torture texts, every variant
    for i, t in enumerate(TORTURE):
        ref['cases'].append({'torture': i, 'ids': {k: p.encode(well_formed(t)) for k, p in procs.items()}})
    # 2. excerpts of every file: tok512, keep_spaces and shakespeare
    for fi, f in enumerate(FILES):
        data = read_bytes(f)
        for (s, n) in slices(data, 3, 1500, fi):
            t = data[s:s + n].decode('utf-8')
            ref['cases'].append({'file': f, 'start': s, 'length': n,
                                 'ids': {k: procs[k].encode(t) for k in ('tok512', 'keep_spaces', 'shakespeare')}})
    # 3. whole files: count and sha256 of the int32 LE ids, plus the first 32 ids
    for f in FILES:
        t = read_bytes(f).decode('utf-8')
        for k, p in procs.items():
            ids = p.encode(t)
            ref['files'].append({'file': f, 'variant': k, 'n': len(ids), 'sha256': sha(ids), 'head': ids[:32]})
    # 4. decode of random id sequences (control, unk, byte pieces, bad UTF-8 included)
    rnd = random.Random(7)
    for k in ('tok512', 'keep_spaces', 'no_dummy', 'shakespeare'):
        n = procs[k].get_piece_size()
        for _ in range(60):
            ids = [rnd.randrange(n) if rnd.random() < 0.6 else rnd.randrange(0, 40) for _ in range(rnd.randrange(1, 12))]
            ref['decode'].append({'variant': k, 'ids': ids, 'text': procs[k].decode(ids)})
    with open(os.path.join(OUT, 'spm_ref.json'), 'w') as fh:
        json.dump(ref, fh, ensure_ascii=True, separators=(',', ':'))
        fh.write('\n')
    print('wrote test/ref/spm_ref.json (%d bytes) and spm_shakespeare.model (%d bytes)' %
          (os.path.getsize(os.path.join(OUT, 'spm_ref.json')), len(small)))

if __name__ == '__main__':
    main()
