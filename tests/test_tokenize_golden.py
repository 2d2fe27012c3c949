"""The reference's own outputs (../shared/data/golden/tokenize.jsonl) reproduced token for token."""
import json
import warnings

import numpy as np
import pytest

import wptk
from oracle import require_shared

CONFIGS = {
    "uncased": ("bert-base-uncased.vocab.txt", True),
    "cased": ("bert-base-cased.vocab.txt", False),
    "multi_cased": ("bert-base-multilingual-cased.vocab.txt", False),
    "multi_cased_lower": ("bert-base-multilingual-cased.vocab.txt", True),
    "chinese": ("bert-base-chinese.vocab.txt", True),
}


@pytest.fixture(scope="module")
def golden():
    path = require_shared() / "golden" / "tokenize.jsonl"
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) >= 1739
    return rows


def tokenizer(config):
    vocab, lower = CONFIGS[config]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multi_cased_lower is deliberately a case mismatch
        return wptk.FullTokenizer(str(require_shared() / "vocab" / vocab), do_lower_case=lower)


@pytest.mark.parametrize("config", CONFIGS)
def test_tokenize_matches_golden(golden, config):
    tok = tokenizer(config)
    mismatches = [(row["id"], row["text"]) for row in golden if tok.tokenize(row["text"]) != row["expected"][config]]
    assert not mismatches, f"{len(mismatches)} of {len(golden)} texts differ, first: {mismatches[:3]!r}"


@pytest.mark.parametrize("config", CONFIGS)
def test_encode_batch_gives_the_golden_tokens_ids(golden, config):
    tok = tokenizer(config)
    ids, splits, offsets = tok.encode_batch([row["text"] for row in golden], offsets=True)
    assert ids.dtype == np.int32 and splits.dtype == np.int64 and offsets.shape == (len(ids), 2)
    assert len(splits) == len(golden) + 1 and splits[0] == 0 and splits[-1] == len(ids)
    for i, row in enumerate(golden):
        expected = [tok.vocab[t] for t in row["expected"][config]]
        assert ids[splits[i]:splits[i + 1]].tolist() == expected, row["id"]
        spans = offsets[splits[i]:splits[i + 1]]
        assert (spans[:, 0] < spans[:, 1]).all() and (spans[:, 1] <= len(row["text"])).all(), row["id"]


@pytest.mark.parametrize("config", ["uncased", "multi_cased", "multilingual"])
def test_unpickled_and_copied_tokenizers_tokenize_the_golden_texts_alike(golden, config):
    import copy
    import pickle

    if config == "multilingual":
        tok = wptk.FullTokenizer(str(require_shared() / "vocab" / CONFIGS["multi_cased"][0]), multilingual=True)
    else:
        tok = tokenizer(config)
    texts = [row["text"] for row in golden]
    expected = tok.encode_batch(texts, offsets=True)
    for other in (pickle.loads(pickle.dumps(tok)), copy.deepcopy(tok), copy.copy(tok)):
        assert [other.tokenize(t) for t in texts] == [tok.tokenize(t) for t in texts]
        for got, want in zip(other.encode_batch(texts, offsets=True), expected):
            assert np.array_equal(got, want)
        basic = pickle.loads(pickle.dumps(tok.basic_tokenizer))
        assert [basic.tokenize(t) for t in texts] == [tok.basic_tokenizer.tokenize(t) for t in texts]
