"""Combining marks with a nonzero canonical combining class, mostly above U+FFFF, in varied orders, against the
reference (PyPI bert-tensorflow, see tests/testing.py) in every configuration.

Accent stripping is NFD, whose canonical reordering sorts each run of marks by combining class, then drops Mn.
The marks that survive it (Mc with a nonzero class, such as U+1D165 and U+1D16D) keep the order NFD gives them,
so a word's pieces depend on that reordering being done whenever two or more marks may need it. The texts are a
fixed list: every ordered pair of the marks below, and every ordered triple of the ones that survive stripping.

The reference ties accent stripping to lowercasing; for the two configurations it lacks (lowercase without
stripping, stripping without lowercasing) its basic tokenizer's own steps are composed in its order.
"""
import itertools
import warnings

import pytest

from wptk import testing
import wptk

pytest.importorskip("bert.tokenization", reason="the reference needs bert-tensorflow (pip install -e '.[test]')")

# Supplementary-plane marks first, three BMP ones for contrast; comments: combining class, category, name.
MARKS = ["\U0001d165",   # 216 Mc  MUSICAL SYMBOL COMBINING STEM
         "\U0001d16d",   # 226 Mc  MUSICAL SYMBOL COMBINING AUGMENTATION DOT
         "\U0001d16e",   # 216 Mc  MUSICAL SYMBOL COMBINING FLAG-1
         "\U00016ff0",   # 6   Mc  VIETNAMESE ALTERNATE READING MARK CA
         "\U000111c0",   # 9   Mc  SHARADA SIGN VIRAMA
         "\U0001d167",   # 1   Mn  MUSICAL SYMBOL COMBINING TREMOLO-1
         "\U0001d17b",   # 220 Mn  MUSICAL SYMBOL COMBINING ACCENT
         "\U0001e000",   # 230 Mn  COMBINING GLAGOLITIC LETTER AZU
         "\U00011046",   # 9   Mn  BRAHMI VIRAMA
         "\u0301",       # 230 Mn  COMBINING ACUTE ACCENT
         "\u0327",       # 202 Mn  COMBINING CEDILLA
         "\u302e"]       # 224 Mc  HANGUL SINGLE DOT TONE MARK
SURVIVING = [m for m in MARKS if m in "\U0001d165\U0001d16d\U0001d16e\U00016ff0\U000111c0\u302e"]
# Bases: plain, capital, precomposed (its NFD adds a mark), one whose NFD ends in U+1D165, a capital sigma.
BASES = ["a", "A", "\xc9", "\U0001d15e", "\u03a3", "x\u0130"]


def _words():
    words = [BASES[i % len(BASES)] + a + b for i, (a, b) in enumerate(itertools.permutations(MARKS, 2))]
    words += [BASES[i % len(BASES)] + "".join(t) for i, t in enumerate(itertools.permutations(SURVIVING, 3))]
    words += ["a" + a + "b" + b + c for a, b, c in itertools.permutations(SURVIVING[:4], 3)]
    words += [a + b + "z" for a, b in itertools.permutations(SURVIVING, 2)]     # marks at the start of a word
    return words


WORDS = _words()
TEXTS = [" ".join(WORDS[i:i + 5]) + "." for i in range(0, len(WORDS), 5)]
BASIC_CONFIGS = [(True, True), (False, False), (True, False), (False, True)]    # (lowercase, strip accents)
RELEASED = [("uncased", True), ("cased", False), ("multi_cased", False), ("multi_cased", True), ("chinese", True)]


def reference_basic(text, lower, strip):
    """The reference's BasicTokenizer, with lowercasing and accent stripping separately switched."""
    ref = testing.reference_module()
    if lower == strip:
        return ref.BasicTokenizer(do_lower_case=lower).tokenize(text)
    basic = ref.BasicTokenizer(do_lower_case=False)
    split = []
    for token in ref.whitespace_tokenize(basic._tokenize_chinese_chars(basic._clean_text(text))):
        token = token.lower() if lower else token
        split.extend(basic._run_split_on_punc(basic._run_strip_accents(token) if strip else token))
    return ref.whitespace_tokenize(" ".join(split))


def test_the_texts_hold_what_they_promise():
    import unicodedata
    assert len(TEXTS) >= 50 and all(unicodedata.combining(m) for m in MARKS)
    assert sum(ord(m) > 0xFFFF for m in MARKS) >= 8
    assert {unicodedata.category(m) for m in SURVIVING} == {"Mc"}
    assert len({unicodedata.combining(m) for m in MARKS}) >= 8


@pytest.mark.parametrize("lower,strip", BASIC_CONFIGS)
def test_basic_tokenizer_equals_reference(lower, strip):
    tok = wptk.BasicTokenizer(do_lower_case=lower, strip_accents=strip)
    bad = [(t, tok.tokenize(t), reference_basic(t, lower, strip)) for t in TEXTS
           if tok.tokenize(t) != reference_basic(t, lower, strip)]
    assert not bad, "%d of %d texts differ; first: %r" % (len(bad), len(TEXTS), bad[0])


@pytest.fixture(scope="module")
def words_vocab(tmp_path_factory):
    """A vocab of every word the reference makes of the texts in any configuration, with every character also as
    a piece: WordPiece then finds the whole word only where the marks are in the reference's order."""
    words = sorted({w for t in TEXTS for lower, strip in BASIC_CONFIGS for w in reference_basic(t, lower, strip)})
    chars = sorted({c for w in words for c in w})
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(["[UNK]"] + words + chars + ["##" + c for c in chars]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("lower,strip", BASIC_CONFIGS)
def test_full_tokenizer_equals_reference_with_a_vocab_of_the_words(words_vocab, lower, strip):
    ref = testing.reference_module()
    wordpiece = ref.WordpieceTokenizer(vocab=ref.load_vocab(str(words_vocab)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # a vocab of mixed case: the case warning does not apply
        tok = wptk.FullTokenizer(str(words_vocab), do_lower_case=lower, strip_accents=strip)
    for text in TEXTS:
        expected = [p for w in reference_basic(text, lower, strip) for p in wordpiece.tokenize(w)]
        assert tok.tokenize(text) == expected, text
        assert tok.encode(text).tolist() == tok.convert_tokens_to_ids(expected), text


@pytest.mark.parametrize("name,lower", RELEASED)
def test_released_vocabs_equal_reference(name, lower):
    path = testing.require_shared() / "vocab" / testing.VOCABS[name]
    ref = testing.reference_tokenizer(path, lower)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # multi_cased lowercased: a deliberate case mismatch
        tok = wptk.FullTokenizer(str(path), do_lower_case=lower)
    for text in TEXTS:
        assert tok.tokenize(text) == ref.tokenize(text), text
