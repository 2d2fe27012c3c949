# cython: language_level=3, boundscheck=False, wraparound=False
"""Python-visible wrapper over the header-only MT19937 in ``mt19937.pxd``.

``CompatRandom(seed)`` yields exactly the same numbers as
``random.Random(seed)`` for int seeds, so Python code and tests can drive
(and check) the same stream that Cython kernels use in nogil loops.
"""

from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, free
from cpython.bytes cimport PyBytes_AS_STRING
from cpython.object cimport PyObject
from cpython.sequence cimport PySequence_Fast_ITEMS

from wptk._native.mt19937 cimport (
    MT, mt_seed_key, mt_genrand, mt_random, mt_getrandbits64, mt_randbelow,
    mt_shuffle,
)

import operator

import numpy as np

cdef object _TWO64 = 1 << 64


cdef class CompatRandom:
    """MT19937 stream identical to ``random.Random(seed)`` for an int seed.

    Covers random(), getrandbits(), randint(), randbelow() (= CPython's
    ``_randbelow``) and shuffle(); other ``random.Random`` methods are absent.
    """

    def __init__(self, seed):
        self.seed(seed)

    def seed(self, seed):
        """Reseed like ``random.Random.seed(int)``: key = |seed| as 32-bit LE words."""
        cdef object n = abs(operator.index(seed))
        cdef Py_ssize_t nwords = max(1, (n.bit_length() + 31) // 32)
        cdef bytes raw = n.to_bytes(nwords * 4, "little")
        cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(raw)
        cdef uint32_t* key = <uint32_t*>malloc(nwords * sizeof(uint32_t))
        cdef Py_ssize_t i
        if key == NULL:
            raise MemoryError()
        try:
            for i in range(nwords):  # explicit LE decode: independent of host byte order
                key[i] = (<uint32_t>p[4 * i] | (<uint32_t>p[4 * i + 1] << 8)
                          | (<uint32_t>p[4 * i + 2] << 16) | (<uint32_t>p[4 * i + 3] << 24))
            mt_seed_key(&self._s, key, nwords)
        finally:
            free(key)

    cpdef double random(self):
        """Float in [0, 1), as ``random.Random.random()``."""
        return mt_random(&self._s)

    def getrandbits(self, k):
        """Int with k random bits, as ``random.Random.getrandbits`` (any k >= 0)."""
        cdef Py_ssize_t kk = operator.index(k)
        cdef Py_ssize_t nwords, i
        cdef uint32_t w
        cdef bytearray buf
        if kk < 0:
            raise ValueError("number of bits must be non-negative")
        if kk == 0:
            return 0
        if kk <= 64:
            return mt_getrandbits64(&self._s, <int>kk)
        # CPython: words least significant first; the last one keeps its top bits.
        nwords = (kk - 1) // 32 + 1
        buf = bytearray(nwords * 4)
        for i in range(nwords):
            w = mt_genrand(&self._s)
            if kk < 32:
                w >>= 32 - kk
            buf[4 * i] = w & 0xFF
            buf[4 * i + 1] = (w >> 8) & 0xFF
            buf[4 * i + 2] = (w >> 16) & 0xFF
            buf[4 * i + 3] = (w >> 24) & 0xFF
            kk -= 32
        return int.from_bytes(buf, "little")

    def randbelow(self, n):
        """Int in [0, n), as CPython 3.11 ``Random._randbelow`` (n > 0, any size)."""
        n = operator.index(n)
        if n <= 0:
            raise ValueError("randbelow() requires n > 0")
        if n < _TWO64:
            return mt_randbelow(&self._s, <uint64_t>n)
        k = n.bit_length()
        r = self.getrandbits(k)
        while r >= n:
            r = self.getrandbits(k)
        return r

    def randint(self, a, b):
        """Int in [a, b], as ``random.Random.randint`` (arbitrary-size ints)."""
        a = operator.index(a)
        b = operator.index(b)
        width = b - a + 1
        if width <= 0:
            raise ValueError("empty range for randint() (%d, %d)" % (a, b))
        if width < _TWO64:
            return a + mt_randbelow(&self._s, <uint64_t>width)
        return a + self.randbelow(width)

    def shuffle(self, x):
        """Shuffle a mutable sequence in place; same permutation as ``random.Random.shuffle``."""
        cdef Py_ssize_t i, j
        cdef PyObject** items
        cdef PyObject* t
        if type(x) is list:
            # Swap item pointers directly: refcounts are unchanged by a swap and no
            # Python code runs in the loop, so the list cannot change under us.
            items = PySequence_Fast_ITEMS(x)
            i = len(<list>x) - 1
            while i > 0:
                j = <Py_ssize_t>mt_randbelow(&self._s, <uint64_t>(i + 1))
                t = items[i]; items[i] = items[j]; items[j] = t
                i -= 1
            return None
        i = len(x) - 1
        while i > 0:
            j = <Py_ssize_t>mt_randbelow(&self._s, <uint64_t>(i + 1))
            x[i], x[j] = x[j], x[i]
            i -= 1
        return None

    def shuffle_array(self, arr):
        """Shuffle a writable 1-D int32/int64 numpy array in place (same draws as shuffle(list))."""
        cdef int32_t[:] v32
        cdef int64_t[:] v64
        cdef Py_ssize_t i, j, n
        cdef int32_t t32
        cdef int64_t t64
        if not isinstance(arr, np.ndarray) or arr.ndim != 1:
            raise TypeError("shuffle_array() needs a 1-D numpy array")
        if arr.dtype == np.int32:
            v32 = arr
            n = v32.shape[0]
            if n < 2:
                return None
            if v32.strides[0] == sizeof(int32_t):
                with nogil:
                    mt_shuffle(&self._s, &v32[0], n)
            else:
                with nogil:
                    i = n - 1
                    while i > 0:
                        j = <Py_ssize_t>mt_randbelow(&self._s, <uint64_t>(i + 1))
                        t32 = v32[i]; v32[i] = v32[j]; v32[j] = t32
                        i -= 1
        elif arr.dtype == np.int64:
            v64 = arr
            n = v64.shape[0]
            if n < 2:
                return None
            if v64.strides[0] == sizeof(int64_t):
                with nogil:
                    mt_shuffle(&self._s, &v64[0], n)
            else:
                with nogil:
                    i = n - 1
                    while i > 0:
                        j = <Py_ssize_t>mt_randbelow(&self._s, <uint64_t>(i + 1))
                        t64 = v64[i]; v64[i] = v64[j]; v64[j] = t64
                        i -= 1
        else:
            raise TypeError("shuffle_array() supports int32 and int64 arrays, got %s" % arr.dtype)
        return None

    def random_array(self, Py_ssize_t n):
        """float64 array of n successive random() draws (fast bulk path)."""
        cdef Py_ssize_t i
        if n < 0:
            raise ValueError("n must be non-negative")
        out = np.empty(n, dtype=np.float64)
        cdef double[::1] o = out
        with nogil:
            for i in range(n):
                o[i] = mt_random(&self._s)
        return out
