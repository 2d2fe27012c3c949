"""Differential tests against the reference create_pretraining_data (PyPI bert-tensorflow) on generated corpora:
control characters, blank-line runs, single-document corpora, tiny sequence lengths, many seeds, the uncased, cased
and multilingual vocabs, and mask counts where len(tokens) * masked_lm_prob is exactly half-way (round half to
even)."""
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import wptk
from wptk import pretraining as pt
from wptk.testing import reference_instances, reference_pretraining_module, reference_tokenizer, require_shared

WORDS = ["the", "Cat", "sat", "on", "a", "mat", ",", "unbelievable", "naïve", "Σοφία", "東京", "x\u0000y",
         "\u200b", "\t", "don't", "e.g.", "##", "[MASK]", "zzqx", "ÅNGSTRÖM", "Straße", "İstanbul", "Привет",
         "مرحبا", "ภาษาไทย", "Hello", "WORLD"]
# (vocab, do_lower_case): the released English and multilingual configurations.
VOCABS = {"uncased": ("bert-base-uncased.vocab.txt", True), "cased": ("bert-base-cased.vocab.txt", False),
          "multi_cased": ("bert-base-multilingual-cased.vocab.txt", False)}
# Probabilities that are binary fractions, so len(tokens) * p is exactly x.5 for some lengths, and others.
PROBS = [0.0, 0.15, 0.5, 1.0, 0.25, 0.375, 0.125, 0.625]


@pytest.fixture(scope="module")
def reference():
    return reference_pretraining_module()


_TOKENIZERS = {}


def tokenizers(name):
    """(wptk tokenizer, reference tokenizer) for a VOCABS configuration, made once."""
    if name not in _TOKENIZERS:
        vocab, lower = VOCABS[name]
        path = require_shared() / "vocab" / vocab
        _TOKENIZERS[name] = wptk.FullTokenizer(str(path), do_lower_case=lower), reference_tokenizer(path, lower)
    return _TOKENIZERS[name]


@pytest.fixture(scope="module")
def uncased():
    return tokenizers("uncased")


def our_instances(tokenizer, path, config):
    return instances_of(tokenizer, pt.read_documents([str(path)], tokenizer), config)


def instances_of(tokenizer, docs, config):
    vocab_ids = pt.VocabIds.from_vocab(tokenizer.vocab)
    instances = pt.create_instances(docs, vocab_ids, config)
    assert len(instances) <= config.dupe_factor * docs.n_sentences     # the room create_instances reserves
    out = []
    for row in instances.order:
        ids, lengths, seg_a, positions, labels, counts, nsp = pt.feature_arrays(docs, instances, [row], vocab_ids,
                                                                                config)
        n, a, c = int(lengths[0]), int(seg_a[0]), int(counts[0])
        out.append((tokenizer.convert_ids_to_tokens(ids[0, :n].tolist()), [0] * a + [1] * (n - a),
                    bool(nsp[0]), positions[0, :c].tolist(), tokenizer.convert_ids_to_tokens(labels[0, :c].tolist())))
    return out


def as_tuples(instances):
    return [(i.tokens, list(i.segment_ids), i.is_random_next, list(i.masked_lm_positions),
             list(i.masked_lm_labels)) for i in instances]


corpus = st.lists(  # documents of sentences of words, with blank / whitespace / control-only lines between
    st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=30).map(" ".join), min_size=0, max_size=12),
    min_size=1, max_size=8)
separators = st.sampled_from(["\n", "\n\n", "\n  \n", "\n\u2028\n", "\n\x00\n", "\r\n\r\n"])


@pytest.mark.parametrize("name", VOCABS)
@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(docs=corpus, sep=separators, seed=st.integers(0, 2**40), seq=st.sampled_from([5, 6, 9, 16, 40, 128]),
       pred=st.integers(1, 25), dupe=st.integers(1, 3), short=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
       prob=st.sampled_from(PROBS))
def test_instances_equal_reference(tmp_path_factory, reference, name, docs, sep, seed, seq, pred, dupe, short, prob):
    tokenizer, ref_tokenizer = tokenizers(name)
    path = tmp_path_factory.mktemp("corpus") / "input.txt"
    path.write_text(sep.join("\n".join(d) for d in docs), encoding="utf-8")
    config = pt.PretrainingConfig(max_seq_length=seq, max_predictions_per_seq=pred, random_seed=seed,
                                  dupe_factor=dupe, masked_lm_prob=prob, short_seq_prob=short)
    assert our_instances(tokenizer, path, config) == as_tuples(reference_instances(reference, ref_tokenizer, path,
                                                                                   config))


# max_seq_length such that full-length instances are half-way with an even integer part: 22.5, 10.5, 10.5
@pytest.mark.parametrize("name,prob,seq", [("uncased", 0.5, 45), ("cased", 0.25, 42), ("multi_cased", 0.375, 28)])
def test_half_way_mask_counts_equal_reference(tmp_path, reference, name, prob, seq):
    """Where len(tokens) * masked_lm_prob is exactly x.5, the reference masks round(x.5) tokens, half to even: the
    instances must agree there, and the corpus must hold such instances with an even x (where rounding half up
    would mask one more)."""
    tokenizer, ref_tokenizer = tokenizers(name)
    lines = (require_shared() / "corpus" / "en" / "austen.txt").read_text(encoding="utf-8").split("\n")
    path = tmp_path / "input.txt"
    path.write_text("\n".join(lines[30000:30400]), encoding="utf-8")
    config = pt.PretrainingConfig(random_seed=11, max_seq_length=seq, max_predictions_per_seq=seq, dupe_factor=2,
                                  masked_lm_prob=prob, short_seq_prob=0.5)
    ours = our_instances(tokenizer, path, config)
    assert ours == as_tuples(reference_instances(reference, ref_tokenizer, path, config))
    ties = [len(positions) for tokens, _, _, positions, _ in ours if (len(tokens) * prob) % 1 == 0.5
            and int(len(tokens) * prob) % 2 == 0]
    assert len(ties) >= 10 and all(n == round(n + 0.5) for n in ties), ties


@pytest.mark.parametrize("text", [
    "One single document.\nWith three sentences.\nAnd no blank line.",   # random next from itself
    "only one sentence in the only document",
    "\n\n\nfirst\n\n\n\nsecond document\nhas two\n\n",
])
def test_edge_corpora_equal_reference(tmp_path, reference, uncased, text):
    tokenizer, ref_tokenizer = uncased
    path = tmp_path / "input.txt"
    path.write_text(text, encoding="utf-8")
    for seed in range(20):
        config = pt.PretrainingConfig(random_seed=seed, max_seq_length=12, dupe_factor=2)
        assert our_instances(tokenizer, path, config) == as_tuples(
            reference_instances(reference, ref_tokenizer, path, config))


def test_austen_slice_equals_reference(tmp_path, reference, uncased):
    tokenizer, ref_tokenizer = uncased
    lines = (require_shared() / "corpus" / "en" / "austen.txt").read_text(encoding="utf-8").split("\n")
    path = tmp_path / "input.txt"
    path.write_text("\n".join(lines[20000:21500]), encoding="utf-8")
    config = pt.PretrainingConfig(random_seed=3, dupe_factor=2)
    assert our_instances(tokenizer, path, config) == as_tuples(
        reference_instances(reference, ref_tokenizer, path, config))


@pytest.mark.parametrize("seed", range(6))
def test_documents_holding_cls_and_sep_ids_equal_reference(reference, uncased, seed):
    """Text never yields [CLS] or [SEP] (brackets are punctuation), but documents built by hand may hold their
    ids; such tokens are never masked, as the reference skips them by name."""
    tokenizer, _ = uncased
    words = ["[CLS]", "[SEP]", "the", "cat", "##s", "sat", "[MASK]", "[UNK]"]
    gen = random.Random(seed)
    documents = [[[gen.choice(words) for _ in range(gen.randint(1, 12))] for _ in range(gen.randint(1, 6))]
                 for _ in range(5)]
    sentences = [s for d in documents for s in d]
    docs = pt.Documents(np.array([tokenizer.vocab[t] for s in sentences for t in s], np.uint16),
                        pt._offsets([len(s) for s in sentences]), pt._offsets([len(d) for d in documents]))
    config = pt.PretrainingConfig(random_seed=seed, max_seq_length=24, dupe_factor=2, masked_lm_prob=0.5)
    rng = random.Random(seed)
    shuffled = list(documents)
    rng.shuffle(shuffled)
    expected = []
    for _ in range(config.dupe_factor):
        for d in range(len(shuffled)):
            expected.extend(reference.create_instances_from_document(
                shuffled, d, config.max_seq_length, config.short_seq_prob, config.masked_lm_prob,
                config.max_predictions_per_seq, list(tokenizer.vocab), rng))
    rng.shuffle(expected)
    assert instances_of(tokenizer, docs, config) == as_tuples(expected)
