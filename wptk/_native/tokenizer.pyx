# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""BERT BasicTokenizer + WordPiece over code points: the stages, composed into one pass per character.

Each stage is a unit of inline functions in its own .pxd, compiled into this module:
  pretokenize.pxd  text -> words: BERT's (clean text, whitespace, CJK) or the multilingual one
  normalize.pxd    word -> normalized word: str.lower(), NFD and accent stripping, final sigma
  (here)           normalized word -> basic tokens: punctuation split; multilingual: Thai runs (thai.pxd)
  wordpiece.pxd    basic token -> pieces: greedy longest match over the vocab trie (trie.pxd)
with the growable buffers (buffers.pxd) and the per-word cache of pieces (wordcache.pxd) between them.
Tables come from `wptk.chartable`; the kernel holds no Unicode knowledge of its own.
"""
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_FromKindAndData
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t, uint64_t, uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import numpy as np
cimport numpy as cnp

cnp.import_array()

from wptk._native.buffers cimport (ERR_NO_UNK, ERR_NOMEM, Chars, Out, Toks, chars_free, grow, out_free, out_reserve,
                                   toks_free)
from wptk._native.flags cimport F_PUNCT, F_SPACE, F_THAI
from wptk._native.normalize cimport Normalizer, normalize
from wptk._native.pretokenize cimport next_word_bert, next_word_multilingual
from wptk._native.pyunicode cimport (PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND, PyUnicode_READY,
                                     list_item, unicode_check, unicode_data, unicode_is_ready, unicode_kind,
                                     unicode_length)
from wptk._native.thai cimport Cuts, cuts_free, thai_words
from wptk._native.trie cimport Trie, TrieView
from wptk._native.wordcache cimport (CACHE_MAX_WORD, Cache, cache_find, cache_free, cache_init, cache_store,
                                     hash_chars)
from wptk._native.wordpiece cimport (MAX_SOFT_KEPT, PENDING, WordPiece, n_matched, wordpiece,
                                     wordpiece_transparent)

cdef enum:
    POOL_MAX = 8


cdef extern from *:
    """
    #if defined(__GLIBC__)
    #include <malloc.h>
    static void trim_heap(void) { malloc_trim(0); }
    #else
    static void trim_heap(void) { }
    #endif
    """
    void trim_heap() nogil


cdef struct Scratch:
    Chars word            # cleaned characters of one whitespace-delimited word (pos: index in the text)
    Chars norm            # the word after normalization (pos: index in the word)
    Chars real            # multilingual: the characters of a basic token that WordPiece matches (pos: in norm)
    Toks toks             # the word's pieces
    Cache cache
    Out out               # ids and offsets of a call, kept allocated (and faulted in) between calls
    Cuts cuts             # Thai segmentation


cdef int scratch_init(Scratch* s) noexcept nogil:
    memset(s, 0, sizeof(Scratch))
    return cache_init(&s.cache)


cdef Out* start_output(Scratch* s, bint with_offsets, bint strict_unk) noexcept nogil:
    """The scratch space's output buffers, emptied for a new call (NULL when out of memory)."""
    cdef Out* o = &s.out
    o.n = 0
    o.error = 0
    o.strict_unk = strict_unk
    if with_offsets and not o.with_offsets and o.cap:   # the offset arrays may lag behind the ids
        if grow(<void**>&o.starts, o.cap * sizeof(int64_t)) < 0 or grow(<void**>&o.ends, o.cap * sizeof(int64_t)) < 0:
            return NULL
    o.with_offsets = o.with_offsets or with_offsets
    return o


cdef void scratch_free(Scratch* s) noexcept nogil:
    chars_free(&s.word)
    chars_free(&s.norm)
    chars_free(&s.real)
    toks_free(&s.toks)
    cache_free(&s.cache)
    out_free(&s.out)
    cuts_free(&s.cuts)


cdef _raise(int error):
    if error == ERR_NO_UNK:
        raise ValueError("the vocabulary has no [UNK] token, but this text needs one")
    raise MemoryError()


# ---------------------------------------------------------------------------------------------------------------

cdef class Kernel:
    """One tokenizer configuration: which stages run, the normalization tables, the vocab trie.

    Stages (all on for BERT's FullTokenizer; WordpieceTokenizer alone turns clean/cjk/punct off):
      clean: drop F_DELETE characters and treat F_WS as whitespace;  cjk: isolate CJK ideographs;
      lower / strip_accents: str.lower() and NFD + drop Mn;  punct: split punctuation;
      wordpiece: greedy longest match (off for BasicTokenizer, which returns the words);
      multilingual: the multilingual pre-tokenizer, Thai segmentation, WordPiece over soft characters.
    """
    cdef const uint16_t* flags
    cdef Normalizer z
    cdef WordPiece wp
    cdef bint clean, cjk, punct, ml
    cdef Trie trie
    cdef Trie thai                 # multilingual: Thai dictionary (values >= 0 mark word ends)
    cdef TrieView thai_tv
    cdef list id_strings
    cdef object id_map
    cdef object unk_token
    cdef object _keep
    cdef Scratch** idle            # idle scratch spaces (word buffers + warm cache), taken one per call
    cdef int n_idle

    def __cinit__(self, flags, map_off, pool, ccc, *, bint clean, bint cjk, bint lower, bint strip_accents,
                  bint punct, Trie trie=None, list id_strings=None, id_map=None, int unk_id=-1,
                  unk_token="[UNK]", Py_ssize_t max_chars=200, bint multilingual=False, Trie thai=None,
                  soft_kept=()):
        """`trie` values index `id_strings` (the token strings tokenize() returns) and `id_map` (the ids encode()
        returns, int32; None: the index itself); `unk_id` is [UNK]'s index, or -1."""
        if len(flags) < 0x110000 or len(ccc) < 0x110000:
            raise ValueError("the character tables must cover every code point")
        if trie is not None:
            n = len(id_strings) if id_strings is not None else -1
            if trie.n_values > n or not -1 <= unk_id < n or id_map is not None and len(id_map) != n:
                raise ValueError("the trie's values, unk_id and id_map must index id_strings")
        if id_map is not None:
            id_map = np.ascontiguousarray(id_map, dtype=np.int32)
        cdef const uint16_t[::1] f = flags
        cdef const int32_t[::1] m = map_off
        cdef const uint32_t[::1] p = pool
        cdef const uint8_t[::1] c = ccc
        self._keep = (flags, map_off, pool, ccc)
        self.flags = &f[0]
        self.z = Normalizer(flags=&f[0], map_off=&m[0], pool=&p[0], ccc=&c[0], lower=lower, strip=strip_accents)
        self.clean, self.cjk, self.punct, self.ml = clean, cjk, punct, multilingual
        self.trie = trie
        memset(&self.wp, 0, sizeof(WordPiece))
        if trie is not None:
            self.wp.trie = trie.view
        self.wp.unk_id = unk_id
        self.wp.max_chars = max_chars
        self.wp.flags = &f[0]
        soft_kept = sorted(soft_kept)[:MAX_SOFT_KEPT]
        self.wp.n_soft_kept = len(soft_kept)
        for i, cp in enumerate(soft_kept):
            self.wp.soft_kept[i] = cp
        self.thai = thai
        if thai is not None:
            self.thai_tv = thai.view
        self.id_strings = id_strings
        self.id_map = id_map
        self.unk_token = unk_token
        self.idle = <Scratch**>malloc(POOL_MAX * sizeof(Scratch*))
        if self.idle == NULL:
            raise MemoryError()
        self.n_idle = 0

    def __dealloc__(self):
        if self.idle != NULL:
            while self.n_idle > 0:
                self.n_idle -= 1
                scratch_free(self.idle[self.n_idle])
                free(self.idle[self.n_idle])
            free(self.idle)

    def release_memory(self):
        """Frees the idle scratch spaces (word caches, output buffers); later calls allocate them again. Then
        gives the process's free heap memory back to the system (glibc's malloc_trim), or the freed caches and
        whatever else was freed since (a tokenized corpus's temporaries) would stay resident."""
        while self.n_idle > 0:
            self.n_idle -= 1
            scratch_free(self.idle[self.n_idle])
            free(self.idle[self.n_idle])
        with nogil:
            trim_heap()

    cdef Scratch* acquire(self) except NULL:
        """A scratch space for one call (called with the GIL); its cache stays warm across calls."""
        cdef Scratch* s
        if self.n_idle > 0:
            self.n_idle -= 1
            return self.idle[self.n_idle]
        s = <Scratch*>malloc(sizeof(Scratch))
        if s == NULL or scratch_init(s) < 0:
            free(s)
            raise MemoryError()
        return s

    cdef void release(self, Scratch* s) noexcept:
        if self.n_idle < POOL_MAX:
            self.idle[self.n_idle] = s
            self.n_idle += 1
        else:
            scratch_free(s)
            free(s)

    # -- the per-text loop ----------------------------------------------------------------------------------

    cdef int run(self, int kind, void* data, Py_ssize_t length, Scratch* s, Out* out, list words) noexcept nogil:
        """Tokenizes one text into `out` (ids/offsets), or into `words` (basic tokens, needs the GIL)."""
        cdef Py_ssize_t i = 0
        s.word.n = 0
        out.text_start = out.n
        out.pending = -1
        while i < length:
            if self.ml:
                i = next_word_multilingual(self.flags, kind, data, length, i, &s.word)
            else:
                i = next_word_bert(self.flags, self.clean, self.cjk, kind, data, length, i, &s.word)
            if i < 0 or self.word(s, out, words) < 0:
                return -1
        return 0

    cdef int word(self, Scratch* s, Out* out, list words) noexcept nogil:
        """Turns the collected word into basic tokens (`words`) or pieces (`out`); empties the word."""
        cdef Chars* w = &s.word
        cdef uint64_t h = 0
        cdef uint32_t* hit
        cdef bint cacheable
        cdef int rc = 0
        if w.n == 0:
            return 0
        if words is not None:
            rc = self.split_word(s, words)
        else:
            cacheable = s.cache.slots != NULL and w.n <= CACHE_MAX_WORD
            if cacheable:
                h = hash_chars(w.cp, w.n)
                hit = cache_find(&s.cache, h, w.cp, w.n)
                if hit != NULL:
                    rc = self.emit(w, hit[0], <int32_t*>hit + 1, <int32_t*>hit + 1 + hit[0],
                                   <int32_t*>hit + 1 + 2 * hit[0], out)
                    w.n = 0
                    return rc
            s.toks.n = 0
            rc = self.split_word(s, None)
            if rc == 0:
                if cacheable:
                    cache_store(&s.cache, h, w.cp, w.n, &s.toks)
                rc = self.emit(w, s.toks.n, s.toks.ids, s.toks.first, s.toks.last, out)
        w.n = 0
        return rc

    cdef int emit(self, Chars* w, Py_ssize_t n, const int32_t* ids, const int32_t* first, const int32_t* last,
                  Out* out) noexcept nogil:
        cdef Py_ssize_t i
        if out_reserve(out, out.n + n) < 0:
            out.error = ERR_NOMEM
            return -1
        for i in range(n):
            if ids[i] == PENDING:       # extend the previous token of this text, or else the next one
                if out.n > out.text_start:
                    if out.with_offsets:
                        out.ends[out.n - 1] = w.pos[last[i]] + 1
                elif out.pending < 0:
                    out.pending = w.pos[first[i]]
                continue
            if ids[i] < 0 and out.strict_unk:
                out.error = ERR_NO_UNK
                return -1
            out.ids[out.n] = ids[i]
            if out.with_offsets:
                out.starts[out.n] = w.pos[first[i]] if out.pending < 0 else out.pending
                out.ends[out.n] = w.pos[last[i]] + 1
            out.pending = -1
            out.n += 1
        return 0

    cdef int split_word(self, Scratch* s, list words) noexcept nogil:
        """Normalizes s.word into s.norm, then splits it into basic tokens at punctuation and (not in the
        multilingual mode) at whitespace that normalization made."""
        cdef Chars* c = &s.norm
        cdef Py_ssize_t j, start = 0
        cdef uint16_t f
        if normalize(&self.z, &s.word, c) < 0:
            return -1
        for j in range(c.n):
            f = self.flags[c.cp[j]]
            if f & F_SPACE and not self.ml:
                if self.piece(s, start, j, words) < 0:
                    return -1
                start = j + 1
            elif self.punct and f & F_PUNCT:
                if self.segment(s, start, j, words) < 0 or self.piece(s, j, j + 1, words) < 0:
                    return -1
                start = j + 1
        return self.segment(s, start, c.n, words)

    cdef int segment(self, Scratch* s, Py_ssize_t a, Py_ssize_t b, list words) noexcept nogil:
        """Multilingual: splits norm[a:b] into script runs and Thai runs into dictionary words."""
        cdef Py_ssize_t j, r, k
        cdef bint thai
        if not self.ml or self.thai is None:
            return self.piece(s, a, b, words)
        j = a
        while j < b:
            thai = (self.flags[s.norm.cp[j]] & F_THAI) != 0
            r = j + 1
            while r < b and ((self.flags[s.norm.cp[r]] & F_THAI) != 0) == thai:
                r += 1
            if not thai:
                if self.piece(s, j, r, words) < 0:
                    return -1
            else:
                if thai_words(&self.thai_tv, self.flags, s.norm.cp + j, r - j, &s.cuts) < 0:
                    return -1
                k = 0
                while k < r - j:
                    if self.piece(s, j + k, j + s.cuts.next[k], words) < 0:
                        return -1
                    k = s.cuts.next[k]
            j = r
        return 0

    cdef int piece(self, Scratch* s, Py_ssize_t a, Py_ssize_t b, list words) noexcept nogil:
        """Emits norm[a:b] as one basic token (into `words`) or as WordPiece pieces (into s.toks)."""
        if a >= b:
            return 0
        if words is not None:
            if self.ml and n_matched(&self.wp, &s.norm, a, b, True) == 0:
                return 0
            with gil:
                words.append(PyUnicode_FromKindAndData(4, s.norm.cp + a, b - a))
            return 0
        if self.ml:
            return wordpiece_transparent(&self.wp, &s.norm, a, b, &s.real, &s.toks, False)
        return wordpiece(&self.wp, &s.norm, a, b, &s.toks)

    # -- Python entry points --------------------------------------------------------------------------------

    cdef int _run_one(self, object text, Scratch* s, Out* out, list words) except -1:
        """Tokenizes one str (a subclass too, such as numpy.str_: the same storage) into out or words."""
        if not isinstance(text, str):
            raise TypeError(f"expected str, got {type(text).__name__}")
        if words is None and self.trie is None:
            raise ValueError("this tokenizer has no vocabulary (no WordPiece)")
        PyUnicode_READY(text)
        if self.run(PyUnicode_KIND(text), PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), s, out, words) < 0:
            _raise(out.error)
        return 0

    def basic_tokenize(self, text):
        """The words BasicTokenizer returns (no WordPiece)."""
        cdef list words = []
        cdef Out out
        cdef Scratch* s = self.acquire()
        memset(&out, 0, sizeof(Out))
        try:
            self._run_one(text, s, &out, words)
        finally:
            self.release(s)
        return words

    def tokenize(self, text):
        """WordPiece tokens as shared Python strings (one object per vocab entry)."""
        cdef Py_ssize_t i
        cdef list result
        cdef object tok
        cdef Scratch* s = self.acquire()
        cdef Out* out = start_output(s, False, False)
        try:
            self._run_one(text, s, out, None)
            result = PyList_New(out.n)
            for i in range(out.n):
                tok = self.unk_token if out.ids[i] < 0 else self.id_strings[out.ids[i]]
                Py_INCREF(tok)
                PyList_SET_ITEM(result, i, tok)
            return result
        finally:
            self.release(s)

    def encode(self, text, bint offsets=False):
        """Ids (int32 array) of one text, and with `offsets` an int64 [n, 2] array of character spans."""
        if not isinstance(text, str):
            raise TypeError(f"expected str, got {type(text).__name__}")
        ids, _, offs = self.encode_batch([text], offsets)
        return (ids, offs) if offsets else ids

    def encode_batch(self, texts, bint offsets=False):
        """(ids, row_splits, offsets-or-None) for a sequence of str; the GIL is released while tokenizing."""
        if isinstance(texts, (str, bytes, bytearray)):
            raise TypeError(f"encode_batch expects a sequence of str, got one {type(texts).__name__}: "
                            "pass [text], or use encode()")
        if self.trie is None:
            raise ValueError("this tokenizer has no vocabulary (no WordPiece)")
        cdef list items = list(texts)      # our own list: the strings stay alive and in place without the GIL
        cdef PyObject* lst = <PyObject*>items
        cdef PyObject* text
        cdef Py_ssize_t n = len(items), t, bad = -1
        cdef cnp.ndarray[int64_t, ndim=1] splits = np.zeros(n + 1, dtype=np.int64)
        cdef Scratch* s = self.acquire()
        cdef Out* out
        cdef int rc = 0
        try:
            out = start_output(s, offsets, True)
            if out == NULL:
                raise MemoryError()
            with nogil:
                for t in range(n):
                    text = list_item(lst, t)
                    if not unicode_check(text):
                        bad = t
                        break
                    if not unicode_is_ready(text):   # a legacy string (before Python 3.12): made ready once
                        with gil:
                            PyUnicode_READY(<object>text)
                    if self.run(unicode_kind(text), unicode_data(text), unicode_length(text), s, out, None) < 0:
                        rc = -1
                        break
                    splits[t + 1] = out.n
            if bad >= 0:
                raise TypeError(f"encode_batch expects str items, got {type(items[bad]).__name__} at index {bad}")
            if rc < 0:
                _raise(out.error)
            ids = np.empty(out.n, dtype=np.int32)
            if out.n:
                ids[:] = <int32_t[:out.n]>out.ids
            if self.id_map is not None:
                ids = self.id_map[ids]
            offs = None
            if offsets:
                offs = np.empty((out.n, 2), dtype=np.int64)
                if out.n:
                    offs[:, 0] = <int64_t[:out.n]>out.starts
                    offs[:, 1] = <int64_t[:out.n]>out.ends
            return ids, splits, offs
        finally:
            self.release(s)
