# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Building the vocabulary trie of wptk/_native/trie.pxd (lookups are the inline functions there)."""
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset

from wptk._native.pyunicode cimport (PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND, PyUnicode_READ,
                                     PyUnicode_READY)


cdef class Trie:
    """Entries (str -> non-negative int32 value) for greedy longest-match lookup, with two roots: word starts and
    '##' continuations. Tables grow as entries go in, so no vocab can outgrow them.

    `Trie(entries)`: the WordPiece vocab view, from (token, value) pairs: every token goes in whole under the
    word-start root, and a '##' token also without its '##' under the continuation root; a repeated token keeps
    its last value. Subclasses (the vocab learner's PieceTrie) add entries with `insert` and `set_value`."""

    def __cinit__(self, entries=()):
        entries = list(entries)
        cdef Py_ssize_t n_chars = 2
        for token, _ in entries:
            n_chars += len(token)
        cdef uint64_t size = 16
        while size < <uint64_t>n_chars:     # vocabs share prefixes: about a third as many edges as characters
            size *= 2
        self._allocate(size)
        self.n_nodes = 2                    # START_ROOT and CONT_ROOT
        self._reserve_nodes(n_chars)
        for token, value in entries:
            if value < 0:
                raise ValueError(f"trie values must be non-negative, got {value} for {token!r}")
            self.n_values = max(self.n_values, value + 1)
            if len(token):
                self.set_value(self.insert(START_ROOT, token, 0), value)
            if len(token) > 2 and token.startswith("##"):
                self.set_value(self.insert(CONT_ROOT, token, 2), value)

    def __dealloc__(self):
        free(self.view.keys)
        free(self.view.children)
        free(self.view.values)

    cdef int32_t insert(self, int32_t root, str token, Py_ssize_t begin) except -1:
        """The node of token[begin:] under `root`, made as needed (`root` itself for an empty rest)."""
        PyUnicode_READY(token)
        cdef int kind = PyUnicode_KIND(token)
        cdef void* data = PyUnicode_DATA(token)
        cdef Py_ssize_t i
        cdef int32_t node = root
        for i in range(begin, PyUnicode_GET_LENGTH(token)):
            node = self.step(node, PyUnicode_READ(kind, data, i))
        return node

    cdef void set_value(self, int32_t node, int32_t value) noexcept:
        """Makes `node` an entry of `value` (-1: no longer an entry)."""
        self.view.values[node] = value

    cdef int32_t step(self, int32_t node, uint32_t cp) except -1:
        """The child of `node` along `cp`, made if missing; first doubles the edge table if it would be over half
        full (probes stay short)."""
        cdef int32_t child = trie_child(&self.view, node, cp)
        cdef uint64_t* old_keys = self.view.keys
        cdef int32_t* old_children = self.view.children
        cdef uint64_t i, old_size = self.view.mask + 1
        if child != NO_NODE:
            return child
        if self.n_nodes == self.node_cap:
            self._reserve_nodes(<Py_ssize_t>self.n_nodes + 1)
        if 2 * <uint64_t>self.n_nodes > old_size:
            self._allocate(2 * old_size)
            for i in range(old_size):
                if old_keys[i] != <uint64_t>-1:
                    self._place(old_keys[i], old_children[i])
            free(old_keys)
            free(old_children)
        child = self.n_nodes
        self.n_nodes += 1
        self._place(edge_key(node, cp), child)
        return child

    cdef int _reserve_nodes(self, Py_ssize_t need) except -1:
        """Room in `values` for `need` nodes (new ones are not entries: -1)."""
        cdef Py_ssize_t cap = self.node_cap if self.node_cap else 16
        cdef void* p
        if need <= self.node_cap:
            return 0
        if need > 0x7FFFFFFF:
            raise MemoryError("the vocabulary is too large for a trie")
        while cap < need:
            cap = min(2 * cap, 0x7FFFFFFF)
        p = realloc(self.view.values, cap * sizeof(int32_t))
        if p == NULL:
            raise MemoryError()
        self.view.values = <int32_t*>p
        memset(self.view.values + self.node_cap, 0xFF, (cap - self.node_cap) * sizeof(int32_t))
        self.node_cap = <int32_t>cap
        return 0

    cdef int _allocate(self, uint64_t size) except -1:
        """An empty edge table of `size` (a power of two) slots; the caller frees the old one."""
        cdef uint64_t* keys = <uint64_t*>malloc(size * sizeof(uint64_t))
        cdef int32_t* children = <int32_t*>malloc(size * sizeof(int32_t))
        if keys == NULL or children == NULL:
            free(keys)
            free(children)
            raise MemoryError()
        memset(keys, 0xFF, size * sizeof(uint64_t))
        self.view.keys = keys
        self.view.children = children
        self.view.mask = size - 1
        return 0

    cdef void _place(self, uint64_t key, int32_t child) noexcept:
        cdef uint64_t slot = mix(key) & self.view.mask
        while self.view.keys[slot] != <uint64_t>-1:
            slot = (slot + 1) & self.view.mask
        self.view.keys[slot] = key
        self.view.children[slot] = child
