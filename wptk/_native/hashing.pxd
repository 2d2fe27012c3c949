from libc.stdint cimport uint64_t


cdef inline uint64_t mix(uint64_t k) noexcept nogil:
    """splitmix64's finalizer: spreads integer keys over an open-addressing table."""
    k ^= k >> 30
    k *= 0xBF58476D1CE4E5B9ULL
    k ^= k >> 27
    k *= 0x94D049BB133111EBULL
    k ^= k >> 31
    return k
