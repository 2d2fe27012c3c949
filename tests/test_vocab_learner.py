"""The vocab learner (wptk.vocab_learner) and its kernel: its model of WordPiece, pruning, order independence, and
the kernel's segmentation, removal costs and pair counts against brute force."""
import collections
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("apache_beam", reason="wptk vocab counts words with Apache Beam (pip install -e '.[beam]')")

import numpy as np  # noqa: E402

import wptk  # noqa: E402
from wptk.beam import word_count as wc  # noqa: E402
from wptk import vocab_learner as vl  # noqa: E402
from wptk._native.wordpiece_learner import Grower, PieceTrie, Segmentation, Words  # noqa: E402
from wptk.testing import REPO_ROOT, greedy_wordpiece  # noqa: E402

SAMPLE = REPO_ROOT / "wptk" / "data" / "sample.txt"
SIZE = 600


def sample_counts(lower=True):
    return collections.Counter(wptk.BasicTokenizer(do_lower_case=lower).tokenize(SAMPLE.read_text("utf-8")))


@pytest.mark.parametrize("multilingual", [False, True])
def test_learner_counts_tokens_as_wordpiece_does(multilingual):
    """The learner's own count of tokens for the counted words is what FullTokenizer produces."""
    text = SAMPLE.read_text("utf-8")[:40000] + "\nไปเที่ยวกันไหม ᠮᠣᠩᠭᠣᠯ\u202fᠤᠨ می\u200cخواهم 中文字 " + "x" * 250
    basic = wc.basic_tokenizer(not multilingual, multilingual)
    counts = collections.Counter(basic.tokenize(text))
    vocab = vl.WordPieceLearner(400).learn(counts, basic)
    path = _write(vocab.tokens)
    tokenizer = wptk.FullTokenizer(path, do_lower_case=not multilingual, multilingual=multilingual)
    words = list(counts)
    _, splits = tokenizer.encode_batch(words)
    total = int(np.dot(np.diff(splits), [counts[w] for w in words]))
    assert total == round(vocab.tokens_per_word * sum(counts.values()))
    assert vocab.unk_words == 1                            # the 250-character word
    assert vocab.words == sum(counts.values()) and vocab.distinct_words == len(counts)


def _write(tokens):
    import tempfile
    f = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")
    with f:
        f.write("".join(t + "\n" for t in tokens))
    return f.name


def test_pruning_needs_fewer_tokens_than_growing_alone():
    counts = sample_counts()
    basic = wptk.BasicTokenizer()
    grown = vl.WordPieceLearner(SIZE, grow_factor=1.0).learn(counts, basic)
    pruned = vl.WordPieceLearner(SIZE).learn(counts, basic)
    assert pruned.tokens_per_word < grown.tokens_per_word


def test_vocab_size_too_small_for_the_characters():
    with pytest.raises(wptk.WptkError, match="too small: the 104 special tokens and the .* character tokens"):
        vl.WordPieceLearner(150).learn(sample_counts())


def test_same_vocab_whatever_the_order_of_the_counts():
    counts = sample_counts()
    items = list(counts.items())
    random.Random(5).shuffle(items)
    basic = wptk.BasicTokenizer()
    a = vl.WordPieceLearner(SIZE).learn(counts, basic).tokens
    b = vl.WordPieceLearner(SIZE).learn(dict(items), basic).tokens
    assert a == b


def test_merge_counts_is_order_independent():
    counts = sample_counts()
    words = sorted(counts)
    rnd = random.Random(3)
    parts = [{w: counts[w] for w in words if rnd.random() < 0.5} for _ in range(6)]
    expected = vl.merge_counts(parts)
    for perm in itertools.islice(itertools.permutations(parts), 20):
        assert vl.merge_counts(perm) == expected
    nested = vl.merge_counts([vl.merge_counts(parts[:2]), vl.merge_counts(parts[2:])])
    assert nested == expected and vl.merge_counts([]) == {}


# ------------------------------------------------------------------------------------------------- the kernel


def greedy(word, vocab, excluded=None):
    """BERT's WordpieceTokenizer on one word, with `vocab` less `excluded`: list of pieces, or None (the word would
    be [UNK])."""
    pieces = greedy_wordpiece(set(vocab) - {excluded}, word, unk=None)
    return None if pieces == [None] else pieces


def pair_counts(words, vocab):
    out = collections.Counter()
    for word, n in words.items():
        pieces = greedy(word, vocab)
        if pieces is None:
            continue
        bare = [p[2:] if i else p for i, p in enumerate(pieces)]
        start = 0
        for i in range(len(bare) - 1):
            merged = "".join(bare[i:i + 2])
            out[merged if start == 0 else "##" + merged] += n
            start += len(bare[i])
    return out


word_lists = st.dictionaries(st.text("abcé", min_size=1, max_size=7), st.integers(1, 5), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(word_lists, st.lists(st.text("abcé", min_size=2, max_size=4), max_size=12), st.randoms())
def test_kernel_matches_brute_force(words, extra, rnd):
    chars = sorted({c for w in words for c in w})
    vocab = chars + ["##" + c for c in chars]
    for piece in extra:
        vocab.append(piece if rnd.random() < 0.5 else "##" + piece)
    vocab = list(dict.fromkeys(vocab))
    names = sorted(words)
    table = Words(names, np.array([words[w] for w in names], dtype=np.int64))
    trie = PieceTrie()
    ids = [trie.add(t) for t in vocab]
    assert ids == list(range(len(vocab)))

    seg = Segmentation(table, trie)
    assert seg.total == sum(n * len(greedy(w, vocab)) for w, n in words.items())
    for r, w in enumerate(names):
        assert [vocab[i] for i in seg.pieces(r)] == greedy(w, vocab)
    skip = np.zeros(len(vocab), dtype=np.uint8)
    skip[:len(chars) * 2] = 1
    costs = seg.removal_costs(skip)
    for t, token in enumerate(vocab[len(chars) * 2:], len(chars) * 2):
        expected = sum(n * (len(greedy(w, vocab, token)) - len(greedy(w, vocab))) for w, n in words.items())
        assert costs[t] == expected, token
    usage = seg.usage()
    assert all(usage[i] == sum(n * greedy(w, vocab).count(t) for w, n in words.items()) for i, t in enumerate(vocab))

    # pair counts, and their incremental update as tokens are added
    grower = Grower(table, trie)
    for _ in range(3):
        count, word, start, end, first = grower.candidates()
        got = {("##" if s else "") + table.substring(w, s, e): c for c, w, s, e in zip(count, word, start, end)}
        assert got == pair_counts(words, vocab)
        if not got:
            break
        chosen = rnd.sample(range(len(count)), min(len(count), 2))
        first_new = len(vocab)
        for i in chosen:
            vocab.append(("##" if start[i] else "") + table.substring(word[i], start[i], end[i]))
            assert trie.add_substring(table, word[i], start[i], end[i]) == len(vocab) - 1
        grower.update(first[chosen], first_new)


def test_removed_tokens_are_not_matched():
    trie = PieceTrie()
    for t in ["a", "b", "##a", "##b", "ab", "##ab"]:
        trie.add(t)
    table = Words(["abab"], np.array([1]))
    assert Segmentation(table, trie).total == 2
    trie.remove(5)
    assert not trie.contains(5) and trie.contains(4)
    assert Segmentation(table, trie).total == 3


def test_words_holding_hashes_never_give_a_line_twice():
    """Raw counts (the library API takes any words) may hold '#': a learned word-start piece "##b" would be the
    same vocab line as the continuation piece "##b". The fuzzer found such duplicates."""
    from wptk.vocab_learner import WordPieceLearner
    counts = {"##b": 40, "a##b": 30, "##by": 25, "b": 20, "xb": 10, "##bb": 12, "y##b": 9}
    vocab = WordPieceLearner(40, reserved_unused=2).learn(counts)
    assert len(vocab.tokens) == 40 and len(set(vocab.tokens)) == 40
