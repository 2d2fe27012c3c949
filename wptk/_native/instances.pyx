# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""BERT's next-sentence pairs and masked-LM predictions, native and compact.

Draws from the random stream in exactly the order of google-research/bert's create_pretraining_data.py, so the
same seed gives the same instances. An instance is stored as two token ranges of the corpus (segments A and B)
plus its masked positions and how each is replaced, about 48 bytes at the default flags, never as a token list.
"""
from libc.math cimport nearbyint
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy, memset
from cython.view cimport array as cvarray

import numpy as np

from wptk._native.mt19937 cimport MT, mt_randint, mt_random, mt_shuffle
from wptk._native.pyrandom cimport CompatRandom
from wptk._native.records cimport example_record_size, put_example_record, record_bound
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Resize


cdef struct Params
cdef struct Corpus
cdef struct Work
cdef struct Store

# A masking strategy: chooses the masked positions of w.seq[:n] = [CLS] A [SEP] B [SEP] with len(A) = a_len, fills
# w.pos / w.kind / w.rep sorted by position and returns their count (see MASKINGS).
ctypedef int (*MaskFn)(MT* rng, const Params* p, Work* w, int n, int a_len) noexcept nogil
# A sentence-pair objective: the instances of document d of the shuffled list, added to s (see SENTENCE_PAIRS).
ctypedef int (*PairFn)(MT* rng, const Params* p, const Corpus* c, Work* w, Store* s, int64_t d) noexcept nogil


cdef struct Params:
    int max_seq_length
    int max_num_tokens
    int max_pred
    double short_seq_prob
    double masked_lm_prob
    MaskFn mask                     # the masking strategy, chosen once per builder
    bint mask_reads_seq             # it reads w.seq (else only n and a_len)
    PairFn pair_instances           # the sentence-pair objective, chosen once per builder
    int32_t cls_id
    int32_t sep_id
    int32_t mask_id
    const int32_t* random_words     # id of each vocab word, in the vocab dict's order (the reference's vocab_words)
    int64_t n_random_words
    const uint8_t* is_subword       # per id: the token starts with "##"
    int64_t n_ids


cdef struct Tokens:
    const void* data                # a corpus's token ids: uint16 ("narrow", vocabularies of up to 65,536) or int32
    bint narrow


cdef inline void copy_tokens(int32_t* dst, Tokens t, int64_t start, int64_t n) noexcept nogil:
    """dst[:n] = the token ids start..start+n-1, as int32."""
    cdef const uint16_t* narrow
    cdef int64_t i
    if t.narrow:
        narrow = <const uint16_t*>t.data + start
        for i in range(n):
            dst[i] = narrow[i]
    else:
        memcpy(dst, <const int32_t*>t.data + start, n * sizeof(int32_t))


cdef const void* _first(array, dtype, int ndim, what="an instance table column") except? NULL:
    """Address of the first element of a C-contiguous array (NULL when empty), after checking its dtype and
    shape; a ValueError about `what` when they are wrong."""
    if not isinstance(array, np.ndarray) or array.dtype != dtype or array.ndim != ndim \
            or not array.flags.c_contiguous:
        raise ValueError(f"{what} must be a C-contiguous {ndim}-D {np.dtype(dtype)} array")
    if array.size == 0:
        return NULL
    return <const void*><size_t>array.__array_interface__["data"][0]


cdef Tokens tokens_of(array) except *:
    """The Tokens of a 1-D C-contiguous uint16 or int32 array (ValueError otherwise)."""
    cdef Tokens t
    t.narrow = isinstance(array, np.ndarray) and array.dtype == np.uint16
    t.data = _first(array, np.uint16 if t.narrow else np.int32, 1, "tokens (uint16 or int32 ids)")
    return t


cdef struct DocSpan:
    int64_t first                   # the document's first sentence
    int64_t m                       # its number of sentences


cdef struct Corpus:
    Tokens tokens
    const int64_t* sentences        # sentence s is tokens[sentences[s]:sentences[s + 1]]
    const DocSpan* spans            # the shuffled document list: position k holds document order[k]'s sentences,
                                    # read in sequence by a pass and with one load for a random next document
    int64_t n_docs


# Instance storage: one column per field, `width` bytes per instance; random replacement ids in their own array.
cdef enum:
    C_A_START       # uint32: first token of segment A in the corpus
    C_A_LEN         # uint8 when max_seq_length <= 256 ("narrow"), else uint16
    C_B_START       # uint32
    C_B_LEN         # as C_A_LEN
    C_RANDOM_NEXT   # uint8
    C_POSITIONS     # max_pred masked positions, sorted, then zeros (a masked position is never 0, [CLS]'s):
                    # uint8 when narrow, else uint16
    C_KINDS         # 2 bits per position, 4 to a byte, low bits first: MASK_TOKEN, KEEP_ORIGINAL or RANDOM_WORD
    C_RANDOM_AT     # uint32: index of the instance's first random word in `random_ids`
    N_COLUMNS

cdef enum:
    MASK_TOKEN = 0
    KEEP_ORIGINAL = 1
    RANDOM_WORD = 2

# name and dtype of each column; a dtype of None depends on max_seq_length: see narrow_positions
COLUMNS = (("a_start", np.uint32), ("a_len", None), ("b_start", np.uint32), ("b_len", None),
           ("random_next", np.uint8), ("positions", None), ("kinds", np.uint8), ("random_at", np.uint32))


cdef struct Store:
    char* col[N_COLUMNS]
    int64_t width[N_COLUMNS]
    int64_t n
    int64_t cap
    int32_t* random_ids
    int64_t n_random
    int64_t cap_random
    int64_t n_truncated
    int64_t n_masked_total


cdef struct Work:
    int32_t* seq                    # [CLS] A [SEP] B [SEP]
    int32_t* group_pos              # candidate positions, grouped (whole words)
    int32_t* group_start
    int32_t* group_len
    int32_t* group_order
    uint16_t* pos                   # the chosen positions, sorted, with their kind and random word
    uint8_t* kind
    int32_t* rep
    uint64_t* chosen                # bit set of the chosen positions, while choosing
    uint8_t* kind_at                # per position, while choosing
    int32_t* rep_at


cdef inline bint narrow_positions(int max_seq_length) noexcept nogil:
    """Positions and segment lengths fit one byte."""
    return max_seq_length <= 256


cdef inline int64_t small_at(const void* column, int64_t i, bint narrow) noexcept nogil:
    return (<const uint8_t*>column)[i] if narrow else (<const uint16_t*>column)[i]


cdef inline void put_small(void* column, int64_t i, int64_t value, bint narrow) noexcept nogil:
    if narrow:
        (<uint8_t*>column)[i] = <uint8_t>value
    else:
        (<uint16_t*>column)[i] = <uint16_t>value


cdef inline int64_t kinds_width(int max_pred) noexcept nogil:
    return (max_pred + 3) // 4


cdef void store_init(Store* s, int max_seq_length, int max_pred) noexcept nogil:
    memset(s, 0, sizeof(Store))
    s.width[C_A_START] = 4
    s.width[C_A_LEN] = 1 if narrow_positions(max_seq_length) else 2
    s.width[C_B_START] = 4
    s.width[C_B_LEN] = s.width[C_A_LEN]
    s.width[C_RANDOM_NEXT] = 1
    s.width[C_POSITIONS] = (1 if narrow_positions(max_seq_length) else 2) * max_pred
    s.width[C_KINDS] = kinds_width(max_pred)
    s.width[C_RANDOM_AT] = 4


cdef int store_reserve(Store* s, int64_t n, int64_t n_random) noexcept nogil:
    """Room for n instances and n_random random words, one allocation per column: pages become resident only
    when written, and a table that never grows is never copied (a doubling realloc may copy, holding both)."""
    cdef int k
    cdef void* p
    if n > s.cap:
        for k in range(N_COLUMNS):
            p = realloc(s.col[k], n * s.width[k] + 1)
            if p == NULL:
                return -1
            s.col[k] = <char*>p
        s.cap = n
    if n_random > s.cap_random:
        p = realloc(s.random_ids, n_random * sizeof(int32_t))
        if p == NULL:
            return -1
        s.random_ids = <int32_t*>p
        s.cap_random = n_random
    return 0


cdef int store_grow(Store* s) noexcept nogil:
    return store_reserve(s, s.cap * 2 if s.cap else 1024, 0)


cdef int store_random_id(Store* s, int32_t tid) noexcept nogil:
    cdef void* p
    if s.n_random == s.cap_random:
        p = realloc(s.random_ids, (s.cap_random * 2 + 1024) * sizeof(int32_t))
        if p == NULL:
            return -1
        s.random_ids = <int32_t*>p
        s.cap_random = s.cap_random * 2 + 1024
    s.random_ids[s.n_random] = tid
    s.n_random += 1
    return 0


cdef void store_free(Store* s) noexcept nogil:
    cdef int k
    for k in range(N_COLUMNS):
        free(s.col[k])
        s.col[k] = NULL
    free(s.random_ids)
    s.random_ids = NULL


cdef inline int64_t sentence_len(const Corpus* c, int64_t s) noexcept nogil:
    return c.sentences[s + 1] - c.sentences[s]


cdef inline int choose_replacement(MT* rng, const Params* p, int32_t* rep) noexcept nogil:
    """80% [MASK], 10% the original token, 10% a random vocab word (drawn into rep), as the reference decides."""
    if mt_random(rng) < 0.8:
        return MASK_TOKEN
    if mt_random(rng) < 0.5:
        return KEEP_ORIGINAL
    rep[0] = p.random_words[mt_randint(rng, 0, p.n_random_words - 1)]
    return RANDOM_WORD


cdef extern from *:
    int __builtin_ctzll(unsigned long long) nogil
    void __builtin_prefetch(const void*) nogil


cdef inline void choose(Work* w, int tok, uint8_t kind, int32_t rep) noexcept nogil:
    """Marks position tok as masked (positions are distinct: each candidate is taken at most once)."""
    w.chosen[tok >> 6] |= (<uint64_t>1) << (tok & 63)
    w.kind_at[tok] = kind
    w.rep_at[tok] = rep


cdef inline int collect_chosen(Work* w, int n) noexcept nogil:
    """Moves the chosen positions, in increasing order, to w.pos/kind/rep and clears the set; returns the count."""
    cdef int word, tok, count = 0
    cdef uint64_t bits
    for word in range((n + 63) >> 6):
        bits = w.chosen[word]
        w.chosen[word] = 0
        while bits:
            tok = (word << 6) | __builtin_ctzll(bits)
            bits &= bits - 1
            w.pos[count] = <uint16_t>tok
            w.kind[count] = w.kind_at[tok]
            w.rep[count] = w.rep_at[tok]
            count += 1
    return count


cdef inline int predictions(const Params* p, int n) noexcept nogil:
    """How many of n positions to mask: round(n * masked_lm_prob) (half to even, as Python's round), at least
    1, at most max_predictions_per_seq."""
    cdef int k = <int>nearbyint(n * p.masked_lm_prob)
    return min(max(k, 1), p.max_pred)


cdef inline int mask_candidates(MT* rng, const Params* p, Work* w, int n, int n_cand) noexcept nogil:
    """Shuffles the candidate positions w.group_pos[:n_cand] and masks the first predictions(n) of them."""
    cdef int k
    cdef int32_t rep
    cdef uint8_t kind
    mt_shuffle(rng, w.group_pos, n_cand)
    for k in range(min(predictions(p, n), n_cand)):
        rep = 0
        kind = choose_replacement(rng, p, &rep)
        choose(w, w.group_pos[k], kind, rep)
    return collect_chosen(w, n)


cdef int mask_tokens(MT* rng, const Params* p, Work* w, int n, int a_len) noexcept nogil:
    """The reference's masking: every position but [CLS] and [SEP] is a candidate."""
    cdef int i, n_cand = 0
    cdef int32_t t
    for i in range(n):
        t = w.seq[i]
        w.group_pos[n_cand] = i
        n_cand += (t != p.cls_id) & (t != p.sep_id)
    return mask_candidates(rng, p, w, n, n_cand)


cdef int mask_tokens_plain(MT* rng, const Params* p, Work* w, int n, int a_len) noexcept nogil:
    """mask_tokens for a corpus without [CLS] or [SEP] tokens (as text never has: brackets are punctuation):
    the candidates are every position but 0, 1 + a_len and n - 1, and w.seq is not read."""
    cdef int i, n_cand = 0
    for i in range(1, n - 1):
        w.group_pos[n_cand] = i
        n_cand += i != 1 + a_len
    return mask_candidates(rng, p, w, n, n_cand)


cdef int mask_whole_words(MT* rng, const Params* p, Work* w, int n, int a_len) noexcept nogil:
    """The reference's whole-word masking: a candidate is a word (a position but [CLS]/[SEP] plus the '##'
    pieces after it); words are taken in shuffled order, and one that would overshoot the budget is skipped."""
    cdef int i, g, k, n_groups = 0, n_cand = 0, count = 0, to_predict = predictions(p, n)
    cdef int32_t t, rep
    cdef uint8_t kind
    for i in range(n):
        t = w.seq[i]
        if t == p.cls_id or t == p.sep_id:
            continue
        if n_groups > 0 and 0 <= t < p.n_ids and p.is_subword[t]:
            w.group_len[n_groups - 1] += 1
        else:
            w.group_start[n_groups] = n_cand
            w.group_len[n_groups] = 1
            n_groups += 1
        w.group_pos[n_cand] = i
        n_cand += 1
    for g in range(n_groups):
        w.group_order[g] = g
    mt_shuffle(rng, w.group_order, n_groups)
    for k in range(n_groups):
        if count >= to_predict:
            break
        g = w.group_order[k]
        if count + w.group_len[g] > to_predict:
            continue
        for i in range(w.group_len[g]):
            rep = 0
            kind = choose_replacement(rng, p, &rep)
            choose(w, w.group_pos[w.group_start[g] + i], kind, rep)
            count += 1
    return collect_chosen(w, n)


# The masking strategies by name (PretrainingConfig.masking). `mask` reads w.seq; `mask_plain`, when not NULL,
# makes the same choices from the same draws without reading it, on a corpus without [CLS] or [SEP] tokens.
cdef struct Masking:
    const char* name
    MaskFn mask
    MaskFn mask_plain

cdef Masking MASKING_TABLE[2]
MASKING_TABLE[0] = Masking(b"token", mask_tokens, mask_tokens_plain)
MASKING_TABLE[1] = Masking(b"whole_word", mask_whole_words, NULL)
MASKINGS = tuple(MASKING_TABLE[i].name.decode() for i in range(sizeof(MASKING_TABLE) // sizeof(Masking)))


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
    n = <int>(3 + a_len + b_len)
    if p.mask_reads_seq:
        w.seq[0] = p.cls_id
        copy_tokens(w.seq + 1, c.tokens, a_start, a_len)
        w.seq[1 + a_len] = p.sep_id
        copy_tokens(w.seq + 2 + a_len, c.tokens, b_start, b_len)
        w.seq[n - 1] = p.sep_id
    count = p.mask(rng, p, w, n, <int>a_len)
    if s.n == s.cap and store_grow(s) < 0:
        return -1
    (<uint32_t*>s.col[C_A_START])[s.n] = <uint32_t>a_start
    put_small(s.col[C_A_LEN], s.n, a_len, narrow_positions(p.max_seq_length))
    (<uint32_t*>s.col[C_B_START])[s.n] = <uint32_t>b_start
    put_small(s.col[C_B_LEN], s.n, b_len, narrow_positions(p.max_seq_length))
    (<uint8_t*>s.col[C_RANDOM_NEXT])[s.n] = random_next
    (<uint32_t*>s.col[C_RANDOM_AT])[s.n] = <uint32_t>s.n_random
    cdef uint8_t* pos8 = <uint8_t*>(s.col[C_POSITIONS] + s.n * s.width[C_POSITIONS])
    cdef uint8_t* kinds = <uint8_t*>(s.col[C_KINDS] + s.n * s.width[C_KINDS])
    memset(pos8, 0, s.width[C_POSITIONS])
    memset(kinds, 0, s.width[C_KINDS])
    if narrow_positions(p.max_seq_length):
        for i in range(count):
            pos8[i] = <uint8_t>w.pos[i]
    else:
        memcpy(pos8, w.pos, count * sizeof(uint16_t))
    for i in range(count):
        kinds[i >> 2] |= w.kind[i] << (2 * (i & 3))
    for i in range(count):
        if w.kind[i] == RANDOM_WORD and store_random_id(s, w.rep[i]) < 0:
            return -1
    s.n += 1
    s.n_truncated += truncated
    s.n_masked_total += count
    return 0


cdef int nsp_instances(MT* rng, const Params* p, const Corpus* c, Work* w, Store* s, int64_t d) noexcept nogil:
    """The reference's next-sentence prediction (create_instances_from_document) for the d-th document of the
    shuffled list: segment B is the rest of the chunk, or with probability 0.5 (always for a one-sentence chunk)
    text of a random other document."""
    cdef int64_t first = c.spans[d].first, m = c.spans[d].m
    cdef int64_t target = p.max_num_tokens, i = 0, chunk_first = 0, chunk_n = 0, length = 0
    cdef int64_t a_end, a_start, a_stop, b_start, b_len, target_b, r, rfirst, rm, rstart, j
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
                rfirst = c.spans[r].first
                rm = c.spans[r].m
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


# The sentence-pair objectives by name (PretrainingConfig.sentence_pair).
cdef struct SentencePair:
    const char* name
    PairFn instances

cdef SentencePair SENTENCE_PAIR_TABLE[1]
SENTENCE_PAIR_TABLE[0] = SentencePair(b"nsp", nsp_instances)
SENTENCE_PAIRS = tuple(SENTENCE_PAIR_TABLE[i].name.decode()
                       for i in range(sizeof(SENTENCE_PAIR_TABLE) // sizeof(SentencePair)))


cdef Py_ssize_t named(str name, names, what) except -1:
    """The index of `name` in `names` (a table's names); ValueError listing them otherwise."""
    if name not in names:
        raise ValueError(f"unknown {what} {name!r}: one of {', '.join(names)}")
    return names.index(name)


cdef bint has_either(Tokens t, int64_t n, int32_t a, int32_t b) noexcept nogil:
    """Whether any of the n token ids is a or b."""
    cdef int64_t i
    cdef bint found = False
    if t.narrow:
        for i in range(n):
            found |= ((<const uint16_t*>t.data)[i] == a) | ((<const uint16_t*>t.data)[i] == b)
    else:
        for i in range(n):
            found |= ((<const int32_t*>t.data)[i] == a) | ((<const int32_t*>t.data)[i] == b)
    return found


cdef int check_offsets(const int64_t[::1] offsets, int64_t n_items, what, items, bint nonempty) except -1:
    """ValueError unless `offsets` splits n_items items into its parts in order: it starts at 0, never goes
    down (never stays put when every part must be `nonempty`) and ends inside the items."""
    cdef Py_ssize_t i, n = offsets.shape[0]
    cdef bint ok = n >= 1 and offsets[0] == 0 and offsets[n - 1] <= n_items
    with nogil:
        for i in range(1, n):
            if offsets[i] < offsets[i - 1] + nonempty:
                ok = False
                break
    if not ok:
        raise ValueError(f"{what} offsets must start at 0, {'rise' if nonempty else 'never fall'} and end within "
                         f"the {n_items} {items}")
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

    def __cinit__(self, tokens, const int64_t[::1] sentences, const int64_t[::1] documents,
                  const int64_t[::1] doc_order, CompatRandom rng, *, int max_seq_length, double short_seq_prob,
                  double masked_lm_prob, int max_predictions_per_seq, str masking="token", str sentence_pair="nsp",
                  const int32_t[::1] random_words, const uint8_t[::1] is_subword, int cls_id, int sep_id,
                  int mask_id):
        cdef int L = max_seq_length, P = max_predictions_per_seq
        if L < 5 or L > 65535:
            raise ValueError("max_seq_length must be between 5 and 65535")
        cdef Tokens corpus_tokens = tokens_of(tokens)
        if tokens.shape[0] >= 1 << 32:
            raise ValueError("more than 2**32 tokens in one corpus: split it (the Beam pipeline does)")
        if (P < 0 or random_words.shape[0] == 0 or is_subword.shape[0] == 0
                or doc_order.shape[0] != documents.shape[0] - 1):
            raise ValueError("invalid instance parameters")
        check_offsets(sentences, tokens.shape[0], "sentence", "tokens", False)
        check_offsets(documents, sentences.shape[0] - 1, "document", "sentences", True)
        self._keep = (tokens, sentences, random_words, is_subword)    # the memory the pointers below point to
        self.rng = rng
        cdef Masking m = MASKING_TABLE[named(masking, MASKINGS, "masking")]
        cdef PairFn pair = SENTENCE_PAIR_TABLE[named(sentence_pair, SENTENCE_PAIRS, "sentence_pair")].instances
        cdef bint plain = m.mask_plain != NULL and not has_either(corpus_tokens, tokens.shape[0], cls_id, sep_id)
        if plain:
            m.mask = m.mask_plain
        self.p = Params(L, L - 3, P, short_seq_prob, masked_lm_prob, m.mask, not plain, pair, cls_id, sep_id,
                        mask_id, &random_words[0], random_words.shape[0], &is_subword[0], is_subword.shape[0])
        cdef int64_t k, n_docs = doc_order.shape[0]
        cdef DocSpan* spans = <DocSpan*>malloc(max(n_docs, 1) * sizeof(DocSpan))
        if spans == NULL:
            raise MemoryError()
        for k in range(n_docs):
            if not 0 <= doc_order[k] < n_docs:
                free(spans)
                raise ValueError(f"doc_order holds {doc_order[k]}, not a document number (0 to {n_docs - 1})")
            spans[k].first = documents[doc_order[k]]
            spans[k].m = documents[doc_order[k] + 1] - spans[k].first
        self.c = Corpus(corpus_tokens, &sentences[0], spans, n_docs)
        self.w = Work(<int32_t*>malloc(L * sizeof(int32_t)), <int32_t*>malloc(L * sizeof(int32_t)),
                      <int32_t*>malloc(L * sizeof(int32_t)), <int32_t*>malloc(L * sizeof(int32_t)),
                      <int32_t*>malloc(L * sizeof(int32_t)), <uint16_t*>malloc((P + 1) * sizeof(uint16_t)),
                      <uint8_t*>malloc(P + 1), <int32_t*>malloc((P + 1) * sizeof(int32_t)),
                      <uint64_t*>calloc((L + 63) // 64, sizeof(uint64_t)), <uint8_t*>malloc(L),
                      <int32_t*>malloc(L * sizeof(int32_t)))
        store_init(&self.s, L, P)
        if (self.w.seq == NULL or self.w.group_pos == NULL or self.w.group_start == NULL
                or self.w.group_len == NULL or self.w.group_order == NULL or self.w.pos == NULL
                or self.w.kind == NULL or self.w.rep == NULL or self.w.chosen == NULL or self.w.kind_at == NULL
                or self.w.rep_at == NULL or store_grow(&self.s) < 0):
            raise MemoryError()

    def __dealloc__(self):
        store_free(&self.s)
        free(self.w.seq); free(self.w.group_pos); free(self.w.group_start); free(self.w.group_len)
        free(self.w.group_order); free(self.w.pos); free(self.w.kind); free(self.w.rep)
        free(self.w.chosen); free(self.w.kind_at); free(self.w.rep_at)
        free(<void*>self.c.spans)

    @property
    def n_instances(self):
        return self.s.n

    def reserve(self, int64_t n):
        """Makes room for n instances (and their random words) at once; see store_reserve. Building never needs
        more than dupe_factor x sentences: every instance takes at least one sentence of its document."""
        if n > 0 and store_reserve(&self.s, n, n * self.p.max_pred) < 0:
            raise MemoryError()

    def add(self, int64_t start, int64_t stop):
        """Instances of documents start..stop-1 of the shuffled list (one pass over them)."""
        cdef int64_t d
        cdef int rc = 0
        if not 0 <= start <= stop <= self.c.n_docs:
            raise IndexError("document range out of bounds")
        with nogil:
            for d in range(start, stop):
                if self.p.pair_instances(&self.rng._s, &self.p, &self.c, &self.w, &self.s, d) < 0:
                    rc = -1
                    break
        if rc < 0:
            raise MemoryError()

    def finish(self):
        """The instances as numpy arrays (the builder hands its buffers over and is empty afterwards)."""
        cdef int64_t n = self.s.n, P = self.p.max_pred
        cdef int k
        result = {}
        for k, (name, dtype) in enumerate(COLUMNS):
            if dtype is None:
                dtype = np.uint8 if narrow_positions(self.p.max_seq_length) else np.uint16
            per_instance = self.s.width[k] // np.dtype(dtype).itemsize
            array = _adopt(<void**>&self.s.col[k], n * per_instance, dtype)
            result[name] = array.reshape(n, per_instance) if name in ("positions", "kinds") else array
        result["random_ids"] = _adopt(<void**>&self.s.random_ids, self.s.n_random, np.int32)
        result["n_truncated"] = self.s.n_truncated
        result["n_masked_total"] = self.s.n_masked_total
        store_free(&self.s)
        store_init(&self.s, self.p.max_seq_length, P)
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


# Read-only pointers into an instance table (the arrays of InstanceBuilder.finish).
cdef struct Columns:
    const uint32_t* a_start
    const void* a_len               # uint8 (narrow) or uint16
    const uint32_t* b_start
    const void* b_len
    const uint8_t* random_next
    const void* positions           # [n, P], uint8 (narrow) or uint16
    const uint8_t* kinds            # [n, kinds_width(P)], 2 bits each
    bint narrow
    const uint32_t* random_at
    const int32_t* random_ids
    int64_t n
    int P


cdef Columns columns_of(dict inst, int P) except *:
    cdef Columns c
    c.a_start = <const uint32_t*>_first(inst["a_start"], np.uint32, 1)
    c.narrow = inst["positions"].dtype == np.uint8
    small = np.uint8 if c.narrow else np.uint16
    c.a_len = _first(inst["a_len"], small, 1)
    c.b_start = <const uint32_t*>_first(inst["b_start"], np.uint32, 1)
    c.b_len = _first(inst["b_len"], small, 1)
    c.random_next = <const uint8_t*>_first(inst["random_next"], np.uint8, 1)
    c.positions = _first(inst["positions"], small, 2)
    c.kinds = <const uint8_t*>_first(inst["kinds"], np.uint8, 2)
    c.random_at = <const uint32_t*>_first(inst["random_at"], np.uint32, 1)
    c.random_ids = <const int32_t*>_first(inst["random_ids"], np.int32, 1)
    c.n = len(inst["a_start"])
    c.P = P
    for name in ("a_len", "b_start", "b_len", "random_next", "random_at"):
        if len(inst[name]) != c.n:
            raise ValueError(f"instance table column {name} has {len(inst[name])} rows, a_start {c.n}")
    if inst["positions"].shape != (c.n, P) or inst["kinds"].shape != (c.n, kinds_width(P)):
        raise ValueError(f"instance table has {inst['positions'].shape[1:]} predictions per instance, not "
                         f"max_predictions_per_seq={P}: it was built with another config")
    return c


cdef inline int fill_row(const Columns* c, int64_t r, Tokens tokens, int32_t cls_id, int32_t sep_id,
                         int32_t mask_id, int32_t* row, int32_t* mpos, int32_t* mids, int* seg_a,
                         int* count) noexcept nogil:
    """Instance r as model input: row[:n] = [CLS] A [SEP] B [SEP] with the masking applied, the masked
    positions and their original ids in mpos/mids[:count]; returns n."""
    cdef int at, k, pos, kind, cnt = c.P
    cdef const uint8_t* kinds = c.kinds + r * kinds_width(c.P)
    cdef int64_t at_random = c.random_at[r]
    cdef int64_t a_len = small_at(c.a_len, r, c.narrow), b_len = small_at(c.b_len, r, c.narrow)
    row[0] = cls_id
    copy_tokens(row + 1, tokens, c.a_start[r], a_len)
    at = <int>(1 + a_len)
    row[at] = sep_id
    at += 1
    seg_a[0] = at
    copy_tokens(row + at, tokens, c.b_start[r], b_len)
    at += <int>b_len
    row[at] = sep_id
    at += 1
    for k in range(c.P):
        pos = <int>small_at(c.positions, r * c.P + k, c.narrow)
        if pos == 0:            # the masked positions end
            cnt = k
            break
        kind = (kinds[k >> 2] >> (2 * (k & 3))) & 3
        mpos[k] = pos
        mids[k] = row[pos]
        if kind == MASK_TOKEN:
            row[pos] = mask_id
        elif kind == RANDOM_WORD:
            row[pos] = c.random_ids[at_random]
            at_random += 1
    count[0] = cnt
    return at


cdef enum:
    GATHER_ROWS = 128       # instances copied at a time into a small local table before encoding (see gather)


cdef struct LocalTable:
    Columns c               # a gathered batch in rows 0..; its columns point into buf, random_ids to the table's
    char* buf


cdef int local_table_init(LocalTable* g, const Columns* c) noexcept nogil:
    """Room for GATHER_ROWS instances of table c's layout; -1 when out of memory."""
    cdef size_t small = 1 if c.narrow else 2, rows = GATHER_ROWS
    cdef size_t kw = kinds_width(c.P)
    cdef char* p = <char*>malloc(rows * (3 * sizeof(uint32_t) + 2 * small + 1 + small * c.P + kw))
    g.buf = p
    if p == NULL:
        return -1
    g.c = c[0]
    g.c.n = rows
    g.c.a_start = <const uint32_t*>p
    g.c.b_start = <const uint32_t*>(p + rows * 4)
    g.c.random_at = <const uint32_t*>(p + rows * 8)
    p += rows * 12
    g.c.a_len = p
    g.c.b_len = p + rows * small
    p += rows * 2 * small
    g.c.positions = p
    p += rows * small * c.P
    g.c.kinds = <const uint8_t*>p
    g.c.random_next = <const uint8_t*>(p + rows * kw)
    return 0


cdef void gather(const Columns* c, const int64_t* rows, int64_t n, LocalTable* g, Tokens t) noexcept nogil:
    """Copies instances rows[:n] (n <= GATHER_ROWS) of table c to rows 0..n-1 of g, column by column, and asks
    for their tokens. In shuffled order every column of every instance is a cache miss; these loops' loads do not
    wait for each other, so memory serves many at once, where encoding straight from the table waits for each.
    On the 16 MB mix: 1000-1100 ns per record straight from the table, 720-790 through g (500-600 in table order)."""
    cdef int64_t j, r
    cdef size_t small = 1 if c.narrow else 2, kw = kinds_width(c.P)
    cdef uint32_t* a_start = <uint32_t*>g.c.a_start
    cdef uint32_t* b_start = <uint32_t*>g.c.b_start
    cdef uint32_t* random_at = <uint32_t*>g.c.random_at
    cdef uint8_t* random_next = <uint8_t*>g.c.random_next
    for j in range(n):
        r = rows[j]
        a_start[j] = c.a_start[r]
        b_start[j] = c.b_start[r]
        random_at[j] = c.random_at[r]
        random_next[j] = c.random_next[r]
    for j in range(n):
        r = rows[j]
        memcpy(<char*>g.c.a_len + j * small, <const char*>c.a_len + r * small, small)
        memcpy(<char*>g.c.b_len + j * small, <const char*>c.b_len + r * small, small)
        memcpy(<char*>g.c.positions + j * small * c.P, <const char*>c.positions + r * small * c.P, small * c.P)
        memcpy(<char*>g.c.kinds + j * kw, c.kinds + r * kw, kw)
    for j in range(n):
        __builtin_prefetch(<const char*>t.data + a_start[j] * (2 if t.narrow else 4))
        __builtin_prefetch(<const char*>t.data + b_start[j] * (2 if t.narrow else 4))


cdef enum:
    ROW_OK, ROW_MISSING, ROW_PAST_TOKENS, ROW_TOO_LONG, ROW_BAD_POSITION, ROW_PAST_RANDOM_IDS


cdef int row_problem(const Columns* c, int64_t r, int64_t n_tokens, int64_t n_random_ids,
                     int max_seq_length) noexcept nogil:
    """What is wrong with instance r for these tokens and max_seq_length (ROW_OK: nothing): every token range,
    masked position and random word fill_row reads or writes lies inside its array."""
    cdef int64_t a_len, b_len, n, k, pos, n_random = 0
    cdef const uint8_t* kinds
    if not 0 <= r < c.n:
        return ROW_MISSING
    a_len = small_at(c.a_len, r, c.narrow)
    b_len = small_at(c.b_len, r, c.narrow)
    if c.a_start[r] + a_len > n_tokens or c.b_start[r] + b_len > n_tokens:
        return ROW_PAST_TOKENS
    n = 3 + a_len + b_len
    if n > max_seq_length:
        return ROW_TOO_LONG
    kinds = c.kinds + r * kinds_width(c.P)
    for k in range(c.P):
        pos = small_at(c.positions, r * c.P + k, c.narrow)
        if pos == 0:
            break
        if pos >= n:
            return ROW_BAD_POSITION
        n_random += ((kinds[k >> 2] >> (2 * (k & 3))) & 3) == RANDOM_WORD
    if c.random_at[r] + n_random > n_random_ids:
        return ROW_PAST_RANDOM_IDS
    return ROW_OK


cdef int check_rows(const Columns* c, const int64_t[::1] rows, tokens, int64_t n_random_ids,
                    int max_seq_length) except -1:
    """ValueError unless the instances at `rows` belong to these tokens (documents) and this config."""
    cdef Py_ssize_t i, bad = -1
    cdef int64_t n_tokens = len(tokens)
    cdef int problem = ROW_OK
    with nogil:
        for i in range(rows.shape[0]):
            problem = row_problem(c, rows[i], n_tokens, n_random_ids, max_seq_length)
            if problem != ROW_OK:
                bad = i
                break
    if problem == ROW_OK:
        return 0
    r = rows[bad]
    if problem == ROW_MISSING:
        raise ValueError(f"instance row {r} out of range (the table has {c.n})")
    if problem == ROW_PAST_TOKENS:
        raise ValueError(f"instance {r} reads tokens past the end of the documents ({n_tokens} tokens): "
                         "these instances were built from other documents")
    if problem == ROW_TOO_LONG:
        raise ValueError(f"instance {r} is longer than max_seq_length={max_seq_length}: these instances were "
                         "built with another config")
    if problem == ROW_BAD_POSITION:
        raise ValueError(f"instance {r} has a masked position outside its sequence")
    raise ValueError(f"instance {r} uses random words past the end of random_ids")


cdef int check_sizes(int max_seq_length, int max_predictions_per_seq) except -1:
    if max_seq_length < 5 or max_seq_length > 65535 or max_predictions_per_seq < 0:
        raise ValueError(f"max_seq_length={max_seq_length} must be in [5, 65535] and max_predictions_per_seq="
                         f"{max_predictions_per_seq} non-negative")
    return 0


def materialize(tokens, dict inst, const int64_t[::1] rows, int max_seq_length,
                int max_predictions_per_seq, int cls_id, int sep_id, int mask_id):
    """The feature arrays of the given instances (rows), as records.frame_examples takes them."""
    check_sizes(max_seq_length, max_predictions_per_seq)
    cdef Columns c = columns_of(inst, max_predictions_per_seq)
    cdef Tokens t = tokens_of(tokens)
    check_rows(&c, rows, tokens, len(inst["random_ids"]), max_seq_length)
    cdef int64_t n = rows.shape[0], i
    cdef int P = max_predictions_per_seq, seg, cnt
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
            len_v[i] = fill_row(&c, rows[i], t, cls_id, sep_id, mask_id, &ids_v[i, 0], &mpos_v[i, 0],
                                &mids_v[i, 0], &seg, &cnt)
            seg_v[i] = seg
            cnt_v[i] = cnt
            lab_v[i] = c.random_next[rows[i]]
    return input_ids, lengths, seg_a, mpos, mids, counts, labels


cdef size_t encode_rows(const Columns* c, LocalTable* g, Tokens t, const int64_t* rows, int64_t n_rows,
                        int32_t cls_id, int32_t sep_id, int32_t mask_id, int32_t* scratch, size_t L, size_t P,
                        uint8_t* out) noexcept nogil:
    """Encodes instances rows[:n_rows] of c at out, through g; returns the bytes written (only counted when out
    is NULL)."""
    cdef int32_t* mpos = scratch + L
    cdef int32_t* mids = scratch + L + P + 1
    cdef int64_t start = 0, j, m
    cdef int n, seg, cnt
    cdef size_t total = 0
    while start < n_rows:
        m = min(<int64_t>GATHER_ROWS, n_rows - start)
        gather(c, rows + start, m, g, t)
        start += m
        for j in range(m):
            n = fill_row(&g.c, j, t, cls_id, sep_id, mask_id, scratch, mpos, mids, &seg, &cnt)
            if out == NULL:
                total += example_record_size(scratch, n, mpos, mids, cnt, g.c.random_next[j], L, P)
            else:
                total = put_example_record(out + total, scratch, n, seg, mpos, mids, cnt, g.c.random_next[j], L,
                                           P) - out
    return total


def encode_records(tokens, dict inst, const int64_t[::1] rows, int max_seq_length,
                   int max_predictions_per_seq, int cls_id, int sep_id, int mask_id, bytearray out=None):
    """The given instances (rows) as TFRecord-framed tf.train.Example bytes, the same bytes as
    frame_examples(*materialize(...)). Into `out` (grown when too small), returning a memoryview of the written
    bytes; without `out`, as a new bytes object of exactly their size (the rows are then read twice)."""
    check_sizes(max_seq_length, max_predictions_per_seq)
    cdef Columns c = columns_of(inst, max_predictions_per_seq)
    cdef Tokens t = tokens_of(tokens)
    check_rows(&c, rows, tokens, len(inst["random_ids"]), max_seq_length)
    cdef size_t L = max_seq_length, P = max_predictions_per_seq, total = 0
    cdef int32_t* scratch = <int32_t*>malloc((L + 2 * P + 2) * sizeof(int32_t))
    cdef LocalTable g
    cdef uint8_t* base
    cdef uint8_t* o = NULL
    if scratch == NULL or local_table_init(&g, &c) < 0:
        free(scratch)
        raise MemoryError()
    try:
        if out is None:
            with nogil:
                total = encode_rows(&c, &g, t, &rows[0] if rows.shape[0] else NULL, rows.shape[0], cls_id,
                                    sep_id, mask_id, scratch, L, P, NULL)
            result = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>total)
            base = <uint8_t*>PyBytes_AS_STRING(result)
        else:
            if len(out) < <Py_ssize_t>(rows.shape[0] * record_bound(L, P)):
                PyByteArray_Resize(out, rows.shape[0] * record_bound(L, P))
            base = <uint8_t*>PyByteArray_AS_STRING(out)
        with nogil:
            o = base + encode_rows(&c, &g, t, &rows[0] if rows.shape[0] else NULL, rows.shape[0], cls_id, sep_id,
                                   mask_id, scratch, L, P, base)
    finally:
        free(scratch)
        free(g.buf)
    if out is not None:
        return memoryview(out)[:o - base]
    if <size_t>(o - base) != total:  # internal consistency guard
        raise AssertionError(f"encode_records wrote {o - base} bytes, expected {total}")
    return result
