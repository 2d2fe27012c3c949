"""The reference tokenizer and the shared test data, for tests and benchmarks.

The reference is Google BERT's ``tokenization.py`` as shipped on PyPI by ``bert-tensorflow==1.0.4`` (module
``bert.tokenization``). It imports ``tensorflow.compat.v1`` and defines an absl flag
(``--preserve_unused_tokens``, default False) that it reads on every ``tokenize`` call, so absl's flags must be
parsed once before it is used; ``reference_tokenizer`` does that (only if nothing has parsed them yet).

Caveat: bert-tensorflow's ``load_vocab`` skips duplicate tokens (first occurrence wins, ids compacted), whereas
google-research/bert at eedf571 gives every line its line number as id (the last duplicate wins). Token
*strings* are the same either way, so compare tokens against this oracle, never its ids; ids come from
``vocab_line_ids`` (id = line number, split on ``\\n`` only).

The shared data lives at ``../shared/data`` beside the repository root, or wherever ``$WPTK_SHARED_DATA`` points.
"""
import functools
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Vocab files in shared/data/vocab/, by short name.
VOCABS = {
    "uncased": "bert-base-uncased.vocab.txt",
    "cased": "bert-base-cased.vocab.txt",
    "multi_cased": "bert-base-multilingual-cased.vocab.txt",
    "chinese": "bert-base-chinese.vocab.txt",
}


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


@functools.lru_cache(maxsize=None)
def _reference_module():
    """Imports bert.tokenization once and parses absl flags if no one has yet."""
    from absl import flags
    from bert import tokenization  # noqa: F401  (defines --preserve_unused_tokens)

    if not flags.FLAGS.is_parsed():
        flags.FLAGS(["x"])
    return tokenization


def reference_module():
    """The reference module ``bert.tokenization`` (imported once, flags parsed)."""
    return _reference_module()


@functools.lru_cache(maxsize=None)
def _reference_tokenizer(vocab_file, do_lower_case):
    return _reference_module().FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case)


def reference_tokenizer(vocab_file, do_lower_case=True):
    """A cached reference ``FullTokenizer`` for (vocab file, do_lower_case); compare its tokens, not its ids."""
    return _reference_tokenizer(str(vocab_file), bool(do_lower_case))


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
