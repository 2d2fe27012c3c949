# cython: language_level=3
# Growable buffers of the tokenizer kernel, in C memory so that they are usable without the GIL: a word's
# characters with their source positions (Chars), a word's pieces (Toks) and a call's output (Out).
# Every function returns -1 (the buffer untouched) when out of memory.
from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.stdlib cimport free, realloc

cdef enum:
    ERR_NO_UNK = 1            # Out.error: a word needs [UNK] and the vocabulary has none
    ERR_NOMEM = 2             # Out.error: out of memory


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
    Py_ssize_t text_start # first token of the current text
    int64_t pending       # start of characters waiting for the next token's span, or -1


cdef inline int grow(void** p, size_t nbytes) noexcept nogil:
    """realloc in place of *p; -1 (and *p untouched) when out of memory."""
    cdef void* q = realloc(p[0], nbytes)
    if q == NULL:
        return -1
    p[0] = q
    return 0


cdef inline Py_ssize_t grown_capacity(Py_ssize_t cap, Py_ssize_t need, Py_ssize_t first) noexcept nogil:
    """The capacity to grow to: `first`, or else `cap` doubled, and doubled again until it holds `need`."""
    cap = cap * 2 if cap else first
    while cap < need:
        cap *= 2
    return cap


cdef inline int chars_reserve(Chars* c, Py_ssize_t need) noexcept nogil:
    cdef Py_ssize_t cap
    if need <= c.cap:
        return 0
    cap = grown_capacity(c.cap, need, 64)
    if grow(<void**>&c.cp, cap * sizeof(uint32_t)) < 0 or grow(<void**>&c.pos, cap * sizeof(int64_t)) < 0:
        return -1
    c.cap = cap
    return 0


cdef inline int chars_push(Chars* c, uint32_t cp, int64_t pos) noexcept nogil:
    if c.n == c.cap and chars_reserve(c, c.n + 1) < 0:
        return -1
    c.cp[c.n] = cp
    c.pos[c.n] = pos
    c.n += 1
    return 0


cdef inline void chars_free(Chars* c) noexcept nogil:
    free(c.cp)
    free(c.pos)
    c.cp = NULL
    c.pos = NULL
    c.n = c.cap = 0


cdef inline int out_reserve(Out* o, Py_ssize_t need) noexcept nogil:
    cdef Py_ssize_t cap
    if need <= o.cap:
        return 0
    cap = grown_capacity(o.cap, need, 256)
    if grow(<void**>&o.ids, cap * sizeof(int32_t)) < 0:
        return -1
    if o.with_offsets and (grow(<void**>&o.starts, cap * sizeof(int64_t)) < 0
                           or grow(<void**>&o.ends, cap * sizeof(int64_t)) < 0):
        return -1
    o.cap = cap
    return 0


cdef inline void out_free(Out* o) noexcept nogil:
    free(o.ids)
    free(o.starts)
    free(o.ends)
    o.ids = NULL
    o.starts = NULL
    o.ends = NULL
    o.n = o.cap = 0


# The pieces of one word: token id and the first and last character of its span, as indices in the word.
cdef struct Toks:
    int32_t* ids
    int32_t* first
    int32_t* last
    Py_ssize_t n
    Py_ssize_t cap


cdef inline int toks_reserve(Toks* t, Py_ssize_t need) noexcept nogil:
    cdef Py_ssize_t cap
    if need <= t.cap:
        return 0
    cap = grown_capacity(t.cap, need, 64)
    if (grow(<void**>&t.ids, cap * sizeof(int32_t)) < 0 or grow(<void**>&t.first, cap * sizeof(int32_t)) < 0
            or grow(<void**>&t.last, cap * sizeof(int32_t)) < 0):
        return -1
    t.cap = cap
    return 0


cdef inline int toks_push(Toks* t, int32_t tid, int32_t first, int32_t last) noexcept nogil:
    if t.n == t.cap and toks_reserve(t, t.n + 1) < 0:
        return -1
    t.ids[t.n] = tid
    t.first[t.n] = first
    t.last[t.n] = last
    t.n += 1
    return 0


cdef inline void toks_free(Toks* t) noexcept nogil:
    free(t.ids)
    free(t.first)
    free(t.last)
    t.ids = t.first = t.last = NULL
    t.n = t.cap = 0
