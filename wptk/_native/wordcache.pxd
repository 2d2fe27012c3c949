# cython: language_level=3
# A bounded cache from a word's cleaned characters to its pieces; natural text repeats its words, so most words
# skip normalization and trie walks. It starts small, grows to CACHE_MAX_SLOTS and is cleared when full.
# Each call path owns its cache (no sharing across threads).
from libc.stdint cimport int32_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset

from wptk._native.buffers cimport Toks
from wptk._native.hashing cimport mix

cdef enum:
    CACHE_MIN_SLOTS = 1 << 10
    CACHE_MAX_SLOTS = 1 << 19
    CACHE_MIN_ARENA = 1 << 14     # uint32 words for keys and values
    CACHE_MAX_ARENA = 1 << 23
    CACHE_MAX_WORD = 48           # longer words are not cached


cdef struct CacheSlot:
    uint32_t tag                  # high bits of the key's hash
    int32_t at                    # arena offset: key_len, key..., n_toks, ids..., first..., last...; -1 = empty


cdef struct Cache:
    CacheSlot* slots
    uint64_t n_slots
    uint32_t* arena
    Py_ssize_t arena_cap
    Py_ssize_t used
    Py_ssize_t entries


cdef inline int cache_init(Cache* c) noexcept nogil:
    c.n_slots = CACHE_MIN_SLOTS
    c.arena_cap = CACHE_MIN_ARENA
    c.slots = <CacheSlot*>malloc(c.n_slots * sizeof(CacheSlot))
    c.arena = <uint32_t*>malloc(c.arena_cap * sizeof(uint32_t))
    if c.slots == NULL or c.arena == NULL:
        return -1
    cache_clear(c)
    return 0


cdef inline void cache_clear(Cache* c) noexcept nogil:
    memset(c.slots, 0xFF, c.n_slots * sizeof(CacheSlot))
    c.used = 0
    c.entries = 0


cdef inline void cache_free(Cache* c) noexcept nogil:
    free(c.slots)
    free(c.arena)
    c.slots = NULL
    c.arena = NULL


cdef inline uint64_t hash_chars(const uint32_t* cp, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL ^ <uint64_t>n
    cdef Py_ssize_t i
    for i in range(n):
        h = (h ^ cp[i]) * 0x100000001B3ULL
    return mix(h)


cdef inline uint32_t* cache_find(Cache* c, uint64_t h, const uint32_t* cp, Py_ssize_t n) noexcept nogil:
    """The arena record after the key (n_toks, ids..., first..., last...), or NULL."""
    cdef uint64_t mask = c.n_slots - 1, slot = h & mask
    cdef uint32_t tag = <uint32_t>(h >> 32)
    cdef uint32_t* rec
    cdef Py_ssize_t i
    while c.slots[slot].at >= 0:
        if c.slots[slot].tag == tag:
            rec = c.arena + c.slots[slot].at
            if rec[0] == <uint32_t>n:
                for i in range(n):
                    if rec[1 + i] != cp[i]:
                        break
                else:
                    return rec + 1 + n
        slot = (slot + 1) & mask
    return NULL


cdef inline void cache_insert_slot(Cache* c, uint64_t h, int32_t at) noexcept nogil:
    cdef uint64_t mask = c.n_slots - 1, slot = h & mask
    while c.slots[slot].at >= 0:
        slot = (slot + 1) & mask
    c.slots[slot].tag = <uint32_t>(h >> 32)
    c.slots[slot].at = at


cdef inline bint cache_make_room(Cache* c, Py_ssize_t need) noexcept nogil:
    """Grows the slots or the arena when possible, else clears; False if the record can never fit."""
    cdef CacheSlot* old
    cdef uint64_t old_n, i
    cdef uint32_t* rec
    cdef void* p
    if need > CACHE_MAX_ARENA:
        return False
    while c.used + need > c.arena_cap:
        if c.arena_cap >= CACHE_MAX_ARENA:
            cache_clear(c)
            break
        p = realloc(c.arena, 2 * c.arena_cap * sizeof(uint32_t))
        if p == NULL:
            cache_clear(c)
            break
        c.arena = <uint32_t*>p
        c.arena_cap *= 2
    if 2 * (c.entries + 1) > <Py_ssize_t>c.n_slots:
        if c.n_slots >= CACHE_MAX_SLOTS:
            cache_clear(c)
            return True
        old, old_n = c.slots, c.n_slots
        c.slots = <CacheSlot*>malloc(2 * old_n * sizeof(CacheSlot))
        if c.slots == NULL:
            c.slots = old
            cache_clear(c)
            return True
        c.n_slots = 2 * old_n
        memset(c.slots, 0xFF, c.n_slots * sizeof(CacheSlot))
        for i in range(old_n):
            if old[i].at >= 0:
                rec = c.arena + old[i].at
                cache_insert_slot(c, hash_chars(rec + 1, rec[0]), old[i].at)
        free(old)
    return True


cdef inline void cache_store(Cache* c, uint64_t h, const uint32_t* cp, Py_ssize_t n, Toks* t) noexcept nogil:
    cdef Py_ssize_t need = 2 + n + 3 * t.n, i
    cdef uint32_t* rec
    if c.slots == NULL or not cache_make_room(c, need):
        return
    rec = c.arena + c.used
    rec[0] = <uint32_t>n
    for i in range(n):
        rec[1 + i] = cp[i]
    rec[1 + n] = <uint32_t>t.n
    for i in range(t.n):
        rec[2 + n + i] = <uint32_t>t.ids[i]
        rec[2 + n + t.n + i] = <uint32_t>t.first[i]
        rec[2 + n + 2 * t.n + i] = <uint32_t>t.last[i]
    cache_insert_slot(c, h, <int32_t>c.used)
    c.used += need
    c.entries += 1
