# cython: language_level=3
"""MT19937 that reproduces CPython's ``random.Random`` stream bit for bit.

Header-only: a plain C struct plus ``cdef inline ... noexcept nogil`` functions,
so any .pyx can ``from wptk._native.mt19937 cimport ...`` and get the code
compiled into itself (no runtime import, no Python objects, usable in nogil
hot loops). Algorithms follow Matsumoto & Nishimura's reference MT19937 and
the draw-consumption rules of CPython 3.11's ``Random`` (``_randbelow`` uses
``_randbelow_with_getrandbits``; ``shuffle`` is Fisher-Yates from the top).
"""

from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t

cdef enum:
    MT_N = 624
    MT_M = 397

ctypedef struct MT:
    uint32_t mt[624]   # state words
    uint32_t out[624]  # the block's tempered outputs, made in one vectorizable pass by mt_regenerate
    Py_ssize_t index   # next output; MT_N means "regenerate first"


cdef inline void mt_init_genrand(MT* s, uint32_t seed) noexcept nogil:
    """Knuth-style linear fill of the state from one 32-bit word."""
    cdef Py_ssize_t i
    cdef uint32_t prev
    s.mt[0] = seed
    for i in range(1, MT_N):
        prev = s.mt[i - 1]
        s.mt[i] = <uint32_t>(<uint32_t>1812433253U * (prev ^ (prev >> 30)) + <uint32_t>i)
    s.index = MT_N


cdef inline void mt_seed_key(MT* s, const uint32_t* key, Py_ssize_t n) noexcept nogil:
    """CPython's seeding from a key of n 32-bit words (init_by_array).

    ``random.Random(x)`` for an int x uses key = |x| split into little-endian
    32-bit words ([0] for x == 0). n <= 0 (or key NULL) is treated as key [0].
    """
    cdef uint32_t zero = 0
    cdef Py_ssize_t i = 1, j = 0, k
    cdef uint32_t prev
    if n <= 0 or key == NULL:
        key = &zero
        n = 1
    mt_init_genrand(s, 19650218U)
    k = MT_N if MT_N > n else n
    while k > 0:
        prev = s.mt[i - 1]
        s.mt[i] = <uint32_t>((s.mt[i] ^ <uint32_t>((prev ^ (prev >> 30)) * <uint32_t>1664525U))
                             + key[j] + <uint32_t>j)
        i += 1
        j += 1
        if i >= MT_N:
            s.mt[0] = s.mt[MT_N - 1]
            i = 1
        if j >= n:
            j = 0
        k -= 1
    k = MT_N - 1
    while k > 0:
        prev = s.mt[i - 1]
        s.mt[i] = <uint32_t>((s.mt[i] ^ <uint32_t>((prev ^ (prev >> 30)) * <uint32_t>1566083941U))
                             - <uint32_t>i)
        i += 1
        if i >= MT_N:
            s.mt[0] = s.mt[MT_N - 1]
            i = 1
        k -= 1
    s.mt[0] = 0x80000000U   # guarantees a non-zero state
    s.index = MT_N


cdef inline void mt_regenerate(MT* s) noexcept nogil:
    """Twist: produce the next block of 624 untempered words."""
    cdef Py_ssize_t kk
    cdef uint32_t y
    for kk in range(MT_N - MT_M):
        y = (s.mt[kk] & 0x80000000U) | (s.mt[kk + 1] & 0x7fffffffU)
        s.mt[kk] = s.mt[kk + MT_M] ^ (y >> 1) ^ ((0U - (y & 1U)) & 0x9908b0dfU)
    for kk in range(MT_N - MT_M, MT_N - 1):
        y = (s.mt[kk] & 0x80000000U) | (s.mt[kk + 1] & 0x7fffffffU)
        s.mt[kk] = s.mt[kk + MT_M - MT_N] ^ (y >> 1) ^ ((0U - (y & 1U)) & 0x9908b0dfU)
    y = (s.mt[MT_N - 1] & 0x80000000U) | (s.mt[0] & 0x7fffffffU)
    s.mt[MT_N - 1] = s.mt[MT_M - 1] ^ (y >> 1) ^ ((0U - (y & 1U)) & 0x9908b0dfU)
    for kk in range(MT_N):
        y = s.mt[kk]
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c5680U
        y ^= (y << 15) & 0xefc60000U
        y ^= y >> 18
        s.out[kk] = y
    s.index = 0


cdef inline uint32_t mt_genrand(MT* s) noexcept nogil:
    """Next tempered 32-bit output (genrand_uint32)."""
    if s.index >= MT_N:
        mt_regenerate(s)
    s.index += 1
    return s.out[s.index - 1]


cdef inline double mt_random(MT* s) noexcept nogil:
    """Float in [0, 1) from two words (27 + 26 bits), as ``Random.random()``."""
    cdef uint32_t a = mt_genrand(s) >> 5
    cdef uint32_t b = mt_genrand(s) >> 6
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


cdef inline uint32_t mt_getrandbits32(MT* s, int k) noexcept nogil:
    """``getrandbits(k)`` for 1 <= k <= 32: top k bits of one word.

    Out-of-range k is clamped to [1, 32] (still one draw), never UB.
    """
    if k <= 0:
        k = 1
    elif k > 32:
        k = 32
    return mt_genrand(s) >> (32 - k)


cdef inline uint64_t mt_getrandbits64(MT* s, int k) noexcept nogil:
    """``getrandbits(k)`` for 1 <= k <= 64, same draws as CPython.

    k <= 32: one word. 32 < k <= 64: low word first (full 32 bits), then a
    high word shifted right by 64 - k. Out-of-range k is clamped to [1, 64].
    """
    cdef uint64_t lo
    if k <= 32:
        return mt_getrandbits32(s, k)
    if k > 64:
        k = 64
    lo = mt_genrand(s)
    return lo | (<uint64_t>(mt_genrand(s) >> (64 - k)) << 32)


cdef extern from *:
    int __builtin_clzll(unsigned long long) nogil
    int __builtin_clz(unsigned int) nogil


cdef inline int mt_bit_length64(uint64_t n) noexcept nogil:
    """Python's ``int.bit_length`` for an unsigned 64-bit value."""
    if n == 0:
        return 0
    return 64 - __builtin_clzll(n)


cdef inline uint64_t mt_randbelow(MT* s, uint64_t n) noexcept nogil:
    """Uniform int in [0, n) by rejection, as CPython 3.11 ``_randbelow``.

    k = n.bit_length(); draw getrandbits(k) until < n. n == 1 still draws
    (k = 1). n == 0 is invalid (CPython would loop forever): returns 0
    without drawing.
    """
    cdef int k
    cdef uint64_t r
    if n == 0:
        return 0
    k = mt_bit_length64(n)
    if k <= 32:
        r = mt_genrand(s) >> (32 - k)
        while r >= n:
            r = mt_genrand(s) >> (32 - k)
    else:
        r = mt_getrandbits64(s, k)
        while r >= n:
            r = mt_getrandbits64(s, k)
    return r


cdef inline int64_t mt_randint(MT* s, int64_t a, int64_t b) noexcept nogil:
    """Uniform int in [a, b], as ``Random.randint`` (a + randbelow(b - a + 1)).

    Requires a <= b and b - a + 1 <= 2**64 - 1 (i.e. not the full int64 range);
    width is computed in uint64 so e.g. randint(-2**62, 2**62) is fine.
    """
    cdef uint64_t width = <uint64_t>b - <uint64_t>a + 1U
    return <int64_t>(<uint64_t>a + mt_randbelow(s, width))


ctypedef fused shuffled_t:
    int32_t
    int64_t


cdef inline void mt_shuffle(MT* s, shuffled_t* x, Py_ssize_t n) noexcept nogil:
    """In-place shuffle of x[0:n], same permutation as ``Random.shuffle``.

    ``_randbelow``'s rejection loop is written out over the tempered block, without a data-dependent branch:
    this is the hottest loop of instance building (masking shuffles every candidate position), and a
    rejected draw is too unpredictable for a branch.
    """
    cdef Py_ssize_t i = n - 1, j, low, accept
    cdef uint32_t r
    cdef int shift
    cdef shuffled_t t
    while i >= <Py_ssize_t>0xFFFFFFFFU:
        j = <Py_ssize_t>mt_randbelow(s, <uint64_t>(i + 1))
        t = x[i]
        x[i] = x[j]
        x[j] = t
        i -= 1
    while i > 0:
        # All i whose bound i + 1 has the same bit length share `shift` (getrandbits(k) is the word's top k
        # bits). Within that run the loop is branch-free: a rejected draw swaps x[i] with itself and keeps i.
        shift = __builtin_clz(<uint32_t>(i + 1))
        low = (<Py_ssize_t>1 << (31 - shift)) - 1
        while i >= low:
            if s.index >= MT_N:
                mt_regenerate(s)
            r = s.out[s.index] >> shift
            s.index += 1
            accept = r <= <uint64_t>i
            j = i ^ ((<Py_ssize_t>r ^ i) & -accept)
            t = x[i]
            x[i] = x[j]
            x[j] = t
            i -= accept
