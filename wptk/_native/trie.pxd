# cython: language_level=3
# The vocabulary trie shared by the tokenizer, the Thai segmenter and the vocab learner: code points of entries
# on edges kept in ONE open-addressing hash table, (node, code point) -> child, with two roots (word starts and
# '##' continuations). Lookups are `cdef inline ... noexcept nogil`, compiled into each kernel that cimports
# them; building (the `Trie` class, wptk/_native/trie.pyx) happens with the GIL.
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t

from wptk._native.hashing cimport mix

cdef enum:
    NO_NODE = -1
    START_ROOT = 0            # entries that start a word
    CONT_ROOT = 1             # '##' entries, without their '##': pieces that continue a word


cdef struct TrieView:         # what lookups need; valid until the trie next grows
    uint64_t* keys            # per slot of the edge table: edge_key(parent, code point), or all ones when free
                              # (keys apart from children: a miss, which ends every greedy match, scans only keys)
    int32_t* children         # per slot: the child
    uint64_t mask
    int32_t* values           # per node: the value of the entry ending there, or -1


cdef inline uint64_t edge_key(int32_t node, uint32_t cp) noexcept nogil:
    return (<uint64_t>node << 21) | cp


cdef inline int32_t trie_child(const TrieView* t, int32_t node, uint32_t cp) noexcept nogil:
    """The child of `node` along `cp`, or NO_NODE."""
    cdef uint64_t key = edge_key(node, cp)
    cdef uint64_t slot = mix(key) & t.mask
    cdef uint64_t k
    while True:
        k = t.keys[slot]
        if k == key:
            return t.children[slot]
        if k == <uint64_t>-1:
            return NO_NODE
        slot = (slot + 1) & t.mask


cdef inline Py_ssize_t greedy_pieces(const TrieView* t, const uint32_t* cp, Py_ssize_t n, int32_t excluded,
                                     int32_t* ends, int32_t* ids) noexcept nogil:
    """BERT's WordpieceTokenizer on cp[:n]: longest match first, the first piece from the word-start root and the
    others from the continuation root, never stopping at an entry of value `excluded`. Returns the number of
    pieces (their end positions and values written to `ends` and `ids`, unless NULL), or -1 when some position
    has no piece (the word becomes [UNK])."""
    cdef Py_ssize_t s = 0, k, best_end, count = 0
    cdef int32_t node, best_id, v
    while s < n:
        node = START_ROOT if s == 0 else CONT_ROOT
        best_end = -1
        best_id = -1
        k = s
        while k < n:
            node = trie_child(t, node, cp[k])
            if node == NO_NODE:
                break
            k += 1
            v = t.values[node]
            if v >= 0 and v != excluded:
                best_end = k
                best_id = v
        if best_end < 0:
            return -1
        if ends != NULL:
            ends[count] = <int32_t>best_end
            ids[count] = best_id
        count += 1
        s = best_end
    return count


cdef class Trie:
    cdef TrieView view
    cdef int32_t n_nodes
    cdef int32_t node_cap
    cdef readonly int64_t n_values      # 1 + the largest value of the entries given to the constructor

    cdef int32_t step(self, int32_t node, uint32_t cp) except -1
    cdef int32_t insert(self, int32_t root, str token, Py_ssize_t begin) except -1
    cdef void set_value(self, int32_t node, int32_t value) noexcept
    cdef int _reserve_nodes(self, Py_ssize_t need) except -1
    cdef int _allocate(self, uint64_t size) except -1
    cdef void _place(self, uint64_t key, int32_t child) noexcept
