# cython: language_level=3
# WordPiece stage of the tokenizer kernel: a basic token -> pieces, greedy longest match first over the vocab trie
# (the one loop, greedy_pieces, is in wptk/_native/trie.pxd). Pieces go to a Toks buffer as (id, first, last):
# the first and last characters of the piece's span, as positions in the word (Chars.pos of the basic token).
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t

from wptk._native.buffers cimport Chars, Toks, chars_reserve, toks_push, toks_reserve
from wptk._native.flags cimport F_SOFT, NNBSP
from wptk._native.trie cimport TrieView, greedy_pieces

cdef enum:
    MAX_SOFT_KEPT = 64
    PENDING = -2              # a piece id: characters with no piece, covered by a neighbouring token's span


cdef struct WordPiece:
    TrieView trie             # the vocab: values index the kernel's token strings
    int32_t unk_id            # [UNK]'s value, or -1
    Py_ssize_t max_chars      # longer basic tokens are [UNK]
    const uint16_t* flags     # multilingual: F_SOFT marks the characters WordPiece steps over ...
    uint32_t soft_kept[MAX_SOFT_KEPT]   # ... unless the vocab has pieces with them (these)
    int n_soft_kept


cdef inline int wordpiece(const WordPiece* wp, const Chars* c, Py_ssize_t a, Py_ssize_t b, Toks* t) noexcept nogil:
    """BERT's WordpieceTokenizer on c[a:b]: a token too long or with an unmatched position is [UNK]."""
    cdef int rc
    if b - a <= wp.max_chars:
        rc = matched_pieces(wp, c.cp + a, NULL, b - a, c, a, b, t)
        if rc <= 0:
            return rc
    return toks_push(t, wp.unk_id, <int32_t>c.pos[a], <int32_t>c.pos[b - 1])


cdef inline int wordpiece_transparent(const WordPiece* wp, const Chars* c, Py_ssize_t a, Py_ssize_t b, Chars* real,
                                      Toks* t, bint all_soft) noexcept nogil:
    """Multilingual: WordPiece of c[a:b] over its characters that are not transparent, while the spans of the
    pieces still cover the transparent ones (a token of transparent characters only is a PENDING piece); if the
    vocab's pieces with soft characters leave the token unmatched, it is matched again without them. `real`:
    scratch space."""
    cdef Py_ssize_t k
    cdef int rc
    real.n = 0
    if chars_reserve(real, b - a) < 0:
        return -1
    for k in range(a, b):
        if not transparent(wp, c.cp[k], all_soft):
            real.cp[real.n] = c.cp[k]
            real.pos[real.n] = k
            real.n += 1
    if real.n == 0:
        return toks_push(t, PENDING, <int32_t>c.pos[a], <int32_t>c.pos[b - 1])
    if real.n <= wp.max_chars:
        rc = matched_pieces(wp, real.cp, real.pos, real.n, c, a, b, t)
        if rc <= 0:
            return rc
    if not all_soft and n_matched(wp, c, a, b, True) < real.n:
        return wordpiece_transparent(wp, c, a, b, real, t, True)
    return toks_push(t, wp.unk_id, <int32_t>c.pos[a], <int32_t>c.pos[b - 1])


cdef inline bint transparent(const WordPiece* wp, uint32_t cp, bint all_soft) noexcept nogil:
    """Multilingual: skipped by WordPiece (soft characters the vocab has no piece with, or all of them)."""
    cdef int k
    if not (wp.flags[cp] & F_SOFT) and cp != NNBSP:
        return False
    if all_soft:
        return True
    for k in range(wp.n_soft_kept):
        if wp.soft_kept[k] == cp:
            return False
    return True


cdef inline Py_ssize_t n_matched(const WordPiece* wp, const Chars* c, Py_ssize_t a, Py_ssize_t b,
                                 bint all_soft) noexcept nogil:
    """How many characters of c[a:b] are not transparent."""
    cdef Py_ssize_t k, n = 0
    for k in range(a, b):
        if not transparent(wp, c.cp[k], all_soft):
            n += 1
    return n


cdef inline Py_ssize_t matched_at(const int64_t* at, Py_ssize_t a, Py_ssize_t k) noexcept nogil:
    """Where the k-th matched character of a token is: at[k], or a + k when all from a on are matched (at NULL)."""
    return at[k] if at != NULL else a + k


cdef inline int matched_pieces(const WordPiece* wp, const uint32_t* cp, const int64_t* at, Py_ssize_t n,
                               const Chars* c, Py_ssize_t a, Py_ssize_t b, Toks* t) noexcept nogil:
    """Greedy pieces of the token c[a:b], matched on cp[:n], its characters at positions at[:n] of c (at NULL:
    cp[:n] is c[a:b]); the others (transparent) belong to the piece of the next matched character, or to the
    last piece. Returns 1 when some position has no piece (nothing added), -1 when out of memory."""
    cdef Py_ssize_t m, k, prev = 0, end
    if toks_reserve(t, t.n + n) < 0:
        return -1
    m = greedy_pieces(&wp.trie, cp, n, -1, t.last + t.n, t.ids + t.n)
    if m < 0:
        return 1
    for k in range(t.n, t.n + m):       # piece ends in cp -> first and last characters in the word
        end = t.last[k]
        t.first[k] = <int32_t>c.pos[a if prev == 0 else matched_at(at, a, prev - 1) + 1]
        t.last[k] = <int32_t>c.pos[b - 1 if end == n else matched_at(at, a, end - 1)]
        prev = end
    t.n += m
    return 0
