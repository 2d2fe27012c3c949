"""The reference's own outputs (../shared/data/golden/tokenize.jsonl) reproduced token for token, and the
character spans of those tokens checked against what each covers."""
import json
import unicodedata
import warnings

import numpy as np
import pytest

import wptk
from wptk.testing import require_shared

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
def test_encode_batch_gives_the_golden_tokens_ids_and_spans(golden, config):
    tok, lower = tokenizer(config), CONFIGS[config][1]
    ids, splits, offsets = tok.encode_batch([row["text"] for row in golden], offsets=True)
    assert ids.dtype == np.int32 and splits.dtype == np.int64 and offsets.shape == (len(ids), 2)
    assert len(splits) == len(golden) + 1 and splits[0] == 0 and splits[-1] == len(ids)
    for i, row in enumerate(golden):
        expected = [tok.vocab[t] for t in row["expected"][config]]
        assert ids[splits[i]:splits[i + 1]].tolist() == expected, row["id"]
        check_spans(row["text"], row["expected"][config], offsets[splits[i]:splits[i + 1]].tolist(), lower,
                    row["id"])


def kept(text):
    """`text` without what the reference's _clean_text deletes: NUL, U+FFFD, Cc and Cf but tab, LF and CR."""
    return "".join(c for c in text
                   if c not in "\x00\ufffd" and (c in "\t\n\r" or unicodedata.category(c) not in ("Cc", "Cf")))


def normalized(text, lower):
    """What the reference makes of `text` before WordPiece: deletions, then with lowercasing str.lower(), NFD and
    no Mn. Final sigma folded to sigma: a span's own context may differ from its whole word's."""
    text = kept(text)
    if lower:
        text = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")
    return text.replace("\u03c2", "\u03c3")


def check_spans(text, tokens, spans, lower, row_id):
    """What each span covers: a word's pieces (a token and the ## tokens after it) are exactly its spans' text,
    normalized as the mode does; spans are in order and overlap only on one character whose normalized form the
    pieces share (a Hangul syllable's jamo, say); no span holds a space; every character that yields text is
    covered."""
    where = f"{row_id}: {text!r}"
    words = []      # [pieces, start, end]
    for k, (token, (start, end)) in enumerate(zip(tokens, spans)):
        assert 0 <= start < end <= len(text), where
        assert not any(c.isspace() for c in kept(text[start:end])), (where, token, start, end)
        if k:
            previous_start, previous_end = spans[k - 1]
            assert previous_start <= start and previous_end <= end, (where, spans[k - 1], (start, end))
            if start < previous_end:
                assert start == previous_end - 1 == end - 1 and len(normalized(text[start], lower)) > 1, (
                    where, spans[k - 1], (start, end))
        if token.startswith("##") and words and words[-1][0] != ["[UNK]"]:
            words[-1][0].append(token[2:])
            words[-1][2] = end
        else:
            words.append([[token], start, end])
    for pieces, start, end in words:
        got = normalized(text[start:end], lower)
        if pieces == ["[UNK]"]:
            assert got, (where, start, end)
        else:
            assert "".join(pieces).replace("\u03c2", "\u03c3") == got, (where, pieces, text[start:end])
    covered = {i for start, end in spans for i in range(start, end)}
    missing = [i for i, c in enumerate(text) if i not in covered and not c.isspace() and normalized(c, lower)]
    assert not missing, (where, missing[:5])


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
