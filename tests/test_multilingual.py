"""Multilingual mode: the documented rules (docs/multilingual.md), offsets, and 'never worse than the reference'."""
import unicodedata
from pathlib import Path

import pytest
from hypothesis import example, given, settings, strategies as st

import wptk
from wptk.testing import require_shared
from wptk import chartable

ZWSP = "\u200b"
THAI_TUTORIAL = ("corpus", "multi", "thai", "emacs_TUTORIAL.th.txt")


@pytest.fixture(scope="module")
def multi_vocab():
    return str(require_shared() / "vocab" / "bert-base-multilingual-cased.vocab.txt")


@pytest.fixture(scope="module")
def ml(multi_vocab):
    return wptk.FullTokenizer(multi_vocab, multilingual=True)


@pytest.fixture(scope="module")
def cased(multi_vocab):
    return wptk.FullTokenizer(multi_vocab, do_lower_case=False)


def pieces(tok, text):
    ids, offsets = tok.encode(text, offsets=True)
    return list(zip(tok.convert_ids_to_tokens(ids.tolist()), map(tuple, offsets.tolist())))


def test_no_lowercasing_or_normalization():
    basic = wptk.BasicTokenizer(multilingual=True)
    assert basic.tokenize("Héllo ÅNGSTRÖM e\u0301") == ["Héllo", "ÅNGSTRÖM", "e\u0301"]
    with pytest.raises(ValueError, match="never strips accents"):
        wptk.BasicTokenizer(multilingual=True, strip_accents=True)


def test_thai_is_segmented_into_dictionary_words():
    basic = wptk.BasicTokenizer(multilingual=True)
    assert basic.tokenize("ท่านควรจะลองใช้คำสั่งนี้") == ["ท่าน", "ควรจะ", "ลอง", "ใช้", "คำสั่ง", "นี้"]
    # an unknown stretch stays together up to the next known word
    assert basic.tokenize("ลองซซซซใช้") == ["ลอง", "ซซซซ", "ใช้"]
    # script changes split, punctuation still splits
    assert basic.tokenize("ใช้emacsนี้,") == ["ใช้", "emacs", "นี้", ","]


def test_thai_words_never_split_a_cluster(ml):
    lines = (require_shared().joinpath(*THAI_TUTORIAL)).read_text(encoding="utf-8").split("\n")
    words = [w for line in lines for w in wptk.BasicTokenizer(multilingual=True).tokenize(line)]
    for w in words:
        assert unicodedata.category(w[0]) != "Mn", w
        assert w[0] not in "\u0e30\u0e32\u0e33\u0e45", w
        assert w[-1] not in "\u0e40\u0e41\u0e42\u0e43\u0e44", w


def test_thai_boundaries_agree_with_newmm(ml, cased):
    newmm = pytest.importorskip("pythainlp.tokenize").word_tokenize
    words = (Path(wptk.__file__).parent / "data" / "words_th.txt").read_text(encoding="utf-8").split("\n")
    trie = pytest.importorskip("pythainlp.util").Trie([w for w in words if w])
    lines = [l for l in require_shared().joinpath(*THAI_TUTORIAL).read_text(encoding="utf-8").split("\n")
             if any("\u0e00" <= c <= "\u0e7f" for c in l)][:200]
    hits = ours_n = gold_n = ref_hits = 0
    for line in lines:
        gold, pos = set(), 0
        for word in newmm(line, engine="newmm", custom_dict=trie, keep_whitespace=True):
            if word and "\u0e00" <= word[0] <= "\u0e7f":
                gold.add(pos)
            pos += len(word)
        ours = {s for t, (s, _) in pieces(ml, line) if not t.startswith("##") and "\u0e00" <= line[s] <= "\u0e7f"}
        ref = {s for t, (s, _) in pieces(cased, line) if not t.startswith("##") and "\u0e00" <= line[s] <= "\u0e7f"}
        hits += len(ours & gold); ours_n += len(ours); gold_n += len(gold); ref_hits += len(ref & gold)
    assert hits / ours_n >= 0.95 and hits / gold_n >= 0.95
    assert ref_hits / gold_n < 0.5  # the reference mode really does lose the boundaries


def test_zero_width_space_breaks_words(ml):
    assert pieces(ml, "ab\u200bcd")[1][1] == (3, 5) and not pieces(ml, "ab\u200bcd")[1][0].startswith("##")


def test_joiners_stay_inside_their_word_and_are_skipped_when_the_vocab_lacks_them(ml, cased):
    text = "می\u200cخواهم"                      # Persian, with ZERO WIDTH NON-JOINER
    got = pieces(ml, text)
    assert [t for t, _ in got] == cased.tokenize(text)
    assert got[0][1][0] == 0 and got[-1][1][1] == len(text)
    assert all(a[1][1] == b[1][0] for a, b in zip(got, got[1:]))  # spans tile the word, joiner included


def test_soft_characters_match_when_the_vocab_has_them(tmp_path):
    vocab = tmp_path / "v.txt"
    vocab.write_text("[UNK]\na\u200db\na\n##b\nc\n", encoding="utf-8")
    tok = wptk.FullTokenizer(str(vocab), multilingual=True)
    assert tok.tokenize("a\u200db") == ["a\u200db"]          # the vocab's piece with ZWJ is used
    assert tok.tokenize("a\u200cb") == ["a", "##b"]          # ZWNJ: no piece has it, so it is stepped over
    assert tok.tokenize("c\u200d") == ["c"]                  # matching fails with it, so it is skipped


def test_mongolian_suffix_split_at_narrow_no_break_space(ml):
    text = "ᠮᠣᠩᠭᠣᠯ\u202fᠤᠨ ᠬᠡᠯᠡ"
    words = wptk.BasicTokenizer(multilingual=True).tokenize(text)
    assert words == ["ᠮᠣᠩᠭᠣᠯ", "\u202fᠤᠨ", "ᠬᠡᠯᠡ"]
    assert [span for _, span in pieces(ml, text)] == [(0, 6), (6, 9), (10, 14)]
    assert wptk.BasicTokenizer(multilingual=True).tokenize("5\u202f000") == ["5", "000"]  # elsewhere: a space


def test_mongolian_selectors_are_kept(ml):
    text = "ᠭᠠ\u180bᠵᠠᠷ ᠨᠤ\u180eᠭᠠ"
    assert wptk.BasicTokenizer(multilingual=True).tokenize(text) == ["ᠭᠠ\u180bᠵᠠᠷ", "ᠨᠤ\u180eᠭᠠ"]
    assert wptk.BasicTokenizer(do_lower_case=True).tokenize(text) == ["ᠭᠠᠵᠠᠷ", "ᠨᠤᠭᠠ"]  # the reference drops them


TEXT_CHARS = st.sampled_from(list("aZé ,.!\t") + ["\u200b", "\u200c", "\u200d", "\u180e", "\u202f", "\u00ad",
                                                  "\u200e", "\x00", "\ufffd", "\u0301", "ᠮ", "ᠣ", "ท", "่", "า",
                                                  "เ", "ไ", "ก", "東", "한", "\u2028", "Σ"])


@pytest.fixture(scope="module")
def reference(multi_vocab):
    pytest.importorskip("bert.tokenization", reason="the reference needs bert-tensorflow (pip install -e '.[test]')")
    from wptk.testing import reference_tokenizer
    return reference_tokenizer(multi_vocab, False)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.lists(TEXT_CHARS, max_size=40).map("".join))
@example(text="ab\u200bcd")
@example(text="\u0e17\u0e48\u200b\u0e32 \u1820\u200b\u202f\u1823")
def test_spans_cover_every_kept_character_and_zero_width_space_breaks_words(ml, cased, reference, text):
    got = pieces(ml, text)
    spans = [span for _, span in got]
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert s1 < e1 <= s2 < e2
    covered = {i for s, e in spans for i in range(s, e)}
    for i, c in enumerate(text):    # (a text of only characters WordPiece steps over has no token to join)
        if not c.isspace() and c != ZWSP and spans:
            assert i in covered, (text, i, spans)
    # ZERO WIDTH SPACE is a word boundary: the same tokens and spans as with a space in its place, and no token
    # after it continues the word before it.
    assert got == pieces(ml, text.replace(ZWSP, " ")), text
    for (_, (_, end)), (token, (start, _)) in zip(got, got[1:]):
        assert not (ZWSP in text[end:start] and token.startswith("##")), (text, got)
    assert cased.tokenize(text) == reference.tokenize(text)    # default mode: deleted, as by the reference


def test_detokenize_rebuilds_text(ml):
    lines = require_shared().joinpath(*THAI_TUTORIAL).read_text(encoding="utf-8").split("\n")
    checked = 0
    for line in lines:
        got = pieces(ml, line)
        if not got or any(t == "[UNK]" for t, _ in got) or any(ord(c) in (0x200b, 0x200c, 0x200d) for c in line):
            continue
        assert wptk.detokenize([t for t, _ in got], [s for _, s in got]) == " ".join(line.split())
        checked += 1
    assert checked > 300


def unk_share(tok, text):
    """(characters inside [UNK] token spans, characters inside any span), counting what the reference keeps: not
    whitespace, not the controls and format characters it deletes."""
    deleted = chartable.base_flags()
    ids, offsets = tok.encode(text, offsets=True)
    unk = total = 0
    for token_id, (start, end) in zip(ids.tolist(), offsets.tolist()):
        n = sum(1 for c in text[start:end] if not c.isspace() and not deleted[ord(c)] & chartable.F_DELETE)
        total += n
        unk += n if token_id == tok.vocab["[UNK]"] else 0
    return unk, total


def test_never_worse_than_the_reference_on_udhr(ml, cased):
    """Per language, the share of characters in [UNK] tokens is no larger than the reference's (the cased mode,
    which equals the reference token for token), also where the reference has [UNK] tokens itself."""
    rows = [l.split("\t") for l in require_shared().joinpath("corpus", "multi", "udhr_samples.tsv")
            .read_text(encoding="utf-8").split("\n") if l.count("\t") >= 2]
    worse, with_unk = [], 0
    for code, text in [(r[0], r[2]) for r in rows]:
        (ml_unk, ml_total), (ref_unk, ref_total) = unk_share(ml, text), unk_share(cased, text)
        with_unk += ref_unk > 0
        if ml_unk * ref_total > ref_unk * ml_total:
            worse.append((code, ml_unk, ml_total, ref_unk, ref_total))
    assert len(rows) > 700 and with_unk > 100        # the comparison covers languages the reference fails on
    assert not worse, worse[:5]


def test_default_mode_is_untouched_by_the_multilingual_tables(cased):
    assert cased.tokenize("a\u200bb ᠮ\u202fᠣ") == ["ab", "[UNK]", "[UNK]"]
