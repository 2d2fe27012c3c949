"""Fuzzes wptk's native kernels through the public API for a fixed time, optionally under AddressSanitizer.

    python tools/fuzz_native.py --seconds 60                # the in-place build
    python tools/fuzz_native.py --asan --seconds 300        # first builds the kernels with ASan into build/asan

Targets: the tokenizers (random vocab files and dicts: mostly '##' pieces, duplicates, empty lines, huge tokens,
characters of every plane; random text with controls, combining marks and joiners; default, cased and
multilingual modes; tokenize, encode, encode_batch with offsets, pickling), the wptk.pretraining steps (valid
arguments, then one argument broken at random), the vocab learner, and the record encoder. Case k of seed s draws
from Random(f"{s}:{k}"), so `--seed s --case k` replays one case. A finding is an exception a call must not raise
(for valid arguments any; for broken ones anything but ValueError or TypeError) or a result that breaks an
invariant (a WordpieceTokenizer against the greedy longest match spelled out in wptk.testing, ids against
tokens, offsets inside the text, serialize against frame_examples). Under ASan a memory error stops the process
with ASan's report.
"""
import argparse
import collections
import copy
import itertools
import os
import pickle
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ASAN_DIR = REPO / "build" / "asan"
sys.path.insert(0, os.environ.get("WPTK_FUZZ_ROOT", str(REPO)))     # this checkout's wptk, or the ASan copy
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
INTERESTING = ("\u0301\u0308\u0327\U0001D165\U0001D16D\u200b\u200c\u200d\u00ad\ufe0f\u202f\u180e\u0e01\u0e48"
               "\u0e33\u4e00\u3000\x00\x7f\u0085\u2028\ud800\udfff\U0010FFFF\U0001F600\u03a3\u0130\ufb03 \t\n\r.,!#")


class Finding(Exception):
    """A result that breaks an invariant."""


def check(condition, what):
    if not condition:
        raise Finding(what)


def random_char(rng):
    roll = rng.random()
    if roll < 0.4:
        return rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ")
    if roll < 0.7:
        return rng.choice(INTERESTING)
    if roll < 0.85:
        return chr(rng.randrange(0x10000))
    return chr(rng.randrange(0x110000))


def random_word(rng, max_len=12):
    return "".join(random_char(rng) for _ in range(rng.randint(1, max_len)))


def random_text(rng):
    parts = []
    for _ in range(rng.randint(0, 20)):
        roll = rng.random()
        if roll < 0.05:
            parts.append(random_word(rng, 1) * rng.randint(150, 400))    # around max_input_chars_per_word
        else:
            parts.append(random_word(rng))
        parts.append(rng.choice([" ", " ", "  ", "\t", "\u3000", "", "\n"]))
    return "".join(parts)


def random_vocab(rng):
    """Vocab tokens in file order: some specials, then pieces of one of several styles."""
    tokens = [t for t in SPECIALS if rng.random() < 0.9]
    style = rng.choice(["pieces", "words", "mixed"])
    for _ in range(rng.randint(0, 400)):
        roll = rng.random()
        if roll < 0.01:
            token = random_word(rng, 1) * rng.randint(500, 5000)                       # a huge token
        elif style == "pieces" or style == "mixed" and roll < 0.5:
            token = "##" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 14)))
        else:
            token = random_word(rng, 6)
        tokens.append(token)
    tokens += rng.sample(tokens, min(len(tokens), rng.randint(0, 5)))               # duplicates
    tokens += [""] * rng.randint(0, 2)                                             # empty lines
    rng.shuffle(tokens)
    return [t.replace("\n", "") for t in tokens]


class Text(str):
    pass


def fuzz_tokenizer(rng, tmp):
    import wptk
    from wptk.testing import greedy_wordpiece
    tokens = random_vocab(rng)
    path = os.path.join(tmp, "vocab.txt")
    with open(path, "w", encoding="utf-8", errors="ignore") as f:      # UTF-8 has no lone surrogates
        f.write("\n".join(tokens) + "\n")
    mode = rng.choice([{}, {"do_lower_case": False}, {"strip_accents": False}, {"multilingual": True}])
    try:
        tok = wptk.FullTokenizer(path, **mode)
    except ValueError:                       # an empty vocab
        return
    texts = [random_text(rng) for _ in range(rng.randint(0, 6))]
    if rng.random() < 0.3:
        tok = pickle.loads(pickle.dumps(tok)) if rng.random() < 0.5 else copy.deepcopy(tok)
    has_unk = "[UNK]" in tok.vocab
    for text in texts:
        pieces = tok.tokenize(Text(text) if rng.random() < 0.2 else text)
        check(None not in pieces, "tokenize returned None")
        if has_unk:
            ids, offsets = tok.encode(text, offsets=True)
            check(tok.convert_ids_to_tokens(ids.tolist()) == pieces, "encode's ids are not tokenize's tokens")
            check(((0 <= offsets[:, 0]) & (offsets[:, 0] < offsets[:, 1]) & (offsets[:, 1] <= len(text))).all(),
                  "an offset outside its text")
    if has_unk:
        ids, splits, offsets = tok.encode_batch(texts, offsets=True)
        check(len(splits) == len(texts) + 1 and splits[-1] == len(ids) and offsets.shape == (len(ids), 2),
              "encode_batch's shapes")
        for text in (tok.basic_tokenizer.tokenize(t) for t in texts[:2]):
            check(all(isinstance(w, str) and w for w in text), "an empty basic token")
    vocab = {t: rng.choice([i, -i, 2**40 + i, str(i), None]) for i, t in enumerate(tokens)}
    unk = rng.choice(["[UNK]", "<unk>"])
    max_chars = rng.choice([200, 5, 0, -1])
    wp = wptk.WordpieceTokenizer(vocab, unk_token=unk, max_input_chars_per_word=max_chars)
    for text in texts:
        check(wp.tokenize(text) == greedy_wordpiece(vocab, text, unk, max_chars),
              f"WordpieceTokenizer differs from greedy longest match on {text!r}")


_PRETRAINING_TOKENIZER = {}


def pretraining_tokenizer(tmp):
    """One small-vocab tokenizer for the pretraining cases: words of a few letters, '##' pieces."""
    import wptk
    if "tok" not in _PRETRAINING_TOKENIZER:
        path = os.path.join(tmp, "pretraining-vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(SPECIALS + list("abcdefg") + ["##" + c for c in "abcdefg"] + ["ab", "##cd", "."]))
        _PRETRAINING_TOKENIZER["tok"] = wptk.FullTokenizer(path)
    return _PRETRAINING_TOKENIZER["tok"]


def broken(rng, docs, vocab_ids, config, instances, rows):
    """The arguments with one of them broken at random (the result may still be valid)."""
    from wptk import pretraining as pt
    what = rng.choice(["tokens", "sentences", "documents", "is_subword", "special", "config", "column", "rows"])
    if what == "tokens":
        docs = pt.Documents(docs.tokens[:rng.randint(0, len(docs.tokens))], docs.sentences, docs.documents)
    elif what in ("sentences", "documents"):
        array = getattr(docs, what).copy()
        if len(array):
            array[rng.randrange(len(array))] += rng.choice([-1, 1, 1000, -(2**40), 2**40])
        docs = pt.Documents(**{**vars(docs), what: rng.choice([array, array.astype(np.int32), array[:-1]])})
    elif what == "is_subword":
        vocab_ids = pt.VocabIds(**{**vars(vocab_ids), "is_subword": vocab_ids.is_subword[:rng.randint(0, 8)]})
    elif what == "special":
        name = rng.choice(["cls_id", "sep_id", "mask_id"])
        vocab_ids = pt.VocabIds(**{**vars(vocab_ids), name: rng.choice([-1, 2**31 - 1, 10**6, 19])})
    elif what == "config":
        config = pt.PretrainingConfig(max_seq_length=rng.randint(5, 300),
                                      max_predictions_per_seq=rng.randint(1, 30))
    elif what == "column" and instances is not None:
        arrays = dict(instances.arrays)
        name = rng.choice(["a_start", "a_len", "b_start", "b_len", "positions", "kinds", "random_at", "random_ids"])
        array = arrays[name].copy()
        if array.size and rng.random() < 0.7:
            flat = array.reshape(-1)
            flat[rng.randrange(flat.size)] = rng.randrange(np.iinfo(array.dtype).max + 1) \
                if array.dtype.kind == "u" else rng.randint(-(2**31), 2**31 - 1)
        else:
            array = array[:-1]
        arrays[name] = array
        instances = pt.Instances(arrays, instances.order)
    else:
        rows = rng.choice([[-1], [2**40], [0.5], np.array([[0]]), list(rows) + [len(rows) + 5]])
    return docs, vocab_ids, config, instances, rows


def fuzz_pretraining(rng, tmp):
    from wptk import pretraining as pt
    from wptk._native.records import frame_examples
    tok = pretraining_tokenizer(tmp)
    lines = [" ".join(rng.choice(["a", "b", "abcd", "fg", "gab", "x", "."]) for _ in range(rng.randint(0, 30)))
             if rng.random() < 0.85 else "" for _ in range(rng.randint(0, 80))]
    docs = pt.documents_from_lines(lines, tok)
    vocab_ids = pt.VocabIds.from_vocab(tok.vocab)
    config = pt.PretrainingConfig(max_seq_length=rng.choice([5, 6, 12, 64, 255, 256, 257, 300]),
                                  max_predictions_per_seq=rng.randint(1, 40), random_seed=rng.randrange(2**32),
                                  dupe_factor=rng.randint(1, 3), masked_lm_prob=rng.random(),
                                  short_seq_prob=rng.random(), masking=rng.choice(pt.MASKINGS))
    instances = pt.create_instances(docs, vocab_ids, config)
    rows = np.array([rng.randrange(len(instances)) for _ in range(rng.randint(0, 40))] if len(instances) else [],
                    dtype=np.int64)
    framed = frame_examples(*pt.feature_arrays(docs, instances, rows, vocab_ids, config), config.max_seq_length,
                            config.max_predictions_per_seq)
    check(bytes(pt.serialize(docs, instances, rows, vocab_ids, config, bytearray())) == framed,
          "serialize differs from frame_examples(*feature_arrays)")
    if len(instances):
        pt.instance_text(docs, instances, int(rows[0]) if len(rows) else 0, tok.inv_vocab, vocab_ids, config)
    args = broken(rng, docs, vocab_ids, config, instances, rows)
    try:
        step = rng.choice(["create", "features", "serialize"])
        if step == "create":
            pt.create_instances(*args[:3])
        elif step == "features":
            pt.feature_arrays(args[0], args[3], args[4], args[1], args[2])
        else:
            pt.serialize(args[0], args[3], args[4], args[1], args[2])
    except (ValueError, TypeError):
        pass


def fuzz_learner(rng, tmp):
    import wptk
    from wptk.vocab_learner import WordPieceLearner
    counts = collections.Counter({random_word(rng, 10): rng.randint(0, 50) for _ in range(rng.randint(0, 300))})
    tokenizer = rng.choice([None, wptk.BasicTokenizer(), wptk.BasicTokenizer(multilingual=True)])
    learner = WordPieceLearner(rng.randint(1, 600), reserved_unused=rng.randint(0, 5),
                               min_count=rng.randint(1, 3), complete_alphabets=rng.choice([0, 0, 2]))
    try:
        vocab = learner.learn(counts, tokenizer)
    except ValueError as e:          # a vocab size too small for the characters (WptkError)
        check("too small" in str(e), f"unexpected learner error {e}")
        return
    check(len(vocab.tokens) == learner.vocab_size, "learned vocab has the wrong size")


def fuzz_records(rng, tmp):
    from wptk._native.lines import blank_lines
    from wptk._native.records import _crc32c_portable, crc32c, frame_examples
    data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
    check(crc32c(data) == _crc32c_portable(data), "crc32c implementations differ")
    blank_lines(data)
    n, L, P = rng.randint(0, 5), rng.randint(0, 20), rng.randint(0, 6)

    def ints(*shape):
        return np.array([rng.randint(-(2**31), 2**31 - 1) if rng.random() < 0.2 else rng.randint(-3, 40)
                         for _ in range(int(np.prod(shape)))], dtype=np.int64).reshape(shape)
    shapes = [(n, L), (n,), (n,), (n, P), (n, P), (n,), (n,)]
    if rng.random() < 0.3:
        shapes[rng.randrange(7)] = (rng.randint(0, 5),) * rng.randint(1, 2)
    try:
        frame_examples(*(ints(*s) for s in shapes), L, P)
    except (ValueError, TypeError, OverflowError):
        pass


TARGETS = {"tokenizer": fuzz_tokenizer, "pretraining": fuzz_pretraining, "learner": fuzz_learner,
           "records": fuzz_records}


def run(seconds, seed=0, cases=None, log=None):
    """Runs cases round-robin over the targets for `seconds` (or the given case numbers); returns the number of
    cases per target and the findings [(case, target, traceback)]."""
    import warnings
    done = collections.Counter()
    findings = []
    deadline = time.monotonic() + seconds
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")         # vocab/case mismatch warnings are expected here
        for case in cases if cases is not None else itertools.count():
            if cases is None and time.monotonic() > deadline:
                break
            name = list(TARGETS)[case % len(TARGETS)]
            try:
                TARGETS[name](random.Random(f"{seed}:{case}"), tmp)
            except Exception:
                findings.append((case, name, traceback.format_exc()))
                if log:
                    log(f"finding in case {case} ({name}):\n{findings[-1][2]}")
            done[name] += 1
    return done, findings


def build_asan():
    """Builds the kernels with AddressSanitizer into ASAN_DIR (a copy of the package; the in-place build is not
    touched); returns the libasan path to preload."""
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True,
                             check=True).stdout.strip()
    if not os.path.isabs(libasan):
        sys.exit("fuzz_native: error: gcc has no libasan.so (install gcc's AddressSanitizer runtime)")
    shutil.rmtree(ASAN_DIR, ignore_errors=True)
    shutil.copytree(REPO / "wptk", ASAN_DIR / "wptk", ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"))
    env = dict(os.environ, CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g",
               LDFLAGS="-fsanitize=address")
    build = subprocess.run([sys.executable, str(REPO / "setup.py"), "-q", "build_ext", "--inplace"], cwd=ASAN_DIR,
                           env=env, capture_output=True, text=True)
    if build.returncode:
        sys.exit(f"{build.stdout}{build.stderr}fuzz_native: error: the ASan build failed")
    return libasan


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case", type=int, action="append", help="replay only this case (repeatable)")
    parser.add_argument("--asan", action="store_true",
                        help="build the kernels with AddressSanitizer into build/asan and fuzz those")
    args = parser.parse_args()
    if args.asan:
        libasan = build_asan()
        env = dict(os.environ, WPTK_FUZZ_ROOT=str(ASAN_DIR), LD_PRELOAD=libasan, PYTHONMALLOC="malloc",
                   ASAN_OPTIONS="detect_leaks=0:abort_on_error=1")
        argv = [sys.executable, __file__, "--seconds", str(args.seconds), "--seed", str(args.seed)]
        argv += [f"--case={c}" for c in args.case or ()]
        sys.exit(subprocess.run(argv, env=env).returncode)
    import wptk._native.tokenizer
    start = time.monotonic()
    done, findings = run(args.seconds, args.seed, args.case, log=lambda m: print(m, file=sys.stderr))
    print(f"fuzz_native: {sum(done.values())} cases in {time.monotonic() - start:.0f} s "
          f"({', '.join(f'{k} {v}' for k, v in done.items())}), seed {args.seed}, kernels from "
          f"{Path(wptk._native.tokenizer.__file__).parent}; {len(findings)} findings")
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
