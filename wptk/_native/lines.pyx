# cython: boundscheck=False, wraparound=False, language_level=3
"""Blank lines of raw text, found without decoding it.

A line is blank when ``str.strip()`` leaves nothing of it decoded as the reference decodes input (UTF-8, invalid
bytes dropped): every character that decodes is whitespace by ``str.isspace()``. Dropping invalid bytes one at a
time, as here, keeps the same characters as Python's decoder, which drops maximal invalid subsequences: a
continuation byte never starts a character, so it is dropped on its own either way.
"""
from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memchr

cdef enum:
    SPACE_LIMIT = 0x3001    # no code point at or above U+3001 is whitespace (checked by the tests)

cdef uint8_t _space[SPACE_LIMIT]
for _cp in range(SPACE_LIMIT):
    _space[_cp] = chr(_cp).isspace()


cdef inline bint _continues(uint8_t b, uint8_t lo, uint8_t hi) noexcept nogil:
    return lo <= b <= hi


cdef Py_ssize_t _decode(const uint8_t* p, Py_ssize_t n, uint32_t* cp) noexcept nogil:
    """The length of the valid UTF-8 sequence at p (its code point in cp), or 0 if p[0] starts none."""
    cdef uint8_t c = p[0]
    cdef uint8_t lo = 0x80, hi = 0xBF
    if 0xC2 <= c <= 0xDF:
        if n >= 2 and _continues(p[1], 0x80, 0xBF):
            cp[0] = ((c & 0x1F) << 6) | (p[1] & 0x3F)
            return 2
    elif 0xE0 <= c <= 0xEF:
        if c == 0xE0:
            lo = 0xA0
        elif c == 0xED:
            hi = 0x9F       # no surrogates
        if n >= 3 and _continues(p[1], lo, hi) and _continues(p[2], 0x80, 0xBF):
            cp[0] = ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F)
            return 3
    elif 0xF0 <= c <= 0xF4:
        if c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F
        if n >= 4 and _continues(p[1], lo, hi) and _continues(p[2], 0x80, 0xBF) and _continues(p[3], 0x80, 0xBF):
            cp[0] = 0x10000     # every 4-byte character is above SPACE_LIMIT
            return 4
    return 0


cdef bint _is_blank(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i = 0, k
    cdef uint32_t cp
    while i < n:
        if p[i] < 0x80:
            if not _space[p[i]]:
                return False
            i += 1
            continue
        k = _decode(p + i, n - i, &cp)
        if k == 0:
            i += 1          # an invalid byte: dropped
            continue
        if cp >= SPACE_LIMIT or not _space[cp]:
            return False
        i += k
    return True


def blank_lines(const uint8_t[::1] block):
    """[(start, end)] of the blank lines of `block`, a run of lines split on "\\n" (end excludes the "\\n"); after a
    final "\\n" there is no further line."""
    cdef Py_ssize_t n = block.shape[0], start = 0, end
    cdef const uint8_t* base = &block[0] if n else NULL
    cdef const uint8_t* nl
    out = []
    while True:
        nl = <const uint8_t*>memchr(base + start, 0x0A, n - start) if n > start else NULL
        end = nl - base if nl != NULL else n
        if _is_blank(base + start, end - start):
            out.append((start, end))
        if nl == NULL:
            return out
        start = end + 1
        if start == n:
            return out
