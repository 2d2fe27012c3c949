"""Drop-in replacements for BERT's `tokenization.py` classes, backed by the native kernel.

`import wptk` instead of `import tokenization`: the names, arguments and results are the reference's.
"""
import functools
import os

from wptk import chartable
from wptk._native.tokenizer import Kernel, Trie
from wptk.vocab import UNK, check_case, load_vocab

__all__ = ["FullTokenizer", "BasicTokenizer", "WordpieceTokenizer", "load_vocab", "convert_to_unicode",
           "whitespace_tokenize", "convert_by_vocab", "detokenize"]


def convert_to_unicode(text):
    """str as is; bytes decoded as UTF-8, dropping invalid bytes (the reference's behaviour)."""
    if isinstance(text, str):
        return text
    if isinstance(text, bytes):
        return text.decode("utf-8", "ignore")
    raise ValueError(f"Unsupported string type: {type(text)}")


def whitespace_tokenize(text):
    """Strips and splits on whitespace (`str.split()` semantics)."""
    return text.split()


def convert_by_vocab(vocab, items):
    """Maps tokens to ids or ids to tokens; a missing item raises KeyError, as in the reference."""
    return [vocab[item] for item in items]


@functools.lru_cache(maxsize=None)
def _tables(lower, strip_accents, multilingual=False):
    flags, offsets, pool = chartable.normalization(lower, strip_accents)
    if multilingual:
        flags = chartable.multilingual_flags()
    return flags, offsets, pool, chartable.combining_classes()


@functools.lru_cache(maxsize=None)
def thai_dictionary():
    """The bundled Thai word list (CC0, from PyThaiNLP) as a trie, for the multilingual mode."""
    path = os.path.join(os.path.dirname(__file__), "data", "words_th.txt")
    with open(path, encoding="utf-8") as f:
        return Trie((word, 0) for word in f.read().split("\n") if word)


def _soft_kept(vocab):
    """The soft characters (joiners, selectors, U+202F) that some vocab piece contains: WordPiece matches them."""
    flags = chartable.multilingual_flags()
    chars = {c for token in vocab for c in token}
    return [ord(c) for c in chars if flags[ord(c)] & chartable.F_SOFT or ord(c) == chartable.NNBSP]


def _kernel(lower=False, strip_accents=False, clean=True, cjk=True, punct=True, trie=None, id_strings=None,
            unk_id=-1, unk_token=UNK, max_chars=200, multilingual=False, vocab=()):
    if multilingual:
        return Kernel(*_tables(False, False, True), clean=True, cjk=True, lower=False, strip_accents=False,
                      punct=True, trie=trie, id_strings=id_strings, unk_id=unk_id, unk_token=unk_token,
                      max_chars=max_chars, multilingual=True, thai=thai_dictionary(), soft_kept=_soft_kept(vocab))
    return Kernel(*_tables(bool(lower), bool(strip_accents)), clean=clean, cjk=cjk, lower=lower,
                  strip_accents=strip_accents, punct=punct, trie=trie, id_strings=id_strings, unk_id=unk_id,
                  unk_token=unk_token, max_chars=max_chars)


def _check_multilingual(multilingual, strip_accents):
    if multilingual and strip_accents:
        raise ValueError("multilingual mode never strips accents (or lowercases, or normalizes)")


def _id_strings(vocab):
    """Python str of every id, so tokenize() returns shared objects (ids not in the dict map to None)."""
    if list(vocab.values()) == list(range(len(vocab))):     # a vocab file without repeated lines
        return list(vocab)
    strings = [None] * (max(vocab.values()) + 1 if vocab else 0)
    for token, i in vocab.items():
        strings[i] = token
    return strings


class BasicTokenizer:
    """Cleaning, CJK splitting, lowercasing/accent stripping and punctuation splitting.

    `multilingual=True` selects the multilingual pre-tokenizer instead (docs/multilingual.md): no lowercasing,
    accent stripping or normalization (`do_lower_case` is ignored), Thai word segmentation, joiners and
    selectors kept in their words, Mongolian suffixes split off at U+202F.
    """

    def __init__(self, do_lower_case=True, strip_accents=None, multilingual=False):
        _check_multilingual(multilingual, strip_accents)
        self.multilingual = multilingual
        self.do_lower_case = do_lower_case and not multilingual
        self.strip_accents = self.do_lower_case if strip_accents is None else strip_accents
        self._kernel = _kernel(lower=self.do_lower_case, strip_accents=self.strip_accents,
                               multilingual=multilingual)

    def tokenize(self, text):
        """Tokenizes a piece of text into words and punctuation."""
        return self._kernel.basic_tokenize(convert_to_unicode(text))


class WordpieceTokenizer:
    """Greedy longest-match-first WordPiece over whitespace-separated words."""

    def __init__(self, vocab, unk_token=UNK, max_input_chars_per_word=200):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        self._kernel = _kernel(clean=False, cjk=False, punct=False, trie=Trie(vocab.items()),
                               id_strings=_id_strings(vocab), unk_id=vocab.get(unk_token, -1),
                               unk_token=unk_token, max_chars=max_input_chars_per_word)

    def tokenize(self, text):
        """Word pieces of the whitespace-separated words of `text`."""
        return self._kernel.tokenize(convert_to_unicode(text))


class FullTokenizer:
    """BasicTokenizer + WordPiece in one native pass.

    Beyond the reference: `strip_accents` (default: follows `do_lower_case`), `encode_batch` returning numpy
    arrays without per-token Python objects, and character offsets.
    """

    def __init__(self, vocab_file, do_lower_case=True, strip_accents=None, multilingual=False):
        _check_multilingual(multilingual, strip_accents)
        self.vocab = load_vocab(vocab_file)
        self.multilingual = multilingual
        self.do_lower_case = do_lower_case and not multilingual
        self.strip_accents = self.do_lower_case if strip_accents is None else strip_accents
        check_case(self.vocab, self.do_lower_case, vocab_file, multilingual)
        self._kernel = _kernel(lower=self.do_lower_case, strip_accents=self.strip_accents,
                               trie=Trie(self.vocab.items()), id_strings=_id_strings(self.vocab),
                               unk_id=self.vocab.get(UNK, -1), multilingual=multilingual, vocab=self.vocab)

    @functools.cached_property
    def inv_vocab(self):
        """id -> token, as the reference's attribute (made on first use)."""
        return {v: k for k, v in self.vocab.items()}

    @functools.cached_property
    def basic_tokenizer(self):
        return BasicTokenizer(do_lower_case=self.do_lower_case, strip_accents=self.strip_accents,
                              multilingual=self.multilingual)

    @functools.cached_property
    def wordpiece_tokenizer(self):
        return WordpieceTokenizer(vocab=self.vocab)

    def tokenize(self, text):
        """WordPiece tokens of `text` (list of str), identical to the reference."""
        return self._kernel.tokenize(convert_to_unicode(text))

    def encode(self, text, offsets=False):
        """int32 ids of `text`; with `offsets`, also an int64 [n, 2] array of [start, end) character spans."""
        return self._kernel.encode(convert_to_unicode(text), offsets)

    def encode_batch(self, texts, offsets=False):
        """(ids, row_splits) for many texts, or (ids, row_splits, offsets) with `offsets`.

        ids: int32, all texts' ids concatenated (no special tokens); row_splits: int64 of len(texts) + 1, text i
        is ids[row_splits[i]:row_splits[i + 1]]; offsets: int64 [n, 2] character spans in each text. The GIL is
        released while tokenizing, so threads scale.
        """
        ids, splits, offs = self._kernel.encode_batch(texts, offsets)
        return (ids, splits, offs) if offsets else (ids, splits)

    def convert_tokens_to_ids(self, tokens):
        return convert_by_vocab(self.vocab, tokens)

    def convert_ids_to_tokens(self, ids):
        return convert_by_vocab(self.inv_vocab, ids)

    def release_memory(self):
        """Frees the word caches and buffers kept between calls (tens of MB on large corpora) and returns free
        heap memory to the system; the tokenizer stays usable."""
        self._kernel.release_memory()


def detokenize(tokens, offsets):
    """Text rebuilt from WordPiece tokens and their character spans: '##' pieces and tokens whose spans touch
    are joined, a gap between spans becomes one space. Exact for text whose words are separated by single
    spaces and that has no [UNK] and no characters WordPiece steps over."""
    parts = []
    previous_end = None
    for token, (start, end) in zip(tokens, offsets):
        if previous_end is not None and start > previous_end:
            parts.append(" ")
        parts.append(token[2:] if token.startswith("##") else token)
        previous_end = end
    return "".join(parts)
