# cython: language_level=3
# Pre-tokenization stage of the tokenizer kernel: text -> words, before normalization. Two pre-tokenizers, each
# a scanner that collects the next word of the text into a Chars buffer (characters and their text positions)
# and returns where the one after it starts (or -1 when out of memory); an empty word is not a word.
from libc.stdint cimport uint16_t, uint32_t

from wptk._native.buffers cimport Chars, chars_push
from wptk._native.flags cimport F_BREAK, F_CJK, F_DELETE, F_MONGOLIAN, F_SOFT, F_SPACE, F_WS, NNBSP
from wptk._native.pyunicode cimport PyUnicode_READ


cdef inline Py_ssize_t ideograph(Chars* word, uint32_t cp, Py_ssize_t i) noexcept nogil:
    """A CJK ideograph at i is a word of its own: it ends the word before it, or else is the word."""
    if word.n:
        return i
    return i + 1 if chars_push(word, cp, i) == 0 else -1


cdef inline Py_ssize_t next_word_bert(const uint16_t* flags, bint clean, bint cjk, int kind, void* data,
                                      Py_ssize_t length, Py_ssize_t i, Chars* word) noexcept nogil:
    """BERT's BasicTokenizer: `clean` is _clean_text (F_DELETE characters dropped, F_WS ones whitespace), `cjk`
    puts each CJK ideograph alone; words end at whitespace (str.isspace)."""
    cdef uint32_t cp
    cdef uint16_t f
    while i < length:
        cp = PyUnicode_READ(kind, data, i)
        f = flags[cp]
        if clean:
            if f & F_DELETE:
                i += 1
                continue
            if f & F_WS:
                f = F_SPACE
        if f & F_SPACE:
            i += 1
            if word.n:
                return i
            continue
        if cjk and f & F_CJK:
            return ideograph(word, cp, i)
        if chars_push(word, cp, i) < 0:
            return -1
        i += 1
    return i


cdef inline Py_ssize_t next_word_multilingual(const uint16_t* flags, int kind, void* data, Py_ssize_t length,
                                              Py_ssize_t i, Chars* word) noexcept nogil:
    """The multilingual mode: nothing is deleted (controls, format characters, joiners and selectors stay in their
    word, transparent to WordPiece), ZERO WIDTH SPACE ends words, CJK ideographs stand alone, and U+202F between
    Mongolian letters starts the next (suffix) word, which it belongs to."""
    cdef uint32_t cp
    cdef uint16_t f
    while i < length:
        cp = PyUnicode_READ(kind, data, i)
        f = flags[cp]
        if f & F_BREAK:
            i += 1
            if word.n:
                return i
            continue
        if f & F_SOFT:
            if chars_push(word, cp, i) < 0:
                return -1
            i += 1
            continue
        if f & (F_WS | F_SPACE):
            if word.n:
                return i
            if (cp == NNBSP and i > 0 and i + 1 < length and flags[PyUnicode_READ(kind, data, i - 1)]
                    & F_MONGOLIAN and flags[PyUnicode_READ(kind, data, i + 1)] & F_MONGOLIAN):
                if chars_push(word, cp, i) < 0:
                    return -1
            i += 1
            continue
        if f & F_CJK:
            return ideograph(word, cp, i)
        if chars_push(word, cp, i) < 0:
            return -1
        i += 1
    return i
