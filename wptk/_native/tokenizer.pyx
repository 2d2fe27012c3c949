# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""BERT BasicTokenizer + WordPiece over code points, in one typed C loop.

Stages, in the reference's order, per whitespace-delimited word:
  clean (drop controls, map whitespace)  ->  isolate CJK ideographs  ->  normalize (lower / NFD / drop Mn)
  ->  split punctuation  ->  greedy longest-match WordPiece over a code-point trie.
Tables come from `wptk.chartable`; the kernel holds no Unicode knowledge of its own.
"""
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_FromKindAndData
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t, uint64_t, uint8_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset

import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from "Python.h":
    int PyUnicode_READY(object) except -1
    int PyUnicode_KIND(object)
    void* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    uint32_t PyUnicode_READ(int kind, void* data, Py_ssize_t i) nogil

# Flag bits, as defined in wptk/chartable.py.
cdef enum:
    F_DELETE = 1 << 0
    F_WS = 1 << 1
    F_CJK = 1 << 2
    F_PUNCT = 1 << 3
    F_SPACE = 1 << 4
    F_CASED = 1 << 5
    F_CASE_IGNORABLE = 1 << 6
    F_MN = 1 << 7
    F_REORDER = 1 << 8
    F_MAPPED = 1 << 9

cdef enum:
    CAPITAL_SIGMA = 0x3A3
    SMALL_SIGMA = 0x3C3
    FINAL_SIGMA = 0x3C2
    NO_NODE = -1
    ERR_NO_UNK = 1
    ERR_NOMEM = 2


# ---------------------------------------------------------------------------------------------------------------
# Growable buffers (C memory, usable without the GIL)

cdef struct Chars:
    uint32_t* cp
    int64_t* pos          # index of the source character in the original text
    Py_ssize_t n
    Py_ssize_t cap


cdef struct Out:
    int32_t* ids
    int64_t* starts
    int64_t* ends
    Py_ssize_t n
    Py_ssize_t cap
    bint with_offsets
    bint strict_unk       # ids are wanted, so a missing [UNK] is an error
    int error


cdef int chars_reserve(Chars* c, Py_ssize_t need) noexcept nogil:
    cdef Py_ssize_t cap
    cdef uint32_t* cp
    cdef int64_t* pos
    if need <= c.cap:
        return 0
    cap = c.cap * 2 if c.cap else 64
    while cap < need:
        cap *= 2
    cp = <uint32_t*>realloc(c.cp, cap * sizeof(uint32_t))
    if cp == NULL:
        return -1
    c.cp = cp
    pos = <int64_t*>realloc(c.pos, cap * sizeof(int64_t))
    if pos == NULL:
        return -1
    c.pos = pos
    c.cap = cap
    return 0


cdef inline int chars_push(Chars* c, uint32_t cp, int64_t pos) noexcept nogil:
    if c.n == c.cap and chars_reserve(c, c.n + 1) < 0:
        return -1
    c.cp[c.n] = cp
    c.pos[c.n] = pos
    c.n += 1
    return 0


cdef void chars_free(Chars* c) noexcept nogil:
    free(c.cp)
    free(c.pos)
    c.cp = NULL
    c.pos = NULL
    c.n = c.cap = 0


cdef int out_reserve(Out* o, Py_ssize_t need) noexcept nogil:
    cdef Py_ssize_t cap
    cdef void* p
    if need <= o.cap:
        return 0
    cap = o.cap * 2 if o.cap else 256
    while cap < need:
        cap *= 2
    p = realloc(o.ids, cap * sizeof(int32_t))
    if p == NULL:
        return -1
    o.ids = <int32_t*>p
    if o.with_offsets:
        p = realloc(o.starts, cap * sizeof(int64_t))
        if p == NULL:
            return -1
        o.starts = <int64_t*>p
        p = realloc(o.ends, cap * sizeof(int64_t))
        if p == NULL:
            return -1
        o.ends = <int64_t*>p
    o.cap = cap
    return 0


cdef inline void out_push(Out* o, int32_t tid, int64_t start, int64_t end) noexcept nogil:
    if o.n == o.cap and out_reserve(o, o.n + 1) < 0:
        o.error = ERR_NOMEM
        return
    o.ids[o.n] = tid
    if o.with_offsets:
        o.starts[o.n] = start
        o.ends[o.n] = end
    o.n += 1


cdef void out_free(Out* o) noexcept nogil:
    free(o.ids)
    free(o.starts)
    free(o.ends)
    o.ids = NULL
    o.starts = NULL
    o.ends = NULL
    o.n = o.cap = 0


cdef struct Scratch:
    Chars word            # cleaned characters of one whitespace-delimited word
    Chars norm            # the same word after normalization


cdef void scratch_free(Scratch* s) noexcept nogil:
    chars_free(&s.word)
    chars_free(&s.norm)


# ---------------------------------------------------------------------------------------------------------------
# The vocabulary as a code-point trie stored in one open-addressing hash table: (node, code point) -> child.

cdef inline uint64_t edge_key(int32_t node, uint32_t cp) noexcept nogil:
    return (<uint64_t>node << 21) | cp


cdef inline uint64_t mix(uint64_t k) noexcept nogil:
    k ^= k >> 33
    k *= 0xff51afd7ed558ccdULL
    k ^= k >> 33
    return k


cdef struct TrieView:
    uint64_t* keys
    int32_t* children
    uint64_t mask
    int32_t* values          # token id of the entry ending at a node, or -1
    int32_t start_root
    int32_t cont_root


cdef inline int32_t trie_child(const TrieView* t, int32_t node, uint32_t cp) noexcept nogil:
    cdef uint64_t key = edge_key(node, cp)
    cdef uint64_t slot = mix(key) & t.mask
    cdef uint64_t k
    while True:
        k = t.keys[slot]
        if k == key:
            return t.children[slot]
        if k == <uint64_t>-1:
            return NO_NODE
        slot = (slot + 1) & t.mask


cdef class Trie:
    """Greedy longest-match lookup of WordPiece vocab entries; two roots: word starts and '##' continuations."""
    cdef TrieView view
    cdef int32_t n_nodes
    cdef object _values_array

    def __cinit__(self, entries):
        """`entries`: iterable of (token, id)."""
        entries = list(entries)
        cdef Py_ssize_t n_chars = 2
        for token, _ in entries:
            n_chars += len(token)
        cdef uint64_t size = 16
        while size < <uint64_t>(n_chars * 2):
            size *= 2
        self.view.mask = size - 1
        self.view.keys = <uint64_t*>malloc(size * sizeof(uint64_t))
        self.view.children = <int32_t*>malloc(size * sizeof(int32_t))
        if self.view.keys == NULL or self.view.children == NULL:
            raise MemoryError()
        memset(self.view.keys, 0xFF, size * sizeof(uint64_t))
        values = np.full(n_chars + 2, -1, dtype=np.int32)
        self._values_array = values
        cdef int32_t[::1] vals = values
        self.view.values = &vals[0]
        self.view.start_root = 0
        self.view.cont_root = 1
        self.n_nodes = 2
        for token, tid in entries:
            self._insert(self.view.start_root, token, 0, tid)
            if token.startswith("##"):
                self._insert(self.view.cont_root, token, 2, tid)

    cdef _insert(self, int32_t node, str token, Py_ssize_t begin, int32_t tid):
        cdef Py_ssize_t i
        cdef int32_t child
        if len(token) == begin:
            return
        for i in range(begin, len(token)):
            child = trie_child(&self.view, node, ord(token[i]))
            if child == NO_NODE:
                child = self.n_nodes
                self.n_nodes += 1
                self._add_edge(node, ord(token[i]), child)
            node = child
        self.view.values[node] = tid

    cdef void _add_edge(self, int32_t node, uint32_t cp, int32_t child):
        cdef uint64_t key = edge_key(node, cp)
        cdef uint64_t slot = mix(key) & self.view.mask
        while self.view.keys[slot] != <uint64_t>-1:
            slot = (slot + 1) & self.view.mask
        self.view.keys[slot] = key
        self.view.children[slot] = child

    def __dealloc__(self):
        free(self.view.keys)
        free(self.view.children)


# ---------------------------------------------------------------------------------------------------------------

cdef class Kernel:
    """One tokenizer configuration: which stages run, the normalization tables, the vocab trie.

    Stages (all on for BERT's FullTokenizer; WordpieceTokenizer alone turns clean/cjk/punct off):
      clean: drop F_DELETE characters and treat F_WS as whitespace;  cjk: isolate CJK ideographs;
      lower / strip_accents: str.lower() and NFD + drop Mn;  punct: split punctuation;
      wordpiece: greedy longest match (off for BasicTokenizer, which returns the words).
    """
    cdef const uint16_t* flags
    cdef const int32_t* map_off
    cdef const uint32_t* pool
    cdef const uint8_t* ccc
    cdef bint clean, cjk, lower, strip, punct
    cdef Trie trie
    cdef TrieView tv
    cdef int32_t unk_id
    cdef Py_ssize_t max_chars
    cdef list id_strings
    cdef object unk_token
    cdef object _keep
    cdef Scratch scratch           # for the calls that hold the GIL

    def __cinit__(self, flags, map_off, pool, ccc, *, bint clean, bint cjk, bint lower, bint strip_accents,
                  bint punct, Trie trie=None, id_strings=None, int unk_id=-1, unk_token="[UNK]",
                  Py_ssize_t max_chars=200):
        cdef const uint16_t[::1] f = flags
        cdef const int32_t[::1] m = map_off
        cdef const uint32_t[::1] p = pool
        cdef const uint8_t[::1] c = ccc
        self._keep = (flags, map_off, pool, ccc)
        self.flags = &f[0]
        self.map_off = &m[0]
        self.pool = &p[0]
        self.ccc = &c[0]
        self.clean, self.cjk, self.lower, self.strip, self.punct = clean, cjk, lower, strip_accents, punct
        self.trie = trie
        if trie is not None:
            self.tv = trie.view
        self.id_strings = id_strings
        self.unk_id = unk_id
        self.unk_token = unk_token
        self.max_chars = max_chars
        memset(&self.scratch, 0, sizeof(Scratch))

    def __dealloc__(self):
        scratch_free(&self.scratch)

    # -- the per-text loop ----------------------------------------------------------------------------------

    cdef int run(self, int kind, void* data, Py_ssize_t length, Scratch* s, Out* out, list words) noexcept nogil:
        """Tokenizes one text into `out` (ids/offsets), or into `words` (basic tokens, needs the GIL)."""
        cdef Py_ssize_t i
        cdef uint32_t cp
        cdef uint16_t f
        s.word.n = 0
        for i in range(length):
            cp = PyUnicode_READ(kind, data, i)
            f = self.flags[cp]
            if self.clean:
                if f & F_DELETE:
                    continue
                if f & F_WS:
                    f = F_SPACE
            if f & F_SPACE:
                if self.word(s, out, words) < 0:
                    return -1
                continue
            if self.cjk and f & F_CJK:
                if self.word(s, out, words) < 0:
                    return -1
            if chars_push(&s.word, cp, i) < 0:
                return -1
            if self.cjk and f & F_CJK:
                if self.word(s, out, words) < 0:
                    return -1
        return self.word(s, out, words)

    cdef int word(self, Scratch* s, Out* out, list words) noexcept nogil:
        """Normalizes the collected word, splits punctuation and emits its pieces; empties the word."""
        cdef Chars* w = &s.word
        cdef Chars* src = w
        cdef Py_ssize_t j, start = 0
        cdef uint32_t cp
        cdef uint16_t f
        if w.n == 0:
            return 0
        if self.lower or self.strip:
            if self.normalize(w, &s.norm) < 0:
                return -1
            src = &s.norm
        for j in range(src.n):
            f = self.flags[src.cp[j]]
            if f & F_SPACE:
                if self.piece(src, start, j, out, words) < 0:
                    return -1
                start = j + 1
            elif self.punct and f & F_PUNCT:
                if self.piece(src, start, j, out, words) < 0 or self.piece(src, j, j + 1, out, words) < 0:
                    return -1
                start = j + 1
        if self.piece(src, start, src.n, out, words) < 0:
            return -1
        w.n = 0
        return 0

    cdef int normalize(self, Chars* w, Chars* out) noexcept nogil:
        """str.lower() and/or NFD with Mn removed, per character; the final sigma and NFD's canonical
        reordering are the only context the reference's whole-word calls add, and are handled here."""
        cdef Py_ssize_t i, k, n_reorder = 0
        cdef uint32_t cp, m
        cdef uint16_t f
        cdef const uint32_t* seq
        out.n = 0
        for i in range(w.n):
            cp = w.cp[i]
            f = self.flags[cp]
            if f & F_REORDER:
                n_reorder += 1
            if self.lower and cp == CAPITAL_SIGMA:
                if chars_push(out, FINAL_SIGMA if self.final_sigma(w, i) else SMALL_SIGMA, w.pos[i]) < 0:
                    return -1
            elif f & F_MAPPED:
                seq = self.pool + self.map_off[cp]
                for k in range(1, seq[0] + 1):
                    if chars_push(out, seq[k], w.pos[i]) < 0:
                        return -1
            elif chars_push(out, cp, w.pos[i]) < 0:
                return -1
        if self.strip:
            if n_reorder >= 2:
                self.canonical_reorder(out)
            k = 0
            for i in range(out.n):
                m = out.cp[i]
                if not (self.flags[m] & F_MN):
                    out.cp[k] = m
                    out.pos[k] = out.pos[i]
                    k += 1
            out.n = k
        return 0

    cdef bint final_sigma(self, Chars* w, Py_ssize_t i) noexcept nogil:
        """Python's Final_Sigma context: cased (case-ignorable)* SIGMA, not followed by (case-ignorable)* cased."""
        cdef Py_ssize_t j = i - 1
        while j >= 0 and self.flags[w.cp[j]] & F_CASE_IGNORABLE:
            j -= 1
        if j < 0 or not (self.flags[w.cp[j]] & F_CASED):
            return False
        j = i + 1
        while j < w.n and self.flags[w.cp[j]] & F_CASE_IGNORABLE:
            j += 1
        return j == w.n or not (self.flags[w.cp[j]] & F_CASED)

    cdef void canonical_reorder(self, Chars* c) noexcept nogil:
        """Stable sort of each run of non-starters by combining class (NFD's canonical ordering)."""
        cdef Py_ssize_t i, j
        cdef uint32_t cp
        cdef int64_t pos
        for i in range(1, c.n):
            cp = c.cp[i]
            if self.ccc[cp] == 0:
                continue
            pos = c.pos[i]
            j = i
            while j > 0 and self.ccc[c.cp[j - 1]] > self.ccc[cp]:
                c.cp[j] = c.cp[j - 1]
                c.pos[j] = c.pos[j - 1]
                j -= 1
            c.cp[j] = cp
            c.pos[j] = pos

    cdef int piece(self, Chars* c, Py_ssize_t a, Py_ssize_t b, Out* out, list words) noexcept nogil:
        """Emits c[a:b]: as one basic token (`words`) or as WordPiece ids (`out`)."""
        if a >= b:
            return 0
        if words is not None:
            with gil:
                words.append(PyUnicode_FromKindAndData(4, c.cp + a, b - a))
            return 0
        self.wordpiece(c, a, b, out)
        return -1 if out.error else 0

    cdef void wordpiece(self, Chars* c, Py_ssize_t a, Py_ssize_t b, Out* out) noexcept nogil:
        """Greedy longest-match-first; a word too long or with an unmatched position becomes [UNK]."""
        cdef Py_ssize_t mark = out.n, s = a, k, best_end
        cdef int32_t node, best_id
        cdef const TrieView* trie = &self.tv
        if b - a <= self.max_chars:
            while s < b:
                node = trie.start_root if s == a else trie.cont_root
                best_end = -1
                best_id = -1
                k = s
                while k < b:
                    node = trie_child(trie, node, c.cp[k])
                    if node == NO_NODE:
                        break
                    k += 1
                    if trie.values[node] >= 0:
                        best_end = k
                        best_id = trie.values[node]
                if best_end < 0:
                    break
                out_push(out, best_id, c.pos[s], c.pos[best_end - 1] + 1)
                s = best_end
            if s == b:
                return
        out.n = mark
        if self.unk_id < 0 and out.strict_unk:
            out.error = ERR_NO_UNK
        out_push(out, self.unk_id, c.pos[a], c.pos[b - 1] + 1)

    # -- Python entry points --------------------------------------------------------------------------------

    cdef int _tokenize_one(self, str text, Out* out, list words) except -1:
        PyUnicode_READY(text)
        if self.run(PyUnicode_KIND(text), PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text),
                    &self.scratch, out, words) < 0:
            raise MemoryError() if out.error != ERR_NO_UNK else ValueError(
                "the vocabulary has no [UNK] token, but this text needs one")
        return 0

    def basic_tokenize(self, str text):
        """The words BasicTokenizer returns (no WordPiece)."""
        cdef list words = []
        cdef Out out
        memset(&out, 0, sizeof(Out))
        self._tokenize_one(text, &out, words)
        return words

    def tokenize(self, str text):
        """WordPiece tokens as shared Python strings (one object per vocab entry)."""
        cdef Out out
        cdef Py_ssize_t i
        cdef list result
        cdef object s
        memset(&out, 0, sizeof(Out))
        try:
            self._tokenize_one(text, &out, None)
            result = PyList_New(out.n)
            for i in range(out.n):
                s = self.unk_token if out.ids[i] < 0 else self.id_strings[out.ids[i]]
                Py_INCREF(s)
                PyList_SET_ITEM(result, i, s)
            return result
        finally:
            out_free(&out)

    def encode(self, str text, bint offsets=False):
        """Ids (int32 array) of one text, and with `offsets` an int64 [n, 2] array of character spans."""
        ids, _, offs = self.encode_batch([text], offsets)
        return (ids, offs) if offsets else ids

    def encode_batch(self, texts, bint offsets=False):
        """(ids, row_splits, offsets-or-None) for a sequence of str; the GIL is released while tokenizing."""
        cdef list items = list(texts)
        cdef Py_ssize_t n = len(items), t
        cdef cnp.ndarray[int64_t, ndim=1] splits = np.zeros(n + 1, dtype=np.int64)
        cdef int* kinds = <int*>malloc((n + 1) * sizeof(int))
        cdef void** datas = <void**>malloc((n + 1) * sizeof(void*))
        cdef Py_ssize_t* lengths = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
        cdef Out out
        cdef Scratch s
        cdef int rc = 0
        memset(&out, 0, sizeof(Out))
        memset(&s, 0, sizeof(Scratch))
        out.with_offsets = offsets
        out.strict_unk = True
        try:
            if kinds == NULL or datas == NULL or lengths == NULL:
                raise MemoryError()
            for t in range(n):
                text = items[t]
                if not isinstance(text, str):
                    raise TypeError(f"encode_batch expects str items, got {type(text).__name__} at index {t}")
                PyUnicode_READY(text)
                kinds[t] = PyUnicode_KIND(text)
                datas[t] = PyUnicode_DATA(text)
                lengths[t] = PyUnicode_GET_LENGTH(text)
            with nogil:
                for t in range(n):
                    if self.run(kinds[t], datas[t], lengths[t], &s, &out, None) < 0:
                        rc = -1
                        break
                    splits[t + 1] = out.n
            if rc < 0:
                if out.error == ERR_NO_UNK:
                    raise ValueError("the vocabulary has no [UNK] token, but this text needs one")
                raise MemoryError()
            ids = np.empty(out.n, dtype=np.int32)
            if out.n:
                ids[:] = <int32_t[:out.n]>out.ids
            offs = None
            if offsets:
                offs = np.empty((out.n, 2), dtype=np.int64)
                if out.n:
                    offs[:, 0] = <int64_t[:out.n]>out.starts
                    offs[:, 1] = <int64_t[:out.n]>out.ends
            return ids, splits, offs
        finally:
            free(kinds)
            free(datas)
            free(lengths)
            out_free(&out)
            scratch_free(&s)
