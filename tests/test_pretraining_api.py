"""The importable steps of wptk.pretraining: input format, step-by-step use, and arrays instead of strings."""
import numpy as np
import pytest

import wptk
from wptk import pretraining as pt
from wptk._native.pyrandom import CompatRandom
from wptk.testing import read_pretraining_records, require_shared
from wptk.tfrecord import RecordWriter

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "##x", "."]


@pytest.fixture
def tokenizer(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return wptk.FullTokenizer(str(path))


def test_input_format_blank_lines_and_empty_documents(tokenizer):
    lines = ["a b", "c", "", "  \u2028 ", "", "\x00", "d .", "zzz", "", "", "a"]
    docs = pt.documents_from_lines(iter(lines), tokenizer)
    # "\x00" is not blank (strip keeps it) but has no tokens; "zzz" is one [UNK] token
    assert docs.tokens.tolist() == [5, 6, 7, 8, 10, 1, 5]
    assert docs.sentences.tolist() == [0, 2, 3, 5, 6, 7]
    assert docs.documents.tolist() == [0, 2, 4, 5]
    assert docs.tokens.dtype == np.uint16 and docs.n_documents == 3 and docs.n_sentences == 5


def test_token_ids_are_uint16_when_every_id_fits_and_int32_otherwise():
    small = {t: i for i, t in enumerate(VOCAB)}
    assert pt.token_dtype(small) == np.uint16
    assert pt.token_dtype({**small, "big": 65535}) == np.uint16
    assert pt.token_dtype({**small, "big": 65536}) == np.int32      # e.g. the multilingual vocab
    del small["[UNK]"]
    assert pt.token_dtype(small) == np.int32                        # an unknown word would be id -1


def test_int32_and_uint16_tokens_give_the_same_records():
    """Documents built by hand may hold int32 ids; the kernels read both widths alike."""
    root = require_shared() / "golden" / "pretraining" / "austen_defaults"
    tok = wptk.FullTokenizer(str(require_shared() / "vocab" / "bert-base-uncased.vocab.txt"))
    config = pt.PretrainingConfig(dupe_factor=2)
    docs = pt.read_documents([str(root / "input.txt")], tok)
    assert docs.tokens.dtype == np.uint16
    wide = pt.Documents(docs.tokens.astype(np.int32), docs.sentences, docs.documents)
    vocab_ids = pt.VocabIds.from_vocab(tok.vocab)
    narrow_instances = pt.create_instances(docs, vocab_ids, config)
    wide_instances = pt.create_instances(wide, vocab_ids, config)
    for name, column in narrow_instances.arrays.items():
        assert np.array_equal(column, wide_instances.arrays[name]), name
    rows = narrow_instances.order
    assert bytes(pt.serialize(docs, narrow_instances, rows, vocab_ids, config)) == \
        bytes(pt.serialize(wide, narrow_instances, rows, vocab_ids, config))
    for a, b in zip(pt.feature_arrays(docs, narrow_instances, rows[:50], vocab_ids, config),
                    pt.feature_arrays(wide, narrow_instances, rows[:50], vocab_ids, config)):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="uint16 or int32"):
        pt.create_instances(pt.Documents(docs.tokens.astype(np.int64), docs.sentences, docs.documents),
                            vocab_ids, config)


def test_a_new_file_does_not_start_a_document(tmp_path, tokenizer):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "1.txt").write_text("a\nb", encoding="utf-8")
    (tmp_path / "in" / "2.txt").write_text("c\n\nd\n", encoding="utf-8")
    files = pt.expand_inputs(f"{tmp_path}/in/*.txt")
    assert [f.rsplit("/", 1)[1] for f in files] == ["1.txt", "2.txt"]
    docs = pt.read_documents(files, tokenizer)
    assert docs.documents.tolist() == [0, 3, 4]


def test_lines_are_batched_without_changing_documents(tokenizer, monkeypatch):
    lines = [("a b" if i % 7 else "") for i in range(100)]
    whole = pt.documents_from_lines(lines, tokenizer)
    monkeypatch.setattr(pt, "LINES_PER_BATCH", 3)
    batched = pt.documents_from_lines(lines, tokenizer)
    for field in ("tokens", "sentences", "documents"):
        assert np.array_equal(getattr(whole, field), getattr(batched, field))


def test_steps_compose_to_the_whole_job(tmp_path):
    root = require_shared() / "golden" / "pretraining" / "austen_defaults"
    tok = wptk.FullTokenizer(str(require_shared() / "vocab" / "bert-base-uncased.vocab.txt"))
    config = pt.PretrainingConfig()
    docs = pt.read_documents([str(root / "input.txt")], tok)
    vocab_ids = pt.VocabIds.from_vocab(tok.vocab)
    instances = pt.create_instances(docs, vocab_ids, config, rng=CompatRandom(config.random_seed))
    assert instances.arrays["positions"].dtype == np.uint8 and instances.order.dtype == np.int32    # 128 <= 256
    assert instances.arrays["kinds"].shape == (len(instances), 5)                                   # 20 x 2 bits
    with RecordWriter(tmp_path / "steps.tfrecord") as writer:
        writer.write_framed(pt.serialize(docs, instances, instances.order, vocab_ids, config))
    expected = read_pretraining_records([root / "expected.tfrecord"], 128, 20)
    assert read_pretraining_records([tmp_path / "steps.tfrecord"], 128, 20) == expected


def test_serialize_is_the_feature_arrays_framed(tokenizer):
    from wptk._native.records import frame_examples
    lines = [" ".join("abcd"[(d * s + k) % 4] + ("x" if k % 3 == 0 else "") for k in range(2 + s))
             for d in range(5) for s in range(6)]      # "ax" -> a ##x: whole words of two pieces
    docs = pt.documents_from_lines(lines[:12] + [""] + lines[12:], tokenizer)
    vocab_ids = pt.VocabIds.from_vocab(tokenizer.vocab)
    for config in (pt.PretrainingConfig(max_seq_length=12, max_predictions_per_seq=4, dupe_factor=3),
                   pt.PretrainingConfig(max_seq_length=40, max_predictions_per_seq=9, masking="whole_word")):
        instances = pt.create_instances(docs, vocab_ids, config)
        buffer = bytearray()
        for rows in (instances.order, instances.order[::-3], instances.order[:1], instances.order[:0]):
            expected = frame_examples(*pt.feature_arrays(docs, instances, rows, vocab_ids, config),
                                      config.max_seq_length, config.max_predictions_per_seq)
            assert pt.serialize(docs, instances, rows, vocab_ids, config) == expected
            assert pt.serialize(docs, instances, rows, vocab_ids, config, buffer) == expected
        with pytest.raises(ValueError, match="out of range"):
            pt.serialize(docs, instances, [len(instances)], vocab_ids, config)


def test_instances_on_a_document_subset_with_any_seed(tokenizer):
    lines = []
    for d in range(6):
        lines += [" ".join("abcd"[(d + s + k) % 4] for k in range(3 + s)) for s in range(5)] + [""]
    docs = pt.documents_from_lines(lines, tokenizer)
    vocab_ids = pt.VocabIds.from_vocab(tokenizer.vocab)
    config = pt.PretrainingConfig(max_seq_length=16, dupe_factor=2, max_predictions_per_seq=3)
    first = pt.create_instances(docs, vocab_ids, config, rng=CompatRandom(7))
    again = pt.create_instances(docs, vocab_ids, config, rng=CompatRandom(7))
    other = pt.create_instances(docs, vocab_ids, config, rng=CompatRandom(8))
    assert np.array_equal(first.order, again.order) and len(first) > 10
    assert not (np.array_equal(first.arrays["positions"], other.arrays["positions"])
                and np.array_equal(first.order, other.order))
    ids, lengths, seg_a, positions, labels, counts, nsp = pt.feature_arrays(docs, first, first.order, vocab_ids,
                                                                            config)
    assert (lengths <= 16).all() and (counts >= 1).all() and (counts <= 3).all()
    assert (ids[:, 0] == vocab_ids.cls_id).all()
    assert set(np.unique(nsp)) <= {0, 1}


def test_the_builder_refuses_a_document_order_that_names_no_document(tokenizer):
    from wptk._native.instances import InstanceBuilder
    docs = pt.documents_from_lines(iter(["a b", "", "c d"]), tokenizer)
    vocab_ids = pt.VocabIds.from_vocab(tokenizer.vocab)
    for order in ([0, 2], [-1, 0]):
        with pytest.raises(ValueError, match="not a document number"):
            InstanceBuilder(docs.tokens, docs.sentences, docs.documents, np.array(order, np.int64),
                            CompatRandom(1), max_seq_length=16, short_seq_prob=0.1, masked_lm_prob=0.15,
                            max_predictions_per_seq=3, random_words=vocab_ids.random_words,
                            is_subword=vocab_ids.is_subword, cls_id=vocab_ids.cls_id, sep_id=vocab_ids.sep_id,
                            mask_id=vocab_ids.mask_id)


def _tampered(instances, **columns):
    """A copy of `instances` with some columns replaced (a function of the original column)."""
    arrays = dict(instances.arrays)
    for name, change in columns.items():
        arrays[name] = np.ascontiguousarray(change(arrays[name].copy()))
    return pt.Instances(arrays, instances.order)


def test_every_step_refuses_arguments_that_do_not_belong_together(tokenizer):
    """Arguments from another corpus, config or vocab, or malformed by hand, are a ValueError before any native
    code reads them (each of these once read or wrote out of bounds, crashed or returned garbage)."""
    lines = [" ".join("abcd"[(d + s + k) % 4] + "x" * (k % 2) for k in range(3 + 2 * s)) for d in range(6)
             for s in range(5)]
    docs = pt.documents_from_lines(sum(([line] if i % 5 else ["", line] for i, line in enumerate(lines)), []),
                                   tokenizer)
    vocab_ids = pt.VocabIds.from_vocab(tokenizer.vocab)
    config = pt.PretrainingConfig(max_seq_length=24, max_predictions_per_seq=5, dupe_factor=2)
    instances = pt.create_instances(docs, vocab_ids, config)
    rows = instances.order
    small = pt.documents_from_lines(["a b", "", "c d"], tokenizer)
    n, n_sentences = len(docs.tokens), docs.n_sentences
    for step in (pt.feature_arrays, pt.serialize):
        bad_calls = {
            "shorter max_seq_length": lambda: step(docs, instances, rows, vocab_ids,
                                                   pt.PretrainingConfig(max_seq_length=8, max_predictions_per_seq=5)),
            "other max_predictions_per_seq": lambda: step(docs, instances, rows, vocab_ids,
                                                          pt.PretrainingConfig(24, max_predictions_per_seq=3)),
            "documents of another corpus": lambda: step(small, instances, rows, vocab_ids, config),
            "a row past the table": lambda: step(docs, instances, [len(instances)], vocab_ids, config),
            "a negative row": lambda: step(docs, instances, [-1], vocab_ids, config),
            "rows that are not integers": lambda: step(docs, instances, [0.5], vocab_ids, config),
            "a short column": lambda: step(docs, _tampered(instances, a_len=lambda a: a[:-1]), rows[:1], vocab_ids,
                                           config),
            "a segment past the tokens": lambda: step(docs, _tampered(instances, b_start=lambda a: a + n), rows,
                                                      vocab_ids, config),
            "a position past the sequence": lambda: step(docs, _tampered(instances, positions=lambda a: a | 0x80),
                                                         rows, vocab_ids, config),
            "random words past random_ids": lambda: step(
                docs, _tampered(instances, random_ids=lambda a: a[:0], kinds=lambda a: a | 0xAA), rows, vocab_ids,
                config),
        }
        for what, call in bad_calls.items():
            with pytest.raises(ValueError):
                call()
                pytest.fail(f"{step.__name__}: {what} was accepted")
    with pytest.raises(ValueError, match="with another config"):
        pt.feature_arrays(docs, instances, rows, vocab_ids, pt.PretrainingConfig(max_seq_length=8,
                                                                                 max_predictions_per_seq=5))
    with pytest.raises(ValueError, match="from other documents"):
        pt.serialize(small, instances, rows, vocab_ids, config)

    def documents(tokens=docs.tokens, sentences=docs.sentences, documents=docs.documents):
        return pt.Documents(tokens, sentences, documents)

    bad_documents = {
        "sentences past the tokens": documents(tokens=docs.tokens[:n // 2]),
        "a sentence offset past the tokens": documents(sentences=np.append(docs.sentences[:-1], n + 1000)),
        "sentence offsets that fall": documents(sentences=docs.sentences[::-1].copy()),
        "sentence offsets not from 0": documents(sentences=docs.sentences + 1),
        "documents past the sentences": documents(documents=np.append(docs.documents[:-1], n_sentences + 5)),
        "an empty document": documents(documents=np.insert(docs.documents, 1, 0)),
        "no document offsets": documents(documents=np.zeros(0, np.int64)),
        "int32 sentence offsets": documents(sentences=docs.sentences.astype(np.int32)),
        "tokens as a list": documents(tokens=docs.tokens.tolist()),
    }
    for what, bad in bad_documents.items():
        with pytest.raises(ValueError):
            pt.create_instances(bad, vocab_ids, config)
            pytest.fail(f"create_instances: {what} was accepted")
    ids = vocab_ids
    bad_vocab_ids = {
        "is_subword not covering the tokens": pt.VocabIds(ids.cls_id, ids.sep_id, ids.mask_id, ids.random_words,
                                                           ids.is_subword[:6]),
        "a [MASK] id outside the vocab": pt.VocabIds(ids.cls_id, ids.sep_id, 10**6, ids.random_words,
                                                     ids.is_subword),
        "random words outside the vocab": pt.VocabIds(ids.cls_id, ids.sep_id, ids.mask_id, ids.random_words - 100,
                                                      ids.is_subword),
        "no random words": pt.VocabIds(ids.cls_id, ids.sep_id, ids.mask_id, ids.random_words[:0], ids.is_subword),
    }
    for what, bad in bad_vocab_ids.items():
        with pytest.raises(ValueError):
            pt.create_instances(docs, bad, pt.PretrainingConfig(max_seq_length=24, masking="whole_word"))
            pytest.fail(f"create_instances: {what} was accepted")
    for vocab in ({**tokenizer.vocab, "neg": -3}, {**tokenizer.vocab, "huge": 2**40}, {**tokenizer.vocab, "s": "1"}):
        with pytest.raises(ValueError, match="must be integers"):
            pt.VocabIds.from_vocab(vocab)
    # and the arguments that do belong together still work
    assert len(pt.serialize(docs, instances, rows, vocab_ids, config)) > 0


def test_unknown_masking_or_sentence_pair_names_are_rejected(tokenizer):
    """The config names its strategies; an unknown name is a WptkError listing the known ones (before any work),
    and the kernel refuses it too."""
    from wptk._native.instances import InstanceBuilder
    assert pt.MASKINGS == ("token", "whole_word") and pt.SENTENCE_PAIRS == ("nsp",)
    docs = pt.documents_from_lines(iter(["a b", "", "c d"]), tokenizer)
    vocab_ids = pt.VocabIds.from_vocab(tokenizer.vocab)
    for field, message in (("masking", "unknown masking 'span': one of token, whole_word"),
                           ("sentence_pair", "unknown sentence_pair 'span': one of nsp")):
        config = pt.PretrainingConfig(**{field: "span"})
        with pytest.raises(wptk.WptkError, match=message):
            config.validate()
        with pytest.raises(wptk.WptkError, match=message):
            pt.create_instances(docs, vocab_ids, config)
        with pytest.raises(ValueError, match=message):
            InstanceBuilder(docs.tokens, docs.sentences, docs.documents, np.arange(2, dtype=np.int64),
                            CompatRandom(1), max_seq_length=16, short_seq_prob=0.1, masked_lm_prob=0.15,
                            max_predictions_per_seq=3, random_words=vocab_ids.random_words,
                            is_subword=vocab_ids.is_subword, cls_id=vocab_ids.cls_id, sep_id=vocab_ids.sep_id,
                            mask_id=vocab_ids.mask_id, **{field: "span"})
