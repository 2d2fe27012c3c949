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

from cpython.object cimport PyObject
from wptk._native.flags cimport (F_BREAK, F_CASE_IGNORABLE, F_CASED, F_CJK, F_CLUSTER_CONT, F_DELETE, F_LEADING,
                                 F_MAPPED, F_MN, F_MONGOLIAN, F_PUNCT, F_REORDER, F_SOFT, F_SPACE, F_THAI, F_WS,
                                 NNBSP)
from wptk._native.hashing cimport mix
from wptk._native.trie cimport CONT_ROOT, NO_NODE, START_ROOT, Trie, TrieView, greedy_pieces, trie_child
from wptk._native.pyunicode cimport (PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND, PyUnicode_READ,
                                     PyUnicode_READY, list_item, unicode_check, unicode_data, unicode_is_ready,
                                     unicode_kind, unicode_length)

cdef enum:
    POOL_MAX = 8
    PENDING = -2          # a token id: characters with no piece, covered by a neighbouring token's span
    UNKNOWN_COST = 1 << 20
    MAX_SOFT_KEPT = 64
    CAPITAL_SIGMA = 0x3A3
    SMALL_SIGMA = 0x3C3
    FINAL_SIGMA = 0x3C2
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
    Py_ssize_t text_start # first token of the current text
    int64_t pending       # start of characters waiting for the next token's span, or -1


cdef inline int grow(void** p, size_t nbytes) noexcept nogil:
    """realloc in place of *p; -1 (and *p untouched) when out of memory."""
    cdef void* q = realloc(p[0], nbytes)
    if q == NULL:
        return -1
    p[0] = q
    return 0


cdef int chars_reserve(Chars* c, Py_ssize_t need) noexcept nogil:
    cdef Py_ssize_t cap
    if need <= c.cap:
        return 0
    cap = c.cap * 2 if c.cap else 64
    while cap < need:
        cap *= 2
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


cdef void chars_free(Chars* c) noexcept nogil:
    free(c.cp)
    free(c.pos)
    c.cp = NULL
    c.pos = NULL
    c.n = c.cap = 0


cdef int out_reserve(Out* o, Py_ssize_t need) noexcept nogil:
    cdef Py_ssize_t cap
    if need <= o.cap:
        return 0
    cap = o.cap * 2 if o.cap else 256
    while cap < need:
        cap *= 2
    if grow(<void**>&o.ids, cap * sizeof(int32_t)) < 0:
        return -1
    if o.with_offsets and (grow(<void**>&o.starts, cap * sizeof(int64_t)) < 0
                           or grow(<void**>&o.ends, cap * sizeof(int64_t)) < 0):
        return -1
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


# The pieces of one word: token id and the first and last character of its span, as indices in the word.
cdef struct Toks:
    int32_t* ids
    int32_t* first
    int32_t* last
    Py_ssize_t n
    Py_ssize_t cap


cdef int toks_reserve(Toks* t, Py_ssize_t need) noexcept nogil:
    cdef Py_ssize_t cap
    if need <= t.cap:
        return 0
    cap = t.cap * 2 if t.cap else 64
    while cap < need:
        cap *= 2
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


cdef void toks_free(Toks* t) noexcept nogil:
    free(t.ids)
    free(t.first)
    free(t.last)
    t.ids = t.first = t.last = NULL
    t.n = t.cap = 0


cdef inline Py_ssize_t matched_at(const int64_t* at, Py_ssize_t a, Py_ssize_t k) noexcept nogil:
    """Where the k-th matched character of a word is: at[k], or a + k when all from a on are matched (at NULL)."""
    return at[k] if at != NULL else a + k


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


# A bounded cache from a word's cleaned characters to its pieces; natural text repeats its words, so most words
# skip normalization and trie walks. It starts small, grows to CACHE_MAX_SLOTS and is cleared when full.
# Each call path owns its cache (no sharing across threads).
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


cdef int cache_init(Cache* c) noexcept nogil:
    c.n_slots = CACHE_MIN_SLOTS
    c.arena_cap = CACHE_MIN_ARENA
    c.slots = <CacheSlot*>malloc(c.n_slots * sizeof(CacheSlot))
    c.arena = <uint32_t*>malloc(c.arena_cap * sizeof(uint32_t))
    if c.slots == NULL or c.arena == NULL:
        return -1
    cache_clear(c)
    return 0


cdef void cache_clear(Cache* c) noexcept nogil:
    memset(c.slots, 0xFF, c.n_slots * sizeof(CacheSlot))
    c.used = 0
    c.entries = 0


cdef void cache_free(Cache* c) noexcept nogil:
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


cdef void cache_insert_slot(Cache* c, uint64_t h, int32_t at) noexcept nogil:
    cdef uint64_t mask = c.n_slots - 1, slot = h & mask
    while c.slots[slot].at >= 0:
        slot = (slot + 1) & mask
    c.slots[slot].tag = <uint32_t>(h >> 32)
    c.slots[slot].at = at


cdef bint cache_make_room(Cache* c, Py_ssize_t need) noexcept nogil:
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


cdef void cache_store(Cache* c, uint64_t h, const uint32_t* cp, Py_ssize_t n, Toks* t) noexcept nogil:
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


cdef struct Scratch:
    Chars word            # cleaned characters of one whitespace-delimited word (pos: index in the text)
    Chars norm            # the word after normalization (pos: index in the word)
    Chars real            # multilingual: the characters of a piece of norm that WordPiece matches (pos: in norm)
    Toks toks             # the word's pieces
    Cache cache
    Out out               # ids and offsets of a call, kept allocated (and faulted in) between calls
    int32_t* seg          # Thai segmentation: per position cost, next cut, flags
    int32_t* seg_next
    uint8_t* seg_flags
    Py_ssize_t seg_cap


cdef int scratch_init(Scratch* s, bint with_cache) noexcept nogil:
    memset(s, 0, sizeof(Scratch))
    if with_cache:
        return cache_init(&s.cache)
    return 0


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
    free(s.seg)
    free(s.seg_next)
    free(s.seg_flags)


cdef int seg_reserve(Scratch* s, Py_ssize_t n) noexcept nogil:
    if n <= s.seg_cap:
        return 0
    if (grow(<void**>&s.seg, n * sizeof(int32_t)) < 0 or grow(<void**>&s.seg_next, n * sizeof(int32_t)) < 0
            or grow(<void**>&s.seg_flags, n * sizeof(uint8_t)) < 0):
        return -1
    s.seg_cap = n
    return 0


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
      wordpiece: greedy longest match (off for BasicTokenizer, which returns the words).
    """
    cdef const uint16_t* flags
    cdef const int32_t* map_off
    cdef const uint32_t* pool
    cdef const uint8_t* ccc
    cdef bint clean, cjk, lower, strip, punct, ml
    cdef Trie trie
    cdef TrieView tv
    cdef Trie thai                 # multilingual: Thai dictionary (values >= 0 mark word ends)
    cdef TrieView thai_tv
    cdef uint32_t soft_kept[MAX_SOFT_KEPT]   # multilingual: soft characters the vocab has pieces with
    cdef int n_soft_kept
    cdef int32_t unk_id
    cdef Py_ssize_t max_chars
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
        self.map_off = &m[0]
        self.pool = &p[0]
        self.ccc = &c[0]
        self.clean, self.cjk, self.lower, self.strip, self.punct = clean, cjk, lower, strip_accents, punct
        self.trie = trie
        if trie is not None:
            self.tv = trie.view
        self.ml = multilingual
        self.thai = thai
        if thai is not None:
            self.thai_tv = thai.view
        soft_kept = sorted(soft_kept)[:MAX_SOFT_KEPT]
        self.n_soft_kept = len(soft_kept)
        for i, cp in enumerate(soft_kept):
            self.soft_kept[i] = cp
        self.id_strings = id_strings
        self.id_map = id_map
        self.unk_id = unk_id
        self.unk_token = unk_token
        self.max_chars = max_chars
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
        if s == NULL or scratch_init(s, True) < 0:
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
        cdef Py_ssize_t i
        cdef uint32_t cp
        cdef uint16_t f
        s.word.n = 0
        out.text_start = out.n
        out.pending = -1
        if self.ml:
            return self.run_multilingual(kind, data, length, s, out, words)
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

    cdef int run_multilingual(self, int kind, void* data, Py_ssize_t length, Scratch* s, Out* out,
                              list words) noexcept nogil:
        """The multilingual pre-tokenizer's character loop: nothing is deleted (controls, format characters,
        joiners and selectors stay in their word, transparent to WordPiece), ZERO WIDTH SPACE breaks words,
        and U+202F between Mongolian letters starts a new (suffix) word that it belongs to."""
        cdef Py_ssize_t i
        cdef uint32_t cp
        cdef uint16_t f
        for i in range(length):
            cp = PyUnicode_READ(kind, data, i)
            f = self.flags[cp]
            if f & F_BREAK:
                if self.word(s, out, words) < 0:
                    return -1
                continue
            if f & F_SOFT:
                if chars_push(&s.word, cp, i) < 0:
                    return -1
                continue
            if f & (F_WS | F_SPACE):
                if self.word(s, out, words) < 0:
                    return -1
                if (cp == NNBSP and i > 0 and i + 1 < length and self.flags[PyUnicode_READ(kind, data, i - 1)]
                        & F_MONGOLIAN and self.flags[PyUnicode_READ(kind, data, i + 1)] & F_MONGOLIAN):
                    if chars_push(&s.word, cp, i) < 0:
                        return -1
                continue
            if f & F_CJK:
                if self.word(s, out, words) < 0:
                    return -1
            if chars_push(&s.word, cp, i) < 0:
                return -1
            if f & F_CJK:
                if self.word(s, out, words) < 0:
                    return -1
        return self.word(s, out, words)

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
        """Normalizes s.word into s.norm, then splits punctuation and whitespace into pieces."""
        cdef Chars* c = &s.norm
        cdef Py_ssize_t j, start = 0
        cdef uint16_t f
        if self.normalize(&s.word, c) < 0:
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
        cdef Py_ssize_t j, r
        cdef bint thai
        if not self.ml or self.thai is None:
            return self.piece(s, a, b, words)
        j = a
        while j < b:
            thai = (self.flags[s.norm.cp[j]] & F_THAI) != 0
            r = j + 1
            while r < b and ((self.flags[s.norm.cp[r]] & F_THAI) != 0) == thai:
                r += 1
            if (self.thai_words(s, j, r, words) if thai else self.piece(s, j, r, words)) < 0:
                return -1
            j = r
        return 0

    cdef int thai_words(self, Scratch* s, Py_ssize_t a, Py_ssize_t b, list words) noexcept nogil:
        """Dictionary segmentation of a Thai run: the fewest unknown stretches, then the fewest words, cutting
        only between character clusters. Where no known word starts, an unknown stretch runs up to the next
        place one does."""
        cdef Py_ssize_t n = b - a, i, e, j, nxt = n
        cdef const uint32_t* c = s.norm.cp + a
        cdef const TrieView* t = &self.thai_tv
        cdef int32_t node, cost
        cdef bint long_word
        if seg_reserve(s, n + 1) < 0:
            return -1
        # seg_flags bit 1: a cut may fall here; bit 2: a known word (not just 1-2 consonants) starts here;
        # bit 4: the step from here is an unknown stretch
        for i in range(n + 1):
            s.seg_flags[i] = 1 if (i == 0 or i == n or not (self.flags[c[i]] & F_CLUSTER_CONT
                                                             or self.flags[c[i - 1]] & F_LEADING)) else 0
        s.seg[n] = 0
        s.seg_next[n] = n
        i = n - 1
        while i >= 0:
            s.seg[i] = -1
            if s.seg_flags[i] & 1:
                node = START_ROOT
                long_word = False
                e = i
                while e < n:
                    node = trie_child(t, node, c[e])
                    if node == NO_NODE:
                        break
                    if not (0x0E01 <= c[e] <= 0x0E2E):
                        long_word = True
                    e += 1
                    if t.values[node] >= 0 and s.seg_flags[e] & 1 and s.seg[e] >= 0:
                        if e - i > 2 or long_word:
                            s.seg_flags[i] |= 2
                        cost = 1 + s.seg[e]
                        if s.seg[i] < 0 or cost < s.seg[i]:
                            s.seg[i] = cost
                            s.seg_next[i] = <int32_t>e
                if s.seg[i] < 0:            # no known word starts here: an unknown stretch does
                    s.seg[i] = UNKNOWN_COST + s.seg[nxt]
                    s.seg_next[i] = <int32_t>nxt
                    s.seg_flags[i] |= 4
                if s.seg_flags[i] & 2:
                    nxt = i
            i -= 1
        i = 0
        while i < n:
            j = s.seg_next[i]
            while s.seg_flags[i] & 4 and j < n and s.seg_flags[j] & 4:   # merge unknown stretches
                j = s.seg_next[j]
            if self.piece(s, a + i, a + j, words) < 0:
                return -1
            i = j
        return 0

    cdef int normalize(self, Chars* w, Chars* out) noexcept nogil:
        """str.lower() and/or NFD with Mn removed, per character; the final sigma and NFD's canonical
        reordering are the only context the reference's whole-word calls add, and are handled here.
        out.pos holds the index in `w` of the character each output character came from."""
        cdef Py_ssize_t i, k, n_reorder = 0
        cdef uint32_t cp, m
        cdef uint16_t f
        cdef const uint32_t* seq
        out.n = 0
        if chars_reserve(out, w.n) < 0:
            return -1
        for i in range(w.n):
            cp = w.cp[i]
            f = self.flags[cp]
            if not self.lower and not self.strip:
                out.cp[out.n] = cp
                out.pos[out.n] = i
                out.n += 1
                continue
            if f & F_REORDER:
                n_reorder += 1
            if self.lower and cp == CAPITAL_SIGMA:
                if chars_push(out, FINAL_SIGMA if self.final_sigma(w, i) else SMALL_SIGMA, i) < 0:
                    return -1
            elif f & F_MAPPED:
                seq = self.pool + self.map_off[cp]
                for k in range(1, seq[0] + 1):
                    if chars_push(out, seq[k], i) < 0:
                        return -1
            elif chars_push(out, cp, i) < 0:
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
        """Stable sort of each run of non-starters by combining class (NFD's canonical ordering). Only the code
        points move: c.pos stays in text order, so every span covers a stretch of the text (a piece that ends
        inside a reordered run covers the run's characters in text order, not the ones it took)."""
        cdef Py_ssize_t i, j
        cdef uint32_t cp
        for i in range(1, c.n):
            cp = c.cp[i]
            if self.ccc[cp] == 0:
                continue
            j = i
            while j > 0 and self.ccc[c.cp[j - 1]] > self.ccc[cp]:
                c.cp[j] = c.cp[j - 1]
                j -= 1
            c.cp[j] = cp

    cdef int piece(self, Scratch* s, Py_ssize_t a, Py_ssize_t b, list words) noexcept nogil:
        """Emits norm[a:b] as one basic token (into `words`) or as WordPiece pieces (into s.toks)."""
        cdef int rc
        if a >= b:
            return 0
        if words is not None:
            if self.ml and self.n_real(&s.norm, a, b, True) == 0:
                return 0
            with gil:
                words.append(PyUnicode_FromKindAndData(4, s.norm.cp + a, b - a))
            return 0
        if self.ml:
            return self.wordpiece_transparent(s, a, b, False)
        if b - a <= self.max_chars:
            rc = self.wordpiece(s.norm.cp + a, NULL, b - a, &s.norm, a, b, &s.toks)
            if rc <= 0:
                return rc
        return toks_push(&s.toks, self.unk_id, <int32_t>s.norm.pos[a], <int32_t>s.norm.pos[b - 1])

    cdef inline bint transparent(self, uint32_t cp, bint all_soft) noexcept nogil:
        """Multilingual: skipped by WordPiece (soft characters the vocab has no piece with, or all of them)."""
        cdef int k
        if not (self.flags[cp] & F_SOFT) and cp != NNBSP:
            return False
        if all_soft:
            return True
        for k in range(self.n_soft_kept):
            if self.soft_kept[k] == cp:
                return False
        return True

    cdef Py_ssize_t n_real(self, Chars* c, Py_ssize_t a, Py_ssize_t b, bint all_soft) noexcept nogil:
        cdef Py_ssize_t k, n = 0
        for k in range(a, b):
            if not self.transparent(c.cp[k], all_soft):
                n += 1
        return n

    cdef int wordpiece_transparent(self, Scratch* s, Py_ssize_t a, Py_ssize_t b, bint all_soft) noexcept nogil:
        """WordPiece of norm[a:b] over its characters that are not transparent, while the spans of the pieces
        still cover the transparent ones; if the vocab's pieces with soft characters leave the word unmatched,
        it is matched again without them."""
        cdef Chars* c = &s.norm
        cdef Chars* r = &s.real
        cdef Py_ssize_t k
        cdef int rc
        r.n = 0
        if chars_reserve(r, b - a) < 0:
            return -1
        for k in range(a, b):
            if not self.transparent(c.cp[k], all_soft):
                r.cp[r.n] = c.cp[k]
                r.pos[r.n] = k
                r.n += 1
        if r.n == 0:
            return toks_push(&s.toks, PENDING, <int32_t>c.pos[a], <int32_t>c.pos[b - 1])
        if r.n <= self.max_chars:
            rc = self.wordpiece(r.cp, r.pos, r.n, c, a, b, &s.toks)
            if rc <= 0:
                return rc
        if not all_soft and self.n_real(c, a, b, True) < r.n:
            return self.wordpiece_transparent(s, a, b, True)
        return toks_push(&s.toks, self.unk_id, <int32_t>c.pos[a], <int32_t>c.pos[b - 1])

    cdef int wordpiece(self, const uint32_t* cp, const int64_t* at, Py_ssize_t n, Chars* c, Py_ssize_t a,
                       Py_ssize_t b, Toks* t) noexcept nogil:
        """Greedy longest-match pieces of the word c[a:b] matched on cp[:n], its characters at positions at[:n]
        of c (at NULL: cp[:n] is c[a:b]); the others (transparent) belong to the piece of the next matched
        character, or to the last piece. Returns 1 when some position has no piece (nothing added)."""
        cdef Py_ssize_t m, k, prev = 0, end
        if toks_reserve(t, t.n + n) < 0:
            return -1
        m = greedy_pieces(&self.tv, cp, n, -1, t.last + t.n, t.ids + t.n)
        if m < 0:
            return 1
        for k in range(t.n, t.n + m):       # piece ends in cp -> first and last characters in the word
            end = t.last[k]
            t.first[k] = <int32_t>c.pos[a if prev == 0 else matched_at(at, a, prev - 1) + 1]
            t.last[k] = <int32_t>c.pos[b - 1 if end == n else matched_at(at, a, end - 1)]
            prev = end
        t.n += m
        return 0

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
