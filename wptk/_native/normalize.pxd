# cython: language_level=3
# Normalization stage of the tokenizer kernel: BERT's lowercasing (str.lower()) and accent stripping (NFD, then
# drop Mn) of one word, from the per-code-point tables of wptk/chartable.py.
from libc.stdint cimport int32_t, uint16_t, uint32_t, uint8_t

from wptk._native.buffers cimport Chars, chars_push, chars_reserve
from wptk._native.flags cimport F_CASE_IGNORABLE, F_CASED, F_MAPPED, F_MN, F_REORDER

cdef enum:
    CAPITAL_SIGMA = 0x3A3
    SMALL_SIGMA = 0x3C3
    FINAL_SIGMA = 0x3C2


cdef struct Normalizer:
    const uint16_t* flags     # chartable.normalization()'s flags of the mode
    const int32_t* map_off    # per code point with F_MAPPED: offset of its mapping in `pool` (length, code points)
    const uint32_t* pool
    const uint8_t* ccc        # canonical combining classes
    bint lower
    bint strip


cdef inline int normalize(const Normalizer* z, const Chars* w, Chars* out) noexcept nogil:
    """str.lower() and/or NFD with Mn removed, per character; the final sigma and NFD's canonical reordering are
    the only context the reference's whole-word calls add, and are handled here. out.pos holds the index in `w`
    of the character each output character came from."""
    cdef Py_ssize_t i, k, n_reorder = 0
    cdef uint32_t cp, m
    cdef uint16_t f
    cdef const uint32_t* seq
    out.n = 0
    if chars_reserve(out, w.n) < 0:
        return -1
    for i in range(w.n):
        cp = w.cp[i]
        f = z.flags[cp]
        if not z.lower and not z.strip:
            out.cp[out.n] = cp
            out.pos[out.n] = i
            out.n += 1
            continue
        if f & F_REORDER:
            n_reorder += 1
        if z.lower and cp == CAPITAL_SIGMA:
            if chars_push(out, FINAL_SIGMA if final_sigma(z, w, i) else SMALL_SIGMA, i) < 0:
                return -1
        elif f & F_MAPPED:
            seq = z.pool + z.map_off[cp]
            for k in range(1, seq[0] + 1):
                if chars_push(out, seq[k], i) < 0:
                    return -1
        elif chars_push(out, cp, i) < 0:
            return -1
    if z.strip:
        if n_reorder >= 2:
            canonical_reorder(z, out)
        k = 0
        for i in range(out.n):
            m = out.cp[i]
            if not (z.flags[m] & F_MN):
                out.cp[k] = m
                out.pos[k] = out.pos[i]
                k += 1
        out.n = k
    return 0


cdef inline bint final_sigma(const Normalizer* z, const Chars* w, Py_ssize_t i) noexcept nogil:
    """Python's Final_Sigma context: cased (case-ignorable)* SIGMA, not followed by (case-ignorable)* cased."""
    cdef Py_ssize_t j = i - 1
    while j >= 0 and z.flags[w.cp[j]] & F_CASE_IGNORABLE:
        j -= 1
    if j < 0 or not (z.flags[w.cp[j]] & F_CASED):
        return False
    j = i + 1
    while j < w.n and z.flags[w.cp[j]] & F_CASE_IGNORABLE:
        j += 1
    return j == w.n or not (z.flags[w.cp[j]] & F_CASED)


cdef inline void canonical_reorder(const Normalizer* z, Chars* c) noexcept nogil:
    """Stable sort of each run of non-starters by combining class (NFD's canonical ordering). Only the code points
    move: c.pos stays in text order, so every span covers a stretch of the text (a piece that ends inside a
    reordered run covers the run's characters in text order, not the ones it took)."""
    cdef Py_ssize_t i, j
    cdef uint32_t cp
    for i in range(1, c.n):
        cp = c.cp[i]
        if z.ccc[cp] == 0:
            continue
        j = i
        while j > 0 and z.ccc[c.cp[j - 1]] > z.ccc[cp]:
            c.cp[j] = c.cp[j - 1]
            j -= 1
        c.cp[j] = cp
