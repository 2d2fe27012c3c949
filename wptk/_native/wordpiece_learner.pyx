# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""The hot loops of the WordPiece vocabulary learner (`wptk.vocab_learner`), over code points in C memory.

  Words         the counted words: one code-point array with offsets, and an int64 count per word;
  PieceTrie     a growing and shrinking vocabulary as a code-point trie with two roots (word starts, '##'
                continuations), matched greedily longest-first exactly as BERT's WordpieceTokenizer does;
  Grower        every word's segmentation and the counts of adjacent piece pairs (the candidates to add), kept
                up to date as tokens are added: only the words where a new token now matches are re-segmented;
  Segmentation  a one-off segmentation of (some of) the words, with per-token usage and removal costs.
All loops run without the GIL; the Python side decides what to add and remove.
"""
from cpython.unicode cimport PyUnicode_FromKindAndData
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc, calloc
from libc.string cimport memcmp

import numpy as np
cimport numpy as cnp

cnp.import_array()

from wptk._native.hashing cimport mix
from wptk._native.trie cimport CONT_ROOT, NO_NODE, START_ROOT, Trie, greedy_pieces, trie_child
from wptk._native.pyunicode cimport (PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND, PyUnicode_READ,
                                     PyUnicode_READY)

cdef inline uint64_t table_size(Py_ssize_t n) noexcept nogil:
    """A power of two at least twice n (load factor <= 0.5)."""
    cdef uint64_t size = 16
    while size < <uint64_t>(2 * n + 2):
        size *= 2
    return size


cdef void read_code_points(str text, uint32_t* out) noexcept:
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i
    for i in range(PyUnicode_GET_LENGTH(text)):
        out[i] = PyUnicode_READ(kind, data, i)


# ---------------------------------------------------------------------------------------------------------------
# Words

cdef class Words:
    """The words to learn from: code points of all words back to back, offsets, and one count per word."""
    cdef uint32_t* cp
    cdef int64_t* off
    cdef readonly Py_ssize_t n_words, n_chars
    cdef readonly object counts           # int64 array, kept alive for `w`
    cdef const int64_t* w

    def __cinit__(self, list words, counts):
        cdef Py_ssize_t i, total = 0
        cdef str word
        for word in words:
            PyUnicode_READY(word)
            total += PyUnicode_GET_LENGTH(word)
        self.n_words = len(words)
        self.n_chars = total
        self.cp = <uint32_t*>malloc((total + 1) * sizeof(uint32_t))
        self.off = <int64_t*>malloc((self.n_words + 1) * sizeof(int64_t))
        if self.cp == NULL or self.off == NULL:
            raise MemoryError()
        self.off[0] = 0
        for i in range(self.n_words):
            word = words[i]
            read_code_points(word, self.cp + self.off[i])
            self.off[i + 1] = self.off[i] + PyUnicode_GET_LENGTH(word)
        self.counts = np.ascontiguousarray(counts, dtype=np.int64)
        if self.counts.shape[0] != self.n_words:
            raise ValueError("one count per word is needed")
        cdef const int64_t[::1] view = self.counts
        self.w = &view[0] if self.n_words else NULL

    def __dealloc__(self):
        free(self.cp)
        free(self.off)

    def substring(self, Py_ssize_t word, Py_ssize_t start, Py_ssize_t end):
        """word[start:end] as a str."""
        if not (0 <= word < self.n_words and 0 <= start <= end <= self.off[word + 1] - self.off[word]):
            raise IndexError("no such substring")
        return PyUnicode_FromKindAndData(4, self.cp + self.off[word] + start, end - start)


# ---------------------------------------------------------------------------------------------------------------
# A candidate vocabulary: the shared trie (wptk/_native/trie.pxd) with ids handed out in order of addition

cdef class PieceTrie(Trie):
    """A growing and shrinking vocabulary for greedy longest-match lookup, with two roots (word starts and
    '##' continuations). Token ids are given in order of addition and never reused; a removed token's node
    simply stops being an entry."""
    cdef int64_t* node_of           # per token id: its node
    cdef readonly int32_t n_tokens  # ids handed out so far (removed ones included)
    cdef Py_ssize_t id_cap

    def __cinit__(self):
        self.id_cap = 1024
        self.node_of = <int64_t*>malloc(self.id_cap * sizeof(int64_t))
        if self.node_of == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.node_of)

    def add(self, str token):
        """Adds `token` ('##x' = continuation piece x) and returns its id; an existing entry keeps its id."""
        if token.startswith("##") and len(token) > 2:
            return self._entry(self.insert(CONT_ROOT, token, 2))
        return self._entry(self.insert(START_ROOT, token, 0))

    def add_substring(self, Words words, Py_ssize_t word, Py_ssize_t start, Py_ssize_t end):
        """Adds words[word][start:end] (a continuation piece when start > 0) and returns its id."""
        if not (0 <= word < words.n_words and 0 <= start <= end <= words.off[word + 1] - words.off[word]):
            raise IndexError("no such substring")
        cdef const uint32_t* cp = words.cp + words.off[word]
        cdef int32_t node = CONT_ROOT if start > 0 else START_ROOT
        cdef Py_ssize_t j
        for j in range(start, end):
            node = self.step(node, cp[j])
        return self._entry(node)

    def remove(self, int32_t token_id):
        """Removes a token: greedy matching no longer stops at it."""
        if self.contains(token_id):
            self.set_value(<int32_t>self.node_of[token_id], -1)

    def contains(self, int32_t token_id):
        return 0 <= token_id < self.n_tokens and self.view.values[self.node_of[token_id]] == token_id

    cdef int32_t _entry(self, int32_t node) except -1:
        cdef void* p
        if self.view.values[node] >= 0:
            return self.view.values[node]
        if self.n_tokens == self.id_cap:
            p = realloc(self.node_of, 2 * self.id_cap * sizeof(int64_t))
            if p == NULL:
                raise MemoryError()
            self.node_of = <int64_t*>p
            self.id_cap *= 2
        self.node_of[self.n_tokens] = node
        self.set_value(node, self.n_tokens)
        self.n_tokens += 1
        return self.n_tokens - 1


# ---------------------------------------------------------------------------------------------------------------
# Pair counts: an open-addressing table keyed by (kind, substring), verified against a stored occurrence

cdef struct PairSlot:
    uint64_t hash          # 0 = empty
    int64_t count          # may fall back to 0 (the entry stays)
    int64_t word           # an occurrence: words[word][start:end] (its code points never change)
    int32_t start
    int32_t end
    int32_t first          # the token id of the pair's first piece (the same in every current occurrence:
                           # the longest token that is a proper prefix of the pair)


cdef struct PairTable:
    PairSlot* slots
    uint64_t mask
    Py_ssize_t n


cdef inline uint64_t substring_hash(const uint32_t* cp, Py_ssize_t n, bint cont) noexcept nogil:
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL + <uint64_t>cont
    cdef Py_ssize_t i
    for i in range(n):
        h = mix(h ^ cp[i]) + 0x632BE59BD9B4E019ULL
    return h | 1           # never 0 (0 marks an empty slot)


cdef int pair_table_init(PairTable* t, Py_ssize_t expected) noexcept nogil:
    t.mask = table_size(expected) - 1
    t.n = 0
    t.slots = <PairSlot*>calloc(t.mask + 1, sizeof(PairSlot))
    return -1 if t.slots == NULL else 0


cdef int pair_table_grow(PairTable* t) noexcept nogil:
    cdef uint64_t old_size = t.mask + 1, new_size = old_size * 2, i, slot
    cdef PairSlot* old = t.slots
    cdef PairSlot* fresh = <PairSlot*>calloc(new_size, sizeof(PairSlot))
    if fresh == NULL:
        return -1
    for i in range(old_size):
        if old[i].hash != 0:
            slot = old[i].hash & (new_size - 1)
            while fresh[slot].hash != 0:
                slot = (slot + 1) & (new_size - 1)
            fresh[slot] = old[i]
    free(old)
    t.slots = fresh
    t.mask = new_size - 1
    return 0


cdef int pair_table_add(PairTable* t, const uint32_t* all_cp, const int64_t* off, int64_t word, int32_t start,
                        int32_t end, int32_t first, int64_t count) noexcept nogil:
    """Adds `count` (possibly negative) to the entry of word `word`'s code points [start, end) (the words'
    code points are all_cp[off[i]:off[i + 1]])."""
    cdef const uint32_t* cp = all_cp + off[word] + start
    cdef uint64_t h = substring_hash(cp, end - start, start > 0)
    cdef uint64_t slot = h & t.mask
    cdef PairSlot* p
    while True:
        p = &t.slots[slot]
        if p.hash == 0:
            break
        if (p.hash == h and p.end - p.start == end - start and (p.start > 0) == (start > 0)
                and memcmp(all_cp + off[p.word] + p.start, cp, (end - start) * sizeof(uint32_t)) == 0):
            p.count += count
            if count > 0:      # additions come from current segmentations; a subtraction may be stale
                p.first = first
            return 0
        slot = (slot + 1) & t.mask
    p.hash = h
    p.count = count
    p.word = word
    p.start = start
    p.end = end
    p.first = first
    t.n += 1
    if <uint64_t>(2 * t.n) > t.mask:
        return pair_table_grow(t)
    return 0


cdef tuple pair_arrays(PairTable* t, int64_t min_count):
    """(count, word, start, end, first) of the entries with count >= min_count, in table order."""
    cdef Py_ssize_t n = 0, k = 0
    cdef uint64_t i
    for i in range(t.mask + 1):
        if t.slots[i].hash != 0 and t.slots[i].count >= min_count:
            n += 1
    count = np.empty(n, dtype=np.int64)
    word = np.empty(n, dtype=np.int64)
    start = np.empty(n, dtype=np.int32)
    end = np.empty(n, dtype=np.int32)
    first = np.empty(n, dtype=np.int32)
    cdef int64_t[::1] c = count
    cdef int64_t[::1] w = word
    cdef int32_t[::1] s = start
    cdef int32_t[::1] e = end
    cdef int32_t[::1] f = first
    for i in range(t.mask + 1):
        if t.slots[i].hash != 0 and t.slots[i].count >= min_count:
            c[k] = t.slots[i].count
            w[k] = t.slots[i].word
            s[k] = t.slots[i].start
            e[k] = t.slots[i].end
            f[k] = t.slots[i].first
            k += 1
    return count, word, start, end, first


# ---------------------------------------------------------------------------------------------------------------
# Growing: segmentations and pair counts kept up to date as tokens are added

cdef class Grower:
    """Every word's greedy segmentation over `trie` and the weighted counts of adjacent piece pairs.

    After adding tokens to the trie (never removing), call `update(first_ids)` with the ids of the first pieces
    of the pairs they were made from: a word's segmentation can only change where greedy matching stopped at
    such a piece (the longest old token that is a proper prefix of a new token is its first piece), so only
    the words containing one are re-segmented, and their pairs recounted.
    """
    cdef Words words
    cdef PieceTrie trie
    cdef int32_t* n_pieces           # per word; -1: unsegmentable
    cdef int32_t* piece_end          # word i's pieces at [off[i], off[i] + n_pieces[i])
    cdef int32_t* piece_id
    cdef int64_t* active             # the words of two or more pieces (single pieces never change)
    cdef Py_ssize_t n_active
    cdef PairTable table
    cdef readonly Py_ssize_t n_resegmented

    def __cinit__(self, Words words, PieceTrie trie):
        self.words = words
        self.trie = trie
        self.n_pieces = <int32_t*>malloc((words.n_words + 1) * sizeof(int32_t))
        self.piece_end = <int32_t*>malloc((words.n_chars + 1) * sizeof(int32_t))
        self.piece_id = <int32_t*>malloc((words.n_chars + 1) * sizeof(int32_t))
        self.active = <int64_t*>malloc((words.n_words + 1) * sizeof(int64_t))
        if (self.n_pieces == NULL or self.piece_end == NULL or self.piece_id == NULL or self.active == NULL
                or pair_table_init(&self.table, 1024) < 0):
            raise MemoryError()
        cdef int64_t i
        cdef int rc = 0
        with nogil:
            self.n_active = 0
            for i in range(words.n_words):
                self.segment(i)
                if self.n_pieces[i] >= 2:
                    self.active[self.n_active] = i
                    self.n_active += 1
                    rc = self.count_pairs(i, 1)
                    if rc < 0:
                        break
        if rc < 0:
            raise MemoryError()

    def __dealloc__(self):
        free(self.n_pieces)
        free(self.piece_end)
        free(self.piece_id)
        free(self.active)
        free(self.table.slots)

    cdef void segment(self, int64_t i) noexcept nogil:
        cdef int64_t a = self.words.off[i]
        self.n_pieces[i] = <int32_t>greedy_pieces(&self.trie.view, self.words.cp + a, self.words.off[i + 1] - a,
                                                  -1, self.piece_end + a, self.piece_id + a)

    cdef int count_pairs(self, int64_t i, int64_t sign) noexcept nogil:
        """Adds (sign = 1) or subtracts (-1) word i's adjacent piece pairs, weighted by its count."""
        cdef int64_t a = self.words.off[i]
        cdef int32_t k, start = 0, end
        for k in range(self.n_pieces[i] - 1):
            end = self.piece_end[a + k + 1]
            if pair_table_add(&self.table, self.words.cp, self.words.off, i, start, end, self.piece_id[a + k],
                              sign * self.words.w[i]) < 0:
                return -1
            start = self.piece_end[a + k]
        return 0

    def candidates(self, int64_t min_count=1):
        """(count int64, word int64, start int32, end int32, first int32) for every pair counted at least
        `min_count` times: the candidate token is words[word][start:end] (a continuation piece when start > 0),
        made of the token `first` and a continuation piece. One row per distinct candidate, in no particular
        order. A pair is never a token already: greedy matching would have taken it."""
        return pair_arrays(&self.table, min_count)

    def update(self, first_ids, int32_t first_new_id):
        """After adding the tokens of ids >= `first_new_id`, made from pairs whose first pieces are `first_ids`:
        re-segments the words where a new token now matches (at a piece of `first_ids`, the only places it can)
        and recounts their pairs. Returns the number of words re-segmented."""
        cdef const int32_t[::1] firsts = np.ascontiguousarray(first_ids, dtype=np.int32)
        cdef unsigned char* mark = <unsigned char*>calloc(self.trie.n_tokens + 1, 1)
        if mark == NULL:
            raise MemoryError()
        cdef Py_ssize_t j, r, kept = 0, changed = 0
        cdef int64_t i, a
        cdef int32_t k
        cdef int rc = 0
        try:
            for j in range(firsts.shape[0]):
                if 0 <= firsts[j] < self.trie.n_tokens:
                    mark[firsts[j]] = 1
            with nogil:
                for r in range(self.n_active):
                    i = self.active[r]
                    a = self.words.off[i]
                    for k in range(self.n_pieces[i]):
                        if mark[self.piece_id[a + k]] and self.new_match(i, k, first_new_id):
                            changed += 1
                            if self.count_pairs(i, -1) < 0:
                                rc = -1
                                break
                            self.segment(i)
                            if self.count_pairs(i, 1) < 0:
                                rc = -1
                            break
                    if rc < 0:
                        break
                    if self.n_pieces[i] >= 2:
                        self.active[kept] = i
                        kept += 1
                if rc == 0:
                    self.n_active = kept
        finally:
            free(mark)
        if rc < 0:
            raise MemoryError()
        self.n_resegmented += changed
        return changed

    cdef bint new_match(self, int64_t i, int32_t k, int32_t first_new_id) noexcept nogil:
        """Whether a token of id >= first_new_id matches word i where its piece k starts (longer than it)."""
        cdef int64_t a = self.words.off[i]
        cdef int32_t start = self.piece_end[a + k - 1] if k > 0 else 0
        cdef int32_t end = self.piece_end[a + k], n = <int32_t>(self.words.off[i + 1] - a)
        cdef int32_t node = <int32_t>self.trie.node_of[self.piece_id[a + k]], v
        while end < n:
            node = trie_child(&self.trie.view, node, self.words.cp[a + end])
            if node == NO_NODE:
                return False
            end += 1
            v = self.trie.view.values[node]
            if v >= first_new_id:
                return True
        return False

    @property
    def n_active_words(self):
        return self.n_active


# ---------------------------------------------------------------------------------------------------------------
# Segmentation

cdef class Segmentation:
    """Words segmented by greedy longest-match-first over `trie`, exactly as BERT's WordpieceTokenizer does.

    `rows`: the indices of the words to segment (int64), default all. The statistics reflect the trie as it
    was when the segmentation was made: make a new Segmentation after changing it.
    """
    cdef Words words
    cdef PieceTrie trie
    cdef readonly object rows            # int64 word indices
    cdef const int64_t* row
    cdef Py_ssize_t n_rows
    cdef int64_t* piece_off              # row r's pieces: [piece_off[r], piece_off[r + 1])
    cdef int32_t* piece_id
    cdef readonly int64_t total          # weighted number of pieces over the segmentable words
    cdef readonly Py_ssize_t n_unsegmentable
    cdef readonly int64_t unsegmentable_count   # words with a character no token has: [UNK] for WordPiece

    def __cinit__(self, Words words, PieceTrie trie, rows=None):
        self.words = words
        self.trie = trie
        self.rows = (np.arange(words.n_words, dtype=np.int64) if rows is None
                     else np.ascontiguousarray(rows, dtype=np.int64))
        cdef const int64_t[::1] view = self.rows
        self.n_rows = view.shape[0]
        self.row = &view[0] if self.n_rows else NULL
        cdef Py_ssize_t r, n, max_pieces = 1
        cdef int64_t i
        for r in range(self.n_rows):
            i = self.row[r]
            if not 0 <= i < words.n_words:
                raise IndexError("row out of range")
            max_pieces += words.off[i + 1] - words.off[i]
        self.piece_off = <int64_t*>malloc((self.n_rows + 1) * sizeof(int64_t))
        self.piece_id = <int32_t*>malloc(max_pieces * sizeof(int32_t))
        cdef int32_t* ends = <int32_t*>malloc(max_pieces * sizeof(int32_t))
        if self.piece_off == NULL or self.piece_id == NULL or ends == NULL:
            free(ends)
            raise MemoryError()
        cdef int64_t at = 0, total = 0, bad_count = 0
        cdef Py_ssize_t bad = 0
        with nogil:
            for r in range(self.n_rows):
                i = self.row[r]
                self.piece_off[r] = at
                n = greedy_pieces(&trie.view, words.cp + words.off[i], words.off[i + 1] - words.off[i], -1,
                                  ends + at, self.piece_id + at)
                if n < 0:              # unsegmentable: no pieces, left out of every statistic
                    bad += 1
                    bad_count += words.w[i]
                    continue
                at += n
                total += n * words.w[i]
            self.piece_off[self.n_rows] = at
        free(ends)
        self.total = total
        self.n_unsegmentable = bad
        self.unsegmentable_count = bad_count

    def __dealloc__(self):
        free(self.piece_off)
        free(self.piece_id)

    def pieces(self, Py_ssize_t r):
        """The token ids of row r's pieces (empty when the word is unsegmentable)."""
        if not 0 <= r < self.n_rows:
            raise IndexError("row out of range")
        return [self.piece_id[p] for p in range(self.piece_off[r], self.piece_off[r + 1])]

    def usage(self):
        """int64 per token id: the weighted number of times the segmentation uses it."""
        cdef cnp.ndarray[int64_t, ndim=1] use = np.zeros(self.trie.n_tokens, dtype=np.int64)
        cdef int64_t* u = <int64_t*>use.data
        cdef Py_ssize_t r
        cdef int64_t p
        with nogil:
            for r in range(self.n_rows):
                for p in range(self.piece_off[r], self.piece_off[r + 1]):
                    u[self.piece_id[p]] += self.words.w[self.row[r]]
        return use

    def removal_costs(self, const unsigned char[::1] skip):
        """int64 per token id: the weighted number of pieces the words would gain if that token alone were
        removed (each word using it re-segmented without it); unused tokens cost 0. Tokens marked in `skip`
        (one flag per token id) are not evaluated (cost -1). A word left without a segmentation (it would
        become [UNK]) counts as one piece per character."""
        cdef Py_ssize_t n_tok = self.trie.n_tokens
        cdef cnp.ndarray[int64_t, ndim=1] result = np.zeros(n_tok, dtype=np.int64)
        cdef int64_t* cost = <int64_t*>result.data
        cdef Words words = self.words
        cdef PieceTrie trie = self.trie
        cdef Py_ssize_t r, n, n_new, length
        cdef int64_t a, b, k, j, i
        cdef int32_t t
        cdef bint seen
        if skip.shape[0] != n_tok:
            raise ValueError("skip needs one flag per token id")
        with nogil:
            for r in range(self.n_rows):
                i = self.row[r]
                a = self.piece_off[r]
                b = self.piece_off[r + 1]
                n = b - a
                length = words.off[i + 1] - words.off[i]
                for k in range(a, b):
                    t = self.piece_id[k]
                    if skip[t]:
                        continue
                    seen = False
                    for j in range(a, k):
                        if self.piece_id[j] == t:
                            seen = True
                            break
                    if seen:
                        continue
                    n_new = greedy_pieces(&trie.view, words.cp + words.off[i], length, t, NULL, NULL)
                    if n_new < 0:
                        n_new = length
                    cost[t] += (n_new - n) * words.w[i]
            for t in range(n_tok):
                if skip[t]:
                    cost[t] = -1
        return result
