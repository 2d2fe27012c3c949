"""Helpers shared by wptk's tests, benchmarks and tools (as numpy.testing is numpy's): the shared reference data,
the reference implementation as an oracle, and wptk run as a user runs it.

The reference is Google BERT's ``tokenization.py`` and ``create_pretraining_data.py`` as shipped on PyPI by
``bert-tensorflow==1.0.4`` (package ``bert``). It imports ``tensorflow.compat.v1`` and defines an absl flag
(``--preserve_unused_tokens``, default False) that it reads on every ``tokenize`` call, so absl's flags must be
parsed once before it is used; ``reference_module`` and ``reference_pretraining_module`` do that (only if nothing
has parsed them yet).

Caveat: bert-tensorflow's ``load_vocab`` skips duplicate tokens (first occurrence wins, ids compacted), whereas
google-research/bert at eedf571 gives every line its line number as id (the last duplicate wins). Token
*strings* are the same either way, so compare tokens against this oracle, never its ids; ids come from
``vocab_line_ids`` (id = line number, split on ``\\n`` only).

The shared data lives at ``../shared/data`` beside REPO_ROOT, or wherever ``$WPTK_SHARED_DATA`` points.
Nothing here imports pytest, TensorFlow or the reference at import time: the functions that need them do.
"""
import functools
import os
import random
import shlex
import subprocess
import sys
from pathlib import Path

# The checkout this wptk runs from (its tests/, benchmarks/ and the shared data beside it).
REPO_ROOT = Path(__file__).resolve().parents[1]

# Vocab files in shared/data/vocab/, by short name.
VOCABS = {
    "uncased": "bert-base-uncased.vocab.txt",
    "cased": "bert-base-cased.vocab.txt",
    "multi_cased": "bert-base-multilingual-cased.vocab.txt",
    "chinese": "bert-base-chinese.vocab.txt",
}

# The golden pretraining cases that must exist in shared/data/golden/pretraining.
VISIBLE_CASES = ["austen_defaults", "austen_wwm", "bible_cased_512", "multilingual_wwm"]


def shared_data():
    """Returns the shared data directory as a Path, or None where it is absent."""
    env = os.environ.get("WPTK_SHARED_DATA")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


def require_shared():
    """Returns the shared data Path; skips the calling test (pytest) where it is absent."""
    path = shared_data()
    if path is None:
        import pytest

        where = os.environ.get("WPTK_SHARED_DATA") or str(Path("..") / "shared" / "data")
        pytest.skip("../shared/data not found: looked for %s (set WPTK_SHARED_DATA to override)" % where)
    return path


def vocab_path(name):
    """Path of a shared vocab, by short name (see VOCABS) or file name; None if the shared data is absent."""
    root = shared_data()
    if root is None:
        return None
    return root / "vocab" / VOCABS.get(name, name)


def _parse_absl_flags():
    """Parses absl's flags (the reference reads them) unless someone already has."""
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS(["x"])


@functools.lru_cache(maxsize=None)
def reference_module():
    """The reference module ``bert.tokenization`` (imported once, flags parsed)."""
    from bert import tokenization  # defines --preserve_unused_tokens

    _parse_absl_flags()
    return tokenization


@functools.lru_cache(maxsize=None)
def reference_pretraining_module():
    """The reference module ``bert.create_pretraining_data`` (imported once, flags parsed)."""
    from bert import create_pretraining_data

    _parse_absl_flags()
    return create_pretraining_data


@functools.lru_cache(maxsize=None)
def _reference_tokenizer(vocab_file, do_lower_case):
    return reference_module().FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case)


def reference_tokenizer(vocab_file, do_lower_case=True):
    """A cached reference ``FullTokenizer`` for (vocab file, do_lower_case); compare its tokens, not its ids."""
    return _reference_tokenizer(str(vocab_file), bool(do_lower_case))


def reference_instances(ref, ref_tokenizer, path, config):
    """The reference's training instances of the text file `path` with a ``PretrainingConfig``'s settings, drawn
    from ``random.Random(config.random_seed)`` as its main() does; `ref` is ``reference_pretraining_module()``."""
    rng = random.Random(config.random_seed)
    return ref.create_training_instances([str(path)], ref_tokenizer, config.max_seq_length, config.dupe_factor,
                                         config.short_seq_prob, config.masked_lm_prob,
                                         config.max_predictions_per_seq, rng)


@functools.lru_cache(maxsize=None)
def _vocab_line_ids(vocab_file):
    ids = {}
    with open(vocab_file, "rb") as f:
        data = f.read().decode("utf-8", "ignore")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for i, line in enumerate(lines):
        ids[line.strip()] = i  # google-research/bert: id = line number, the last duplicate wins
    return ids


def vocab_line_ids(vocab_file):
    """Token -> id as google-research/bert eedf571 assigns them: id = line number (split on ``\\n``), last wins."""
    return _vocab_line_ids(str(vocab_file))


def greedy_wordpiece(vocab, text, unk="[UNK]", max_chars=200):
    """The reference WordpieceTokenizer's result, spelled out: greedy longest match first for each whitespace word
    of `text`; a word longer than `max_chars` characters, or with no match at some point, is `unk`."""
    out = []
    for word in text.split():
        if len(word) > max_chars:
            out.append(unk)
            continue
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start and (word[start:end] if start == 0 else "##" + word[start:end]) not in vocab:
                end -= 1
            if end == start:
                pieces = [unk]
                break
            pieces.append(word[start:end] if start == 0 else "##" + word[start:end])
            start = end
        out.extend(pieces)
    return out


def read_pretraining_records(paths, max_seq_length, max_predictions_per_seq, gzip=False):
    """All records of `paths` (in file order) as dicts of Python lists, parsed with TensorFlow exactly as BERT's
    run_pretraining.py parses them; skips the calling test (pytest) where TensorFlow is missing."""
    import pytest

    tf = pytest.importorskip("tensorflow", reason="TensorFlow is needed to read TFRecords as run_pretraining.py")
    spec = {
        "input_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }
    dataset = tf.data.TFRecordDataset([str(p) for p in paths], compression_type="GZIP" if gzip else "")
    dataset = dataset.map(lambda record: tf.io.parse_single_example(record, spec))
    return [{k: v.numpy().tolist() for k, v in example.items()} for example in dataset]


def run_wptk(*args, stdin=b"", max_file_bytes=None):
    """(status, stdout, stderr) of the `wptk` command. With `max_file_bytes`, writing a file past that size fails
    (RLIMIT_FSIZE; Python ignores SIGXFSZ, so write() fails with EFBIG), as it would on a full disk."""
    proc = subprocess.run([sys.executable, "-m", "wptk", *args], input=stdin, capture_output=True,
                          preexec_fn=None if max_file_bytes is None else lambda: limit_file_size(max_file_bytes))
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


def limit_file_size(max_bytes):
    """Makes writing a file past `max_bytes` fail in this process (RLIMIT_FSIZE); for a child's preexec_fn."""
    import resource
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))


def golden_cases():
    """Every case directory in golden/pretraining, so a case added there is tested too; the visible cases
    even where the shared data is absent (their tests then skip)."""
    root = shared_data()
    found = [p.name for p in (root / "golden" / "pretraining").iterdir() if p.is_dir()] if root else []
    return sorted(set(found) | set(VISIBLE_CASES))


def case_flags(case):
    """(case directory, its flags, its vocab path, max_seq_length, max_predictions_per_seq) of a golden case."""
    root = require_shared() / "golden" / "pretraining" / case
    flags = shlex.split((root / "args").read_text())
    vocab = require_shared() / "vocab" / (root / "vocab").read_text().strip()
    values = {f.split("=")[0].lstrip("-"): f.split("=", 1)[1] for f in flags if "=" in f}
    return root, flags, vocab, int(values.get("max_seq_length", 128)), int(values.get("max_predictions_per_seq", 20))
