# cython: language_level=3
# Thai dictionary segmentation (multilingual mode): a Thai run -> words, by dynamic programming over the words
# of a dictionary trie (wptk/data/words_th.txt, see wptk/_native/trie.pxd).
from libc.stdint cimport int32_t, uint16_t, uint32_t, uint8_t
from libc.stdlib cimport free

from wptk._native.buffers cimport grow
from wptk._native.flags cimport F_CLUSTER_CONT, F_LEADING
from wptk._native.trie cimport NO_NODE, START_ROOT, TrieView, trie_child

cdef enum:
    UNKNOWN_COST = 1 << 20    # an unknown stretch costs more than any number of known words


cdef struct Cuts:             # per position of the run (scratch space, kept between words)
    int32_t* cost             # the cost of the best segmentation from here
    int32_t* next             # where its first word ends
    uint8_t* flags            # 1: a cut may fall here; 2: a known word (not just 1-2 consonants) starts here;
                              # 4: the step from here is an unknown stretch
    Py_ssize_t cap


cdef inline int cuts_reserve(Cuts* s, Py_ssize_t n) noexcept nogil:
    if n <= s.cap:
        return 0
    if (grow(<void**>&s.cost, n * sizeof(int32_t)) < 0 or grow(<void**>&s.next, n * sizeof(int32_t)) < 0
            or grow(<void**>&s.flags, n * sizeof(uint8_t)) < 0):
        return -1
    s.cap = n
    return 0


cdef inline void cuts_free(Cuts* s) noexcept nogil:
    free(s.cost)
    free(s.next)
    free(s.flags)
    s.cost = s.next = NULL
    s.flags = NULL
    s.cap = 0


cdef inline int thai_words(const TrieView* t, const uint16_t* flags, const uint32_t* c, Py_ssize_t n,
                           Cuts* s) noexcept nogil:
    """Segments the Thai run c[:n]: the fewest unknown stretches, then the fewest words, cutting only between
    character clusters. Where no known word starts, an unknown stretch runs up to the next place one does
    (consecutive ones merged). The words are s.next's chain from 0: [0, s.next[0]), [s.next[0], ...) up to n."""
    cdef Py_ssize_t i, e, j, nxt = n
    cdef int32_t node, cost
    cdef bint long_word
    if cuts_reserve(s, n + 1) < 0:
        return -1
    for i in range(n + 1):
        s.flags[i] = 1 if (i == 0 or i == n or not (flags[c[i]] & F_CLUSTER_CONT or flags[c[i - 1]] & F_LEADING)) else 0
    s.cost[n] = 0
    s.next[n] = <int32_t>n
    i = n - 1
    while i >= 0:
        s.cost[i] = -1
        if s.flags[i] & 1:
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
                if t.values[node] >= 0 and s.flags[e] & 1 and s.cost[e] >= 0:
                    if e - i > 2 or long_word:
                        s.flags[i] |= 2
                    cost = 1 + s.cost[e]
                    if s.cost[i] < 0 or cost < s.cost[i]:
                        s.cost[i] = cost
                        s.next[i] = <int32_t>e
            if s.cost[i] < 0:            # no known word starts here: an unknown stretch does
                s.cost[i] = UNKNOWN_COST + s.cost[nxt]
                s.next[i] = <int32_t>nxt
                s.flags[i] |= 4
            if s.flags[i] & 2:
                nxt = i
        i -= 1
    i = 0
    while i < n:                         # merge consecutive unknown stretches
        j = s.next[i]
        while s.flags[i] & 4 and j < n and s.flags[j] & 4:
            j = s.next[j]
        s.next[i] = <int32_t>j
        i = j
    return 0
