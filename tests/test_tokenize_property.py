"""Differential property tests: wptk.FullTokenizer against Google BERT's tokenization.py.

The reference is ``bert.tokenization`` (PyPI bert-tensorflow 1.0.4, see tests/testing.py). Hypothesis generates
text that hits the places where a native reimplementation can drift from the reference: every Unicode plane
(lone surrogates included), control and format characters that ``_clean_text`` drops, the whitespace that
``str.split`` knows but ``_is_whitespace`` does not (U+2028, U+2029), Python's context-sensitive lowercasing of
Greek capital sigma, lowercasing that changes length (U+0130), NFD plus accent stripping (with runs of combining
marks above U+FFFF in any order, whose canonical reordering decides the basic tokenizer's words), CJK ranges and
their edges, and words around WordPiece's 200-character limit.

Tokens are compared with the reference; ids are compared with the vocab file's line numbers (the id that
google-research/bert gives), and ``encode_batch`` with wptk's own ``tokenize`` + ``convert_tokens_to_ids``.

Settings are derandomized (the same examples on every run) and sized to run in well under a minute on 2 cores.
"""
import os
import unicodedata
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from wptk import testing

pytest.importorskip("bert.tokenization", reason="the reference needs bert-tensorflow (pip install wptk[test])")

# (vocab short name, do_lower_case): the released BERT checkpoints' configurations.
CONFIGS = [
    ("uncased", True),
    ("cased", False),
    ("multi_cased", False),
    ("multi_cased", True),
    ("chinese", True),
]

SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    # Sized for CI; raise it for a deeper local search, e.g. WPTK_PROPERTY_EXAMPLES=5000.
    max_examples=int(os.environ.get("WPTK_PROPERTY_EXAMPLES", "150")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


class Pair:
    """wptk's and the reference's tokenizer for one configuration."""

    def __init__(self, name, do_lower_case):
        import wptk

        path = testing.vocab_path(name)
        self.name = name
        self.do_lower_case = do_lower_case
        with warnings.catch_warnings():
            # multi_cased with do_lower_case=True is a deliberate configuration here (the reference allows it).
            warnings.simplefilter("ignore", UserWarning)
            self.wptk = wptk.FullTokenizer(str(path), do_lower_case=do_lower_case)
        self.ref = testing.reference_tokenizer(path, do_lower_case)
        self.line_ids = testing.vocab_line_ids(path)

    def __repr__(self):
        return "%s(do_lower_case=%s)" % (self.name, self.do_lower_case)


_PAIRS = {}


@pytest.fixture(scope="module", params=CONFIGS, ids=["%s-%s" % (n, "lower" if lc else "keep") for n, lc in CONFIGS])
def pair(request):
    testing.require_shared()
    if request.param not in _PAIRS:
        _PAIRS[request.param] = Pair(*request.param)
    return _PAIRS[request.param]


def check_tokens(pair, text):
    expected = pair.ref.tokenize(text)
    got = pair.wptk.tokenize(text)
    assert isinstance(got, list), type(got)
    if got != expected:
        first = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), min(len(got), len(expected)))
        raise AssertionError(
            "%r: tokenize(%r) differs from the reference at token %d:\n  wptk:      %r\n  reference: %r"
            % (pair, text, first, got[max(0, first - 3):first + 5], expected[max(0, first - 3):first + 5])
        )


# ----------------------------------------------------------------------------------------------------------------
# Building blocks.

WHITESPACE = [
    " ", "  ", "\t", "\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\xa0", "\u3000", "\u202f", "\x1c", "\x1d",
    "\x1e", "\x1f", "\x0b", "\x0c", "\u1680", "\u2000", "\u2007", "\u200a", "\u205f",
]
CONTROLS = [chr(c) for c in range(32) if chr(c) not in "\t\n\r"] + [
    "\x7f", "\x80", "\x9f", "\xad", "\u200b", "\u200c", "\u200d", "\u200e", "\u180e", "\u2060", "\u2066", "\ufeff",
    "\ufff9", "\U000e0001", "\U000e0041", "\u0600", "\u061c", "\x00", "\ufffd",
]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + [
    "\xa1", "\xbf", "\xab", "\xbb", "\u2014", "\u2013", "\u2026", "\u3002", "\u3001", "\u300c", "\u300d", "\u2018",
    "\u2019", "\u201c", "\u201d", "\xb7", "\xa7", "\xb6", "\xa8", "\xb0", "\xa9", "\u20ac", "\u037e", "\u0387",
    "\u1fef", "\u055d", "\u060c", "\u066a", "\u0f0b", "\uff01", "\uff1f", "\U0001144b",
]
COMBINING = ["\u0300", "\u0301", "\u0303", "\u0307", "\u0308", "\u0327", "\u0345", "\u0e31", "\u0e48", "\u05b8",
             "\u094d", "\u20dd", "\u0903", "\u1ab0", "\U0001d167"]
# Marks above U+FFFF with a nonzero canonical combining class. The Mc ones survive accent stripping in the order
# NFD's canonical reordering gives them, so runs of them in any order check that reordering.
SUPPLEMENTARY_MARKS = ["\U0001d165", "\U0001d166", "\U0001d16d", "\U0001d16e", "\U0001d172", "\U00016ff0",
                       "\U000111c0", "\U0001134d", "\U0001d167", "\U0001d17b", "\U0001d185", "\U0001e000",
                       "\U0001e8d0", "\U00011046", "\U000110ba", "\U00016af0"]
MARK_BASES = ["a", "A", "\xc9", "\u03a3", "\U0001d15e", "\U0001d160", "\u4e2d", ""]
CJK = [
    "\u4e2d\u6587", "\u4e00", "\u9fff", "\u3400", "\u4dbf", "\u4dc0", "\ua000", "\u3005", "\u3007", "\u2e80",
    "\u31c0", "\u30fc", "\u3072\u3089\u304c\u306a", "\u30ab\u30bf\u30ab\u30ca", "\U00020000", "\U0002a6df",
    "\U0002a6e0", "\U0002a700", "\U0002b73f", "\U0002b740", "\U0002b81f", "\U0002b820", "\U0002ceaf",
    "\U0002ceb0", "\U00030000", "\uf900", "\ufa6e", "\ufaff", "\U0002f800", "\U0002fa1d", "\U0002fa1f",
    "\U0002fa20", "\uff76\uff9e", "\uff8a\uff9f",
]
WORDISH = [
    # Greek capital sigma: Python's str.lower() makes it final (U+03C2) by context.
    "\u039f\u0394\u039f\u03a3", "\u03a3", "\u03a3.", "A\u03a3'B", "A\u03a3", "\u03a3A", "\u03c2", "\u03c3",
    "\u03a3\u0391\u03a3", "\u1f48\u0394\u03a5\u03a3\u03a3\u0395\u038e\u03a3", "A\u03a3\u0301", "A\u0301\u03a3",
    "\u0390", "\u1fbc", "\u1f88",
    # Lowercasing that changes length, titlecase and compatibility letters.
    "\u0130", "\u0131", "\u0130STANBUL", "i\u0307", "\u0130\u0301",
    "\xe9", "e\u0301", "\xc5", "\u212b", "\u212a", "\u2126", "\xdf", "\u1e9e", "\u01c5", "\u01c4", "\ufb01",
    "\u216b", "\u24b6", "\uff21", "\xbd", "\u00b2", "\u0660", "\U0001d7ce",
    # Other scripts.
    "\ud55c\uad6d\uc5b4", "\u1100\u1161\u11a8", "\u3131", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "\u0e44\u0e21\u0e48", "\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd",
    "\u0939\u093f\u0928\u094d\u0926\u0940", "\u041f\u0440\u0438\u0432\u0435\u0442", "\u0401\u0436",
    "\u1828\u1822\u1837", "\u1780\u17d2\u1798", "\U00010400", "\U00010428", "\U0001d400", "\U0001f600",
    "\U0001f468\u200d\U0001f469", "\U000f0000", "\U0010ffff", "\ud800", "\udfff", "\udc00a", "\u0378",
    # ASCII and specials that must not be treated specially.
    "a", "Z", "9", "unaffable", "UNwant\xe9d", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "##ing", "[unused1]",
]

_VOCAB_WORDS = None


def _vocab_words():
    """Tokens of the uncased and multilingual vocabs, without '##' (a fixed list: examples stay derandomized)."""
    global _VOCAB_WORDS
    if _VOCAB_WORDS is None:
        words = set()
        root = testing.shared_data()
        if root is not None:
            for name in ("uncased", "multi_cased", "chinese"):
                for tok in testing.vocab_line_ids(testing.vocab_path(name)):
                    tok = tok[2:] if tok.startswith("##") else tok
                    if tok:
                        words.add(tok)
        _VOCAB_WORDS = sorted(words) or ["hello", "world"]
    return _VOCAB_WORDS


CASINGS = [lambda s: s, str.upper, str.title, str.capitalize, str.lower]

vocab_word = st.builds(lambda w, f: f(w), st.deferred(lambda: st.sampled_from(_vocab_words())),
                       st.sampled_from(CASINGS))
# A base followed by a run of combining marks in any order.
mark_cluster = st.builds(lambda base, marks: base + "".join(marks), st.sampled_from(MARK_BASES),
                         st.lists(st.sampled_from(SUPPLEMENTARY_MARKS + COMBINING[:3]), min_size=1, max_size=4))
any_char = st.one_of(
    st.characters(exclude_categories=()),  # hypothesis's own mix, surrogates included
    st.integers(0, 0x10FFFF).map(chr),  # uniform over all planes
    st.integers(0x80, 0x2FFF).map(chr),  # the scripts with case, accents and odd categories
)
whitespace = st.sampled_from(WHITESPACE)
control = st.sampled_from(CONTROLS)
fragment = st.one_of(
    vocab_word, vocab_word, vocab_word,
    st.sampled_from(WORDISH), st.sampled_from(WORDISH),
    st.sampled_from(PUNCT), st.sampled_from(COMBINING), st.sampled_from(CJK), mark_cluster, mark_cluster,
    whitespace, whitespace, control, any_char,
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=1, max_size=8),
)
mixed_text = st.lists(fragment, max_size=25).map("".join)
random_unicode = st.text(any_char, max_size=40)
# Mixed-script words: fragments glued together without whitespace.
mixed_word = st.lists(st.one_of(vocab_word, st.sampled_from(WORDISH), st.sampled_from(COMBINING),
                                st.sampled_from(CJK), mark_cluster, any_char), min_size=2, max_size=6).map("".join)
runs = st.lists(
    st.one_of(st.lists(whitespace, min_size=1, max_size=6).map("".join),
              st.lists(control, min_size=1, max_size=6).map("".join),
              vocab_word, st.sampled_from(WORDISH)),
    max_size=12).map("".join)

# Long words around WordPiece's 200-character limit, which counts characters after lowercasing and accent
# stripping: fillers whose length changes there ("e" + U+0301, U+0130) or whose UTF-8 length is not one byte.
FILLERS = ["a", "ab", "x", "e", "\xe9", "e\u0301", "\u0130", "\xdf", "\u03a3", "\u03c3", "\u0430", "\u0e01",
           "\ud55c", "\U0001d400", "\U00010400", "\u00ad", "\u200b", "9", "\u0301", "\ud800"]


def _long_word(n, filler, edits, prefix, suffix):
    word = (filler * (n // len(filler) + 1))[:n]
    for pos, ins in edits:
        pos %= len(word) + 1
        word = word[:pos] + ins + word[pos:]
    return prefix + word + suffix


long_word = st.builds(
    _long_word,
    st.one_of(st.integers(197, 203), st.integers(190, 210), st.integers(1, 400)),
    st.sampled_from(FILLERS),
    st.lists(st.tuples(st.integers(0, 400), st.sampled_from(FILLERS + ["\u0130", "e\u0301", ".", " ", "\x00"])),
             max_size=3),
    st.sampled_from(["", " ", "x ", "\u4e2d", "("]),
    st.sampled_from(["", " ", " y", ".", "\u4e2d", "\u2028z"]),
)

LONG_EXAMPLES = [
    "a" * 199, "a" * 200, "a" * 201,
    "a" * 199 + "e\u0301", "a" * 200 + "\u0301", "a" * 199 + "\u0130", "\u0130" * 200, "\u0130" * 201,
    "\xe9" * 200, "\xe9" * 201, "e\u0301" * 100, "e\u0301" * 101, "\U0001d400" * 200, "\U0001d400" * 201,
    "a" * 200 + "\u200b" + "a", "a" * 100 + "\xad" * 5 + "a" * 100, "x " + "b" * 201 + ".",
]


# ----------------------------------------------------------------------------------------------------------------
# Tests.


@SETTINGS
@given(text=random_unicode)
@example(text="")
@example(text="\ud800")
@example(text="a\udfffb \udc00")
@example(text="\x00\ufffd\U0010ffff\U000f0000")
def test_random_unicode(pair, text):
    check_tokens(pair, text)


@SETTINGS
@given(text=mixed_text)
@example(text="\u039f\u0394\u039f\u03a3")
@example(text="\u039f\u0394\u039f\u03a3 \u03a3. A\u03a3'B A\u03a3B A\u03a3")
@example(text="\u03a3\u0391\u03a3 \u039f\u0394\u039f\u03a3.")
@example(text="\u0130stanbul \u0130 I\u0307 \u0131")
@example(text="UNwant\xe9d,running HeLLo!how  \n Are yoU?  ")
@example(text="a\u200bb a\u200cb a\u200db a\u180eb a\xadb a\ufffdb a\x00b")
@example(text="\u4e2d\u6587\U00020000\uf900\U0002f800\ud55c\uad6d\uc5b4 \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22")
@example(text="a\u1fefb a\u0387b \u212b\u212a\u2126 \u01c5 \u1fbc")
@example(text="[CLS] hello [SEP] [UNK] [MASK] [unused1]")
@example(text="a\U0001d16d\U0001d165 \U0001d15e\U0001d16d \xc9\U0001d172\U00016ff0\u0301")
def test_mixed_text(pair, text):
    check_tokens(pair, text)


@SETTINGS
@given(words=st.lists(mixed_word, min_size=1, max_size=5))
def test_mixed_script_words(pair, words):
    check_tokens(pair, " ".join(words))


@SETTINGS
@given(text=st.lists(st.one_of(mark_cluster, mark_cluster, vocab_word, whitespace), max_size=8).map("".join))
@example(text="a\U0001d16d\U0001d165")
def test_combining_mark_runs(pair, text):
    """The basic tokenizer's words too: the released vocabs have no pieces with these marks, so WordPiece alone
    gives [UNK] whatever their order."""
    assert pair.wptk.basic_tokenizer.tokenize(text) == pair.ref.basic_tokenizer.tokenize(text), (pair, text)
    check_tokens(pair, text)


@SETTINGS
@given(text=long_word)
def test_long_words(pair, text):
    check_tokens(pair, text)


@pytest.mark.parametrize("text", LONG_EXAMPLES, ids=range(len(LONG_EXAMPLES)))
def test_long_word_examples(pair, text):
    check_tokens(pair, text)


@SETTINGS
@given(text=runs)
@example(text="a\u2028b\u2029c\x85d\xa0e\u3000f\u202fg\x1ch\x1di\x1ej\x1fk\x0bl\x0cm")
@example(text="\u2028\u2029\x85\xa0\u3000\u202f\x1c\x1d\x1e\x1f\x0b\x0c")
@example(text="\x01\x02\x03word\x7f\x80\x9f")
def test_whitespace_and_control_runs(pair, text):
    check_tokens(pair, text)


@SETTINGS
@given(texts=st.lists(st.one_of(mixed_text, random_unicode, runs, long_word), max_size=6))
@example(texts=[])
@example(texts=["", "", ""])
@example(texts=["hello world", "", "\u4e2d\u6587 unaffable", " \u2028 "])
def test_encode_batch(pair, texts):
    tok = pair.wptk
    result = tok.encode_batch(texts)
    assert isinstance(result, tuple) and len(result) == 2, type(result)
    ids, row_splits = result
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int32 and ids.ndim == 1, (type(ids), ids.dtype)
    assert isinstance(row_splits, np.ndarray) and row_splits.dtype == np.int64, (type(row_splits), row_splits.dtype)
    assert row_splits.shape == (len(texts) + 1,), (row_splits.shape, len(texts))
    assert row_splits[0] == 0 and row_splits[-1] == len(ids), (row_splits, len(ids))
    assert np.all(np.diff(row_splits) >= 0), row_splits
    for i, text in enumerate(texts):
        tokens = tok.tokenize(text)
        expected = tok.convert_tokens_to_ids(tokens)
        got = ids[row_splits[i]:row_splits[i + 1]].tolist()
        assert got == expected, "%r: encode_batch row %d (%r): %r != %r" % (pair, i, text, got, expected)
        # The ids the reference gives: the vocab file's line number (bert-tensorflow's own ids are compacted).
        ref_ids = [pair.line_ids[t] for t in pair.ref.tokenize(text)]
        assert got == ref_ids, "%r: ids of %r: %r != reference line-number ids %r" % (pair, text, got, ref_ids)


def test_vocab_ids_are_line_numbers(pair):
    vocab = dict(pair.wptk.vocab)
    assert vocab == pair.line_ids, "%r: vocab differs from token -> line number (%d vs %d entries)" % (
        pair, len(vocab), len(pair.line_ids))
    inv = pair.wptk.inv_vocab
    bad = [(i, t) for t, i in pair.line_ids.items() if inv[i] != t]
    assert not bad, "%r: inv_vocab disagrees at %r" % (pair, bad[:5])


def test_generators_reach_the_edges():
    """Guards the strategies themselves: the fragments hold the characters this file promises to exercise."""
    pool = "".join(WHITESPACE + CONTROLS + PUNCT + COMBINING + SUPPLEMENTARY_MARKS + CJK + WORDISH + FILLERS)
    for ch in "\u200b\u200c\u200d\u180e\xad\ufffd\x00\u0130\u03a3\u2028\u2029\x85\xa0\u3000\u202f\x1c\x1f\x0b\x0c":
        assert ch in pool, hex(ord(ch))
    cats = {unicodedata.category(c) for c in pool}
    assert {"Cc", "Cf", "Cs", "Mn", "Zs", "Zl", "Zp", "Lo", "Lu", "Ll", "Lt", "Po"} <= cats, cats
    supplementary = [c for c in pool if ord(c) > 0xFFFF and unicodedata.combining(c)]
    assert {unicodedata.category(c) for c in supplementary} == {"Mc", "Mn"}, supplementary
    assert len({unicodedata.combining(c) for c in supplementary}) >= 6, supplementary
