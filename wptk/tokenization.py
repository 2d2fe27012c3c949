"""Drop-in replacements for BERT's `tokenization.py` classes, backed by the native kernel.

`import wptk` instead of `import tokenization`: the names, arguments and results are the reference's.
"""
import collections
import functools
import numbers
import os

import numpy as np

from wptk import chartable
from wptk._native.tokenizer import Kernel
from wptk._native.trie import Trie
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
    chars = {c for token in vocab if isinstance(token, str) for c in token}
    return [ord(c) for c in chars if flags[ord(c)] & chartable.F_SOFT or ord(c) == chartable.NNBSP]


def _kernel(lower=False, strip_accents=False, clean=True, cjk=True, punct=True, vocab=None, unk_token=UNK,
            max_chars=200, multilingual=False, with_ids=False):
    """The native kernel of a configuration; with `vocab` (token -> id), its WordPiece tables (`with_ids`: with
    the ids encode() returns)."""
    words = {} if vocab is None else _vocab_tables(vocab, unk_token, with_ids)
    if multilingual:
        return Kernel(*_tables(False, False, True), clean=True, cjk=True, lower=False, strip_accents=False,
                      punct=True, unk_token=unk_token, max_chars=max_chars, multilingual=True,
                      thai=thai_dictionary(), soft_kept=_soft_kept(words.get("id_strings", ())), **words)
    return Kernel(*_tables(bool(lower), bool(strip_accents)), clean=clean, cjk=cjk, lower=lower,
                  strip_accents=strip_accents, punct=punct, unk_token=unk_token, max_chars=max_chars, **words)


def _vocab_tables(vocab, unk_token, with_ids):
    """The kernel's view of a vocab dict. The trie maps each str token to its position in the dict, which
    indexes the strings tokenize() returns, so any dict gives the reference's tokens: ids are never looked at
    (negative, huge or non-int ids are fine) and a key that is not a str never matches, as in the reference.
    `with_ids`: also the ids encode() returns, by position (None when they are the positions, as in a vocab file
    without repeated lines); they must be int32."""
    strings = list(vocab)
    id_map = None
    if with_ids:
        ids = list(vocab.values())
        if ids != list(range(len(ids))):
            if not all(isinstance(i, numbers.Integral) and 0 <= i < 2**31 for i in ids):
                raise ValueError("vocab ids must be integers from 0 to 2**31 - 1")
            id_map = np.array(ids, dtype=np.int32)
    unk_id = strings.index(unk_token) if isinstance(unk_token, str) and unk_token in vocab else -1
    trie = Trie((token, i) for i, token in enumerate(strings) if isinstance(token, str))
    return dict(trie=trie, id_strings=strings, id_map=id_map, unk_id=unk_id)


def _check_multilingual(multilingual, strip_accents):
    if multilingual and strip_accents:
        raise ValueError("multilingual mode never strips accents (or lowercases, or normalizes)")


class _Rebuilt:
    """Pickling and copying that carry only the options and the vocab: the native kernel and cached values are
    left out of the state, and `_build()` makes them again from it."""
    _derived = ("_kernel", "inv_vocab", "basic_tokenizer", "wordpiece_tokenizer")

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in self._derived}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._build()

    def __copy__(self):
        """A new tokenizer sharing this one's vocab and kernel (immutable and thread-safe): no rebuilding."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        return copy


class BasicTokenizer(_Rebuilt):
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
        self._build()

    def _build(self):
        self._kernel = _kernel(lower=self.do_lower_case, strip_accents=self.strip_accents,
                               multilingual=self.multilingual)

    def tokenize(self, text):
        """Tokenizes a piece of text into words and punctuation."""
        return self._kernel.basic_tokenize(convert_to_unicode(text))


class WordpieceTokenizer(_Rebuilt):
    """Greedy longest-match-first WordPiece over whitespace-separated words."""

    def __init__(self, vocab, unk_token=UNK, max_input_chars_per_word=200):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        self._build()

    def _build(self):
        self._kernel = _kernel(clean=False, cjk=False, punct=False, vocab=self.vocab, unk_token=self.unk_token,
                               max_chars=self.max_input_chars_per_word)

    def tokenize(self, text):
        """Word pieces of the whitespace-separated words of `text`."""
        return self._kernel.tokenize(convert_to_unicode(text))


class FullTokenizer(_Rebuilt):
    """BasicTokenizer + WordPiece in one native pass.

    Beyond the reference: `strip_accents` (default: follows `do_lower_case`), `encode_batch` returning numpy
    arrays without per-token Python objects, character offsets, and pickling that carries the vocab's tokens
    and the options, not the native tables.
    """

    def __init__(self, vocab_file, do_lower_case=True, strip_accents=None, multilingual=False):
        _check_multilingual(multilingual, strip_accents)
        self.vocab = load_vocab(vocab_file)
        self.multilingual = multilingual
        self.do_lower_case = do_lower_case and not multilingual
        self.strip_accents = self.do_lower_case if strip_accents is None else strip_accents
        check_case(self.vocab, self.do_lower_case, vocab_file, multilingual)
        self._build()

    def _build(self):
        self._kernel = _kernel(lower=self.do_lower_case, strip_accents=self.strip_accents, vocab=self.vocab,
                               multilingual=self.multilingual, with_ids=True)

    def __getstate__(self):
        """The vocab as its tokens in order (and its ids only when they are not the line numbers)."""
        state = super().__getstate__()
        ids = list(self.vocab.values())
        state["vocab"] = (list(self.vocab), None if ids == list(range(len(ids))) else ids)
        return state

    def __setstate__(self, state):
        tokens, ids = state["vocab"]
        state = {**state, "vocab": collections.OrderedDict(zip(tokens, range(len(tokens)) if ids is None else ids))}
        super().__setstate__(state)

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
        """(ids, row_splits) for many texts (a sequence of str, not one str), or (ids, row_splits, offsets) with
        `offsets`.

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
