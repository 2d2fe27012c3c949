# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""BERT's next-sentence pairs and masked-LM predictions, native and compact.

Draws from the random stream in exactly the order of google-research/bert's create_pretraining_data.py, so the
same seed gives the same instances. An instance is stored as two token ranges of the corpus (segments A and B)
plus its masked positions and their replacement ids, about 150 bytes, never as a token list.
"""
from libc.math cimport nearbyint
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy
from cython.view cimport array as cvarray

import numpy as np

from wptk._native.mt19937 cimport MT, mt_randint, mt_random, mt_shuffle_int64
from wptk._native.pyrandom cimport CompatRandom


cdef struct Params:
    int max_seq_length
    int max_num_tokens
    int max_pred
    double short_seq_prob
    double masked_lm_prob
    bint whole_word_mask
    int32_t cls_id
    int32_t sep_id
    int32_t mask_id
    const int32_t* random_words     # id of each vocab word, in the vocab dict's order (the reference's vocab_words)
    int64_t n_random_words
    const uint8_t* is_subword       # per id: the token starts with "##"
    int64_t n_ids


cdef struct Corpus:
    const int32_t* tokens
    const int64_t* sentences        # sentence s is tokens[sentences[s]:sentences[s + 1]]
    const int64_t* documents        # document d is sentences documents[d]:documents[d + 1]
    const int64_t* order            # the shuffled document list: position k holds document order[k]
    int64_t n_docs


cdef struct Store:
    int64_t* a_start
    int32_t* a_len
    int64_t* b_start
    int32_t* b_len
    int8_t* random_next
    int16_t* n_masked
    uint16_t* positions             # max_pred per instance, sorted
    int32_t* replacements           # the token placed at each masked position
    int64_t n
    int64_t cap
    int64_t n_truncated
    int64_t n_masked_total


cdef struct Work:
    int32_t* seq                    # [CLS] A [SEP] B [SEP]
    int32_t* group_pos              # candidate positions, grouped (whole words)
    int64_t* group_start
    int32_t* group_len
    int64_t* group_order
    uint16_t* pos
    int32_t* rep


cdef int store_grow(Store* s, int max_pred) noexcept nogil:
    cdef int64_t cap = s.cap * 2 if s.cap else 1024
    cdef void* p
    p = realloc(s.a_start, cap * sizeof(int64_t))
    if p == NULL: return -1
    s.a_start = <int64_t*>p
    p = realloc(s.a_len, cap * sizeof(int32_t))
    if p == NULL: return -1
    s.a_len = <int32_t*>p
    p = realloc(s.b_start, cap * sizeof(int64_t))
    if p == NULL: return -1
    s.b_start = <int64_t*>p
    p = realloc(s.b_len, cap * sizeof(int32_t))
    if p == NULL: return -1
    s.b_len = <int32_t*>p
    p = realloc(s.random_next, cap * sizeof(int8_t))
    if p == NULL: return -1
    s.random_next = <int8_t*>p
    p = realloc(s.n_masked, cap * sizeof(int16_t))
    if p == NULL: return -1
    s.n_masked = <int16_t*>p
    p = realloc(s.positions, cap * max_pred * sizeof(uint16_t) + 1)
    if p == NULL: return -1
    s.positions = <uint16_t*>p
    p = realloc(s.replacements, cap * max_pred * sizeof(int32_t) + 1)
    if p == NULL: return -1
    s.replacements = <int32_t*>p
    s.cap = cap
    return 0


cdef void store_free(Store* s) noexcept nogil:
    free(s.a_start); free(s.a_len); free(s.b_start); free(s.b_len)
    free(s.random_next); free(s.n_masked); free(s.positions); free(s.replacements)


cdef inline int64_t sentence_len(const Corpus* c, int64_t s) noexcept nogil:
    return c.sentences[s + 1] - c.sentences[s]


cdef int mask_sequence(MT* rng, const Params* p, Work* w, int n) noexcept nogil:
    """create_masked_lm_predictions on w.seq[:n]; fills w.pos / w.rep sorted by position; returns the count."""
    cdef int i, g, k, k2, n_groups = 0, n_cand = 0, count = 0, to_predict, tok
    cdef int32_t t, rep
    for i in range(n):
        t = w.seq[i]
        if t == p.cls_id or t == p.sep_id:
            continue
        if (p.whole_word_mask and n_groups > 0 and 0 <= t < p.n_ids and p.is_subword[t]):
            w.group_len[n_groups - 1] += 1
        else:
            w.group_start[n_groups] = n_cand
            w.group_len[n_groups] = 1
            n_groups += 1
        w.group_pos[n_cand] = i
        n_cand += 1
    for g in range(n_groups):
        w.group_order[g] = g
    mt_shuffle_int64(rng, w.group_order, n_groups)
    to_predict = <int>nearbyint(n * p.masked_lm_prob)   # Python's round(): half to even
    if to_predict < 1:
        to_predict = 1
    if to_predict > p.max_pred:
        to_predict = p.max_pred
    for k in range(n_groups):
        if count >= to_predict:
            break
        g = <int>w.group_order[k]
        if count + w.group_len[g] > to_predict:
            continue
        for i in range(w.group_len[g]):
            tok = w.group_pos[w.group_start[g] + i]
            if mt_random(rng) < 0.8:
                rep = p.mask_id
            elif mt_random(rng) < 0.5:
                rep = w.seq[tok]
            else:
                rep = p.random_words[mt_randint(rng, 0, p.n_random_words - 1)]
            # insertion into the position-sorted list
            k2 = count
            while k2 > 0 and w.pos[k2 - 1] > tok:
                w.pos[k2] = w.pos[k2 - 1]
                w.rep[k2] = w.rep[k2 - 1]
                k2 -= 1
            w.pos[k2] = <uint16_t>tok
            w.rep[k2] = rep
            count += 1
    return count


cdef int add_instance(MT* rng, const Params* p, const Corpus* c, Work* w, Store* s, int64_t a_start,
                      int64_t a_len, int64_t b_start, int64_t b_len, bint random_next) noexcept nogil:
    cdef int64_t i
    cdef int n, count
    cdef bint truncated = False
    while a_len + b_len > p.max_num_tokens:
        truncated = True
        if a_len > b_len:
            if mt_random(rng) < 0.5:
                a_start += 1
            a_len -= 1
        else:
            if mt_random(rng) < 0.5:
                b_start += 1
            b_len -= 1
    n = 0
    w.seq[n] = p.cls_id
    n += 1
    for i in range(a_len):
        w.seq[n] = c.tokens[a_start + i]
        n += 1
    w.seq[n] = p.sep_id
    n += 1
    for i in range(b_len):
        w.seq[n] = c.tokens[b_start + i]
        n += 1
    w.seq[n] = p.sep_id
    n += 1
    count = mask_sequence(rng, p, w, n)
    if s.n == s.cap and store_grow(s, p.max_pred) < 0:
        return -1
    s.a_start[s.n] = a_start
    s.a_len[s.n] = <int32_t>a_len
    s.b_start[s.n] = b_start
    s.b_len[s.n] = <int32_t>b_len
    s.random_next[s.n] = random_next
    s.n_masked[s.n] = <int16_t>count
    memcpy(s.positions + s.n * p.max_pred, w.pos, count * sizeof(uint16_t))
    memcpy(s.replacements + s.n * p.max_pred, w.rep, count * sizeof(int32_t))
    s.n += 1
    s.n_truncated += truncated
    s.n_masked_total += count
    return 0


cdef int document_instances(MT* rng, const Params* p, const Corpus* c, Work* w, Store* s,
                            int64_t d) noexcept nogil:
    """create_instances_from_document for the d-th document of the shuffled list."""
    cdef int64_t doc = c.order[d], first = c.documents[doc], m = c.documents[doc + 1] - first
    cdef int64_t target = p.max_num_tokens, i = 0, chunk_first = 0, chunk_n = 0, length = 0
    cdef int64_t a_end, a_start, a_stop, b_start, b_len, target_b, r, rdoc, rfirst, rm, rstart, j
    cdef int attempt
    cdef bint random_next
    if mt_random(rng) < p.short_seq_prob:
        target = mt_randint(rng, 2, p.max_num_tokens)
    while i < m:
        if chunk_n == 0:
            chunk_first = i
        chunk_n += 1
        length += sentence_len(c, first + i)
        if i == m - 1 or length >= target:
            a_end = 1
            if chunk_n >= 2:
                a_end = mt_randint(rng, 1, chunk_n - 1)
            a_start = c.sentences[first + chunk_first]
            a_stop = c.sentences[first + chunk_first + a_end]
            random_next = chunk_n == 1 or mt_random(rng) < 0.5
            if random_next:
                target_b = target - (a_stop - a_start)
                for attempt in range(10):
                    r = mt_randint(rng, 0, c.n_docs - 1)
                    if r != d:
                        break
                rdoc = c.order[r]
                rfirst = c.documents[rdoc]
                rm = c.documents[rdoc + 1] - rfirst
                rstart = mt_randint(rng, 0, rm - 1)
                b_start = c.sentences[rfirst + rstart]
                b_len = 0
                for j in range(rstart, rm):
                    b_len += sentence_len(c, rfirst + j)
                    if b_len >= target_b:
                        break
                i -= chunk_n - a_end        # the unused sentences go back
            else:
                b_start = a_stop
                b_len = c.sentences[first + chunk_first + chunk_n] - a_stop
            if add_instance(rng, p, c, w, s, a_start, a_stop - a_start, b_start, b_len, random_next) < 0:
                return -1
            chunk_n = 0
            length = 0
        i += 1
    return 0


cdef class InstanceBuilder:
    """Accumulates instances document by document, drawing from `rng` as the reference does.

    The caller shuffles the documents (`doc_order`) and, at the end, the instances, with the same `rng`, so
    the whole stream matches the reference: shuffle documents; dupe_factor passes of `add(0, n_docs)`; shuffle.
    """
    cdef Params p
    cdef Corpus c
    cdef Store s
    cdef Work w
    cdef CompatRandom rng
    cdef object _keep

    def __cinit__(self, const int32_t[::1] tokens, const int64_t[::1] sentences, const int64_t[::1] documents,
                  const int64_t[::1] doc_order, CompatRandom rng, *, int max_seq_length, double short_seq_prob,
                  double masked_lm_prob, int max_predictions_per_seq, bint whole_word_mask,
                  const int32_t[::1] random_words, const uint8_t[::1] is_subword, int cls_id, int sep_id,
                  int mask_id):
        cdef int L = max_seq_length, P = max_predictions_per_seq
        if L < 5 or L > 65535:
            raise ValueError("max_seq_length must be between 5 and 65535")
        if (P < 0 or random_words.shape[0] == 0 or is_subword.shape[0] == 0
                or doc_order.shape[0] != documents.shape[0] - 1):
            raise ValueError("invalid instance parameters")
        self._keep = (tokens, sentences, documents, doc_order, random_words, is_subword)
        self.rng = rng
        self.p = Params(L, L - 3, P, short_seq_prob, masked_lm_prob, whole_word_mask, cls_id, sep_id, mask_id,
                        &random_words[0], random_words.shape[0], &is_subword[0], is_subword.shape[0])
        self.c = Corpus(NULL, &sentences[0], &documents[0], NULL, doc_order.shape[0])
        if tokens.shape[0]:
            self.c.tokens = &tokens[0]
        if doc_order.shape[0]:
            self.c.order = &doc_order[0]
        self.w = Work(<int32_t*>malloc(L * sizeof(int32_t)), <int32_t*>malloc(L * sizeof(int32_t)),
                      <int64_t*>malloc(L * sizeof(int64_t)), <int32_t*>malloc(L * sizeof(int32_t)),
                      <int64_t*>malloc(L * sizeof(int64_t)), <uint16_t*>malloc((P + 1) * sizeof(uint16_t)),
                      <int32_t*>malloc((P + 1) * sizeof(int32_t)))
        if (self.w.seq == NULL or self.w.group_pos == NULL or self.w.group_start == NULL
                or self.w.group_len == NULL or self.w.group_order == NULL or self.w.pos == NULL
                or self.w.rep == NULL or store_grow(&self.s, P) < 0):
            raise MemoryError()

    def __dealloc__(self):
        store_free(&self.s)
        free(self.w.seq); free(self.w.group_pos); free(self.w.group_start); free(self.w.group_len)
        free(self.w.group_order); free(self.w.pos); free(self.w.rep)

    @property
    def n_instances(self):
        return self.s.n

    def add(self, int64_t start, int64_t stop):
        """Instances of documents start..stop-1 of the shuffled list (one pass over them)."""
        cdef int64_t d
        cdef int rc = 0
        if not 0 <= start <= stop <= self.c.n_docs:
            raise IndexError("document range out of bounds")
        with nogil:
            for d in range(start, stop):
                if document_instances(&self.rng._s, &self.p, &self.c, &self.w, &self.s, d) < 0:
                    rc = -1
                    break
        if rc < 0:
            raise MemoryError()

    def finish(self):
        """The instances as numpy arrays (the builder hands its buffers over and is empty afterwards)."""
        cdef int64_t n = self.s.n, P = self.p.max_pred
        result = {
            "a_start": _adopt(<void**>&self.s.a_start, n, np.int64),
            "a_len": _adopt(<void**>&self.s.a_len, n, np.int32),
            "b_start": _adopt(<void**>&self.s.b_start, n, np.int64),
            "b_len": _adopt(<void**>&self.s.b_len, n, np.int32),
            "random_next": _adopt(<void**>&self.s.random_next, n, np.int8),
            "n_masked": _adopt(<void**>&self.s.n_masked, n, np.int16),
            "positions": _adopt(<void**>&self.s.positions, n * P, np.uint16).reshape(n, P),
            "replacements": _adopt(<void**>&self.s.replacements, n * P, np.int32).reshape(n, P),
            "n_truncated": self.s.n_truncated,
            "n_masked_total": self.s.n_masked_total,
        }
        self.s = Store(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0)
        return result


cdef object _adopt(void** ptr, int64_t n, dtype):
    """A numpy array that takes ownership of a malloc'd buffer (trimmed to n items), without copying."""
    cdef int itemsize = np.dtype(dtype).itemsize
    cdef void* p = realloc(ptr[0], n * itemsize if n else 1)
    if p == NULL:
        p = ptr[0]
    ptr[0] = NULL
    cdef cvarray arr = cvarray(shape=(max(n, 1),), itemsize=itemsize, format=np.dtype(dtype).char,
                               mode="c", allocate_buffer=False)
    arr.data = <char*>p
    arr.callback_free_data = free
    return np.asarray(arr).view(dtype)[:n]


def materialize(const int32_t[::1] tokens, dict inst, const int64_t[::1] rows, int max_seq_length,
                int max_predictions_per_seq, int cls_id, int sep_id):
    """The feature arrays of the given instances (rows), ready for records.frame_examples."""
    cdef int64_t n = rows.shape[0], i, r, j
    cdef int P = max_predictions_per_seq, k, at, cnt
    cdef const int64_t[::1] a_start = inst["a_start"], b_start = inst["b_start"]
    cdef const int32_t[::1] a_len = inst["a_len"], b_len = inst["b_len"]
    cdef const int8_t[::1] random_next = inst["random_next"]
    cdef const int16_t[::1] n_masked = inst["n_masked"]
    cdef const uint16_t[:, ::1] positions = inst["positions"]
    cdef const int32_t[:, ::1] replacements = inst["replacements"]
    input_ids = np.zeros((n, max_seq_length), dtype=np.int32)
    lengths = np.empty(n, dtype=np.int32)
    seg_a = np.empty(n, dtype=np.int32)
    mpos = np.zeros((n, P), dtype=np.int32)
    mids = np.zeros((n, P), dtype=np.int32)
    counts = np.empty(n, dtype=np.int32)
    labels = np.empty(n, dtype=np.int32)
    cdef int32_t[:, ::1] ids_v = input_ids
    cdef int32_t[::1] len_v = lengths, seg_v = seg_a, cnt_v = counts, lab_v = labels
    cdef int32_t[:, ::1] mpos_v = mpos, mids_v = mids
    with nogil:
        for i in range(n):
            r = rows[i]
            at = 0
            ids_v[i, at] = cls_id
            at += 1
            for j in range(a_len[r]):
                ids_v[i, at] = tokens[a_start[r] + j]
                at += 1
            ids_v[i, at] = sep_id
            at += 1
            seg_v[i] = at
            for j in range(b_len[r]):
                ids_v[i, at] = tokens[b_start[r] + j]
                at += 1
            ids_v[i, at] = sep_id
            at += 1
            len_v[i] = at
            cnt = n_masked[r]
            cnt_v[i] = cnt
            for k in range(cnt):
                mpos_v[i, k] = positions[r, k]
                mids_v[i, k] = ids_v[i, positions[r, k]]
            for k in range(cnt):
                ids_v[i, positions[r, k]] = replacements[r, k]
            lab_v[i] = random_next[r]
    return input_ids, lengths, seg_a, mpos, mids, counts, labels
