# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Native TFRecord framing and ``tf.train.Example`` encoding for BERT pretraining data.

Nothing here needs TensorFlow or protobuf: the Example wire format is written by hand.

* ``crc32c(data, crc=0)`` -- CRC-32C (Castagnoli): the SSE4.2 instruction where the CPU has it
  (``CRC32C_IMPLEMENTATION == "sse4.2"``), else portable slicing-by-16 (``"portable"``).
* ``masked_crc32c(data)`` -- the masked CRC TFRecord stores.
* ``frame_record(payload)`` -- one TFRecord frame around ``payload``.
* ``frame_examples(...)`` -- N BERT pretraining instances -> N concatenated TFRecord frames,
  each payload a serialized ``tf.train.Example``.

Wire layout of one payload (all lengths are varints)::

    Example   { 1: Features }                                  0x0A len ...
    Features  { 1: repeated MapEntry }                         0x0A len ... (x7)
    MapEntry  { 1: key (string), 2: Feature }                  0x0A len key 0x12 len ...
    Feature   { 2: FloatList | 3: Int64List }                  0x12/0x1A len ...
    *List     { 1: packed values }                             0x0A len values (omitted when empty)

Map entries are written in the reference (``create_pretraining_data.py``) OrderedDict order:
input_ids, input_mask, segment_ids, masked_lm_positions, masked_lm_ids, masked_lm_weights,
next_sentence_labels. Each entry is byte-identical to what protobuf writes for it; protobuf's own
(upb) serializer emits map entries in a per-process hash order, so only the entry order can differ.
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t
from libc.string cimport memset, memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

import numpy as np

cdef extern from "crc32c_hw.h":
    int wptk_crc32c_hw_available() nogil
    uint32_t wptk_crc32c_hw(uint32_t crc, const uint8_t* p, size_t n) nogil

__all__ = ["crc32c", "masked_crc32c", "frame_record", "frame_examples", "CRC32C_IMPLEMENTATION"]

# ---------------------------------------------------------------------------------------------
# CRC-32C, slicing-by-16 (reflected polynomial 0x82F63B78)
# ---------------------------------------------------------------------------------------------

cdef uint32_t _CRC_TABLE[16][256]
cdef uint32_t _MASK_DELTA = 0xA282EAD8u


cdef void _build_crc_tables() noexcept:
    cdef uint32_t c
    cdef int i, k, t
    for i in range(256):
        c = <uint32_t>i
        for k in range(8):
            if c & 1u:
                c = (c >> 1) ^ 0x82F63B78u
            else:
                c = c >> 1
        _CRC_TABLE[0][i] = c
    for i in range(256):
        for t in range(1, 16):
            c = _CRC_TABLE[t - 1][i]
            _CRC_TABLE[t][i] = (c >> 8) ^ _CRC_TABLE[0][c & 0xFFu]


_build_crc_tables()


cdef inline uint32_t _load_le32(const uint8_t* p) noexcept nogil:
    # Byte-wise composition is endian-independent; compilers fuse it into one load on LE targets.
    return (<uint32_t>p[0]) | ((<uint32_t>p[1]) << 8) | ((<uint32_t>p[2]) << 16) | ((<uint32_t>p[3]) << 24)


cdef uint32_t _crc_portable(uint32_t crc, const uint8_t* p, size_t n) noexcept nogil:
    """Extend a finalized CRC-32C value ``crc`` with ``n`` bytes at ``p`` (no special instructions)."""
    cdef uint32_t w0, w1, w2, w3
    crc = ~crc
    while n >= 16:
        w0 = crc ^ _load_le32(p)
        w1 = _load_le32(p + 4)
        w2 = _load_le32(p + 8)
        w3 = _load_le32(p + 12)
        crc = (_CRC_TABLE[15][w0 & 0xFFu] ^ _CRC_TABLE[14][(w0 >> 8) & 0xFFu] ^
               _CRC_TABLE[13][(w0 >> 16) & 0xFFu] ^ _CRC_TABLE[12][w0 >> 24] ^
               _CRC_TABLE[11][w1 & 0xFFu] ^ _CRC_TABLE[10][(w1 >> 8) & 0xFFu] ^
               _CRC_TABLE[9][(w1 >> 16) & 0xFFu] ^ _CRC_TABLE[8][w1 >> 24] ^
               _CRC_TABLE[7][w2 & 0xFFu] ^ _CRC_TABLE[6][(w2 >> 8) & 0xFFu] ^
               _CRC_TABLE[5][(w2 >> 16) & 0xFFu] ^ _CRC_TABLE[4][w2 >> 24] ^
               _CRC_TABLE[3][w3 & 0xFFu] ^ _CRC_TABLE[2][(w3 >> 8) & 0xFFu] ^
               _CRC_TABLE[1][(w3 >> 16) & 0xFFu] ^ _CRC_TABLE[0][w3 >> 24])
        p += 16
        n -= 16
    if n >= 8:
        w0 = crc ^ _load_le32(p)
        w1 = _load_le32(p + 4)
        crc = (_CRC_TABLE[7][w0 & 0xFFu] ^ _CRC_TABLE[6][(w0 >> 8) & 0xFFu] ^
               _CRC_TABLE[5][(w0 >> 16) & 0xFFu] ^ _CRC_TABLE[4][w0 >> 24] ^
               _CRC_TABLE[3][w1 & 0xFFu] ^ _CRC_TABLE[2][(w1 >> 8) & 0xFFu] ^
               _CRC_TABLE[1][(w1 >> 16) & 0xFFu] ^ _CRC_TABLE[0][w1 >> 24])
        p += 8
        n -= 8
    while n > 0:
        crc = _CRC_TABLE[0][(crc ^ p[0]) & 0xFFu] ^ (crc >> 8)
        p += 1
        n -= 1
    return ~crc


cdef bint _HW = wptk_crc32c_hw_available()
CRC32C_IMPLEMENTATION = "sse4.2" if _HW else "portable"


cdef inline uint32_t _crc_update(uint32_t crc, const uint8_t* p, size_t n) noexcept nogil:
    """Extend a finalized CRC-32C value ``crc`` with ``n`` bytes at ``p``."""
    if _HW:
        return wptk_crc32c_hw(crc, p, n)
    return _crc_portable(crc, p, n)


cdef inline uint32_t _mask(uint32_t crc) noexcept nogil:
    return ((crc >> 15) | (crc << 17)) + _MASK_DELTA


cdef inline void _put_le32(uint8_t* o, uint32_t v) noexcept nogil:
    o[0] = <uint8_t>(v & 0xFFu)
    o[1] = <uint8_t>((v >> 8) & 0xFFu)
    o[2] = <uint8_t>((v >> 16) & 0xFFu)
    o[3] = <uint8_t>(v >> 24)


cdef inline void _put_le64(uint8_t* o, uint64_t v) noexcept nogil:
    cdef int k
    for k in range(8):
        o[k] = <uint8_t>(v & 0xFFu)
        v >>= 8


cdef inline void _frame_in_place(uint8_t* rec, size_t payload_len) noexcept nogil:
    """``rec`` holds 12 header bytes, ``payload_len`` payload bytes, 4 footer bytes; fill header/footer."""
    _put_le64(rec, <uint64_t>payload_len)
    _put_le32(rec + 8, _mask(_crc_update(0, rec, 8)))
    _put_le32(rec + 12 + payload_len, _mask(_crc_update(0, rec + 12, payload_len)))


def crc32c(const uint8_t[::1] data, uint32_t crc=0):
    """CRC-32C (Castagnoli) of a bytes-like object; ``crc`` continues a previous value.

    ``crc32c(b, crc32c(a)) == crc32c(a + b)``; ``crc32c(b"123456789") == 0xE3069283``.
    """
    cdef size_t n = data.shape[0]
    cdef const uint8_t* p
    if n == 0:
        return crc
    p = &data[0]
    if n >= 65536:
        with nogil:
            crc = _crc_update(crc, p, n)
    else:
        crc = _crc_update(crc, p, n)
    return crc


def _crc32c_portable(const uint8_t[::1] data, uint32_t crc=0):
    """``crc32c`` without the SSE4.2 path (tests check that both agree)."""
    if data.shape[0] == 0:
        return crc
    return _crc_portable(crc, &data[0], data.shape[0])


def masked_crc32c(const uint8_t[::1] data):
    """TFRecord's masked CRC: ``((c >> 15) | (c << 17)) + 0xa282ead8`` mod 2**32, c = crc32c(data)."""
    cdef size_t n = data.shape[0]
    cdef uint32_t crc = 0
    if n > 0:
        if n >= 65536:
            with nogil:
                crc = _crc_update(0, &data[0], n)
        else:
            crc = _crc_update(0, &data[0], n)
    return _mask(crc)


def frame_record(const uint8_t[::1] payload):
    """Return one TFRecord frame: uint64 LE length, masked crc(length), payload, masked crc(payload)."""
    cdef size_t n = payload.shape[0]
    out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>(n + 16))
    cdef uint8_t* o = <uint8_t*>PyBytes_AS_STRING(out)
    if n > 0:
        memcpy(o + 12, &payload[0], n)
    if n >= 65536:
        with nogil:
            _frame_in_place(o, n)
    else:
        _frame_in_place(o, n)
    return out


# ---------------------------------------------------------------------------------------------
# Protobuf helpers
# ---------------------------------------------------------------------------------------------

cdef inline size_t _vsz(uint64_t v) noexcept nogil:
    cdef size_t n = 1
    while v >= 0x80u:
        v >>= 7
        n += 1
    return n


cdef inline uint8_t* _put_varint(uint8_t* o, uint64_t v) noexcept nogil:
    while v >= 0x80u:
        o[0] = <uint8_t>((v & 0x7Fu) | 0x80u)
        v >>= 7
        o += 1
    o[0] = <uint8_t>v
    return o + 1


cdef inline uint64_t _as_varint_value(int32_t x) noexcept nogil:
    # protobuf int64: negative values are sign-extended to 64 bits (10-byte varints).
    return <uint64_t>(<int64_t>x)


cdef inline uint32_t _vsz32(int32_t x) noexcept nogil:
    """Branch-free varint size of an int32 sign-extended to int64 (1..5 bytes, 10 if negative)."""
    cdef uint32_t u = <uint32_t>x
    return (1u + <uint32_t>(u >= 0x80u) + <uint32_t>(u >= 0x4000u) + <uint32_t>(u >= 0x200000u)
            + <uint32_t>(u >= 0x10000000u) + 5u * (u >> 31))


cdef inline size_t _int_body(const int32_t* v, size_t count, size_t width) noexcept nogil:
    """Packed-varint byte count of ``count`` values followed by ``width - count`` zeros."""
    cdef size_t j
    cdef size_t s = 0
    for j in range(count):
        s += _vsz32(v[j])
    return (width - count) + s


cdef inline size_t _list_msg_size(size_t body) noexcept nogil:
    # Int64List / FloatList: empty packed field is omitted entirely.
    if body == 0:
        return 0
    return 1 + _vsz(body) + body


cdef inline size_t _feature_msg_size(size_t body) noexcept nogil:
    cdef size_t ls = _list_msg_size(body)
    return 1 + _vsz(ls) + ls


cdef inline size_t _entry_msg_size(size_t keylen, size_t body) noexcept nogil:
    cdef size_t fs = _feature_msg_size(body)
    return 1 + _vsz(keylen) + keylen + 1 + _vsz(fs) + fs


cdef inline size_t _entry_field_size(size_t keylen, size_t body) noexcept nogil:
    cdef size_t es = _entry_msg_size(keylen, body)
    return 1 + _vsz(es) + es


cdef inline uint8_t* _put_entry_head(uint8_t* o, const char* key, size_t keylen,
                                     uint8_t list_tag, size_t body) noexcept nogil:
    """Write everything of one map entry up to (excluding) the packed values."""
    cdef size_t ls = _list_msg_size(body)
    cdef size_t fs = 1 + _vsz(ls) + ls
    cdef size_t es = 1 + _vsz(keylen) + keylen + 1 + _vsz(fs) + fs
    o[0] = 0x0A                      # Features.feature (map entry), length-delimited
    o = _put_varint(o + 1, es)
    o[0] = 0x0A                      # MapEntry.key
    o = _put_varint(o + 1, keylen)
    memcpy(o, key, keylen)
    o += keylen
    o[0] = 0x12                      # MapEntry.value (Feature)
    o = _put_varint(o + 1, fs)
    o[0] = list_tag                  # Feature.float_list (0x12) / Feature.int64_list (0x1A)
    o = _put_varint(o + 1, ls)
    if body:
        o[0] = 0x0A                  # *List.value, packed
        o = _put_varint(o + 1, body)
    return o


cdef enum:
    _VARINT_TABLE_SIZE = 1 << 17     # every id of BERT's vocabularies (multilingual: 119,547) and every position


# _VARINT[x] for 0 <= x < _VARINT_TABLE_SIZE: x's varint bytes in the low 24 bits (little-endian, at most 3 for
# x < 2**21), their count in the top 8 bits. One load instead of computing the groups for every value.
cdef uint32_t _VARINT[_VARINT_TABLE_SIZE]


cdef void _build_varint_table() noexcept:
    cdef uint32_t x, n
    for x in range(_VARINT_TABLE_SIZE):
        n = _vsz32(<int32_t>x)
        _VARINT[x] = ((x & 0x7Fu) | ((x << 1) & 0x7F00u) | ((x << 2) & 0x7F0000u)
                      | (0x808080u & ((1u << (8 * (n - 1))) - 1u)) | (n << 24))


_build_varint_table()


cdef inline uint8_t* _put_int_values(uint8_t* o, const int32_t* v, size_t count,
                                     size_t width) noexcept nogil:
    # A table value's three low bytes are always stored, of which only its varint bytes count (the next store
    # overwrites the rest). Callers leave at least 3 bytes of room after every value run: in a record, every
    # run is followed by more of the record.
    cdef size_t j
    cdef uint32_t x, e
    for j in range(count):
        x = <uint32_t>v[j]
        if x < _VARINT_TABLE_SIZE:
            e = _VARINT[x]
            o[0] = <uint8_t>e
            o[1] = <uint8_t>(e >> 8)
            o[2] = <uint8_t>(e >> 16)
            o += e >> 24
        else:
            o = _put_varint(o, _as_varint_value(<int32_t>x))
    if width > count:
        memset(o, 0, width - count)
        o += width - count
    return o


# Feature keys, in the reference OrderedDict order.
cdef const char* _K_IDS = b"input_ids"
cdef const char* _K_MASK = b"input_mask"
cdef const char* _K_SEG = b"segment_ids"
cdef const char* _K_POS = b"masked_lm_positions"
cdef const char* _K_MID = b"masked_lm_ids"
cdef const char* _K_W = b"masked_lm_weights"
cdef const char* _K_NSP = b"next_sentence_labels"
cdef enum:
    _L_IDS = 9
    _L_MASK = 10
    _L_SEG = 11
    _L_POS = 19
    _L_MID = 13
    _L_W = 17
    _L_NSP = 20
    _TAG_FLOAT = 0x12
    _TAG_INT64 = 0x1A


cdef inline size_t _features_size(size_t L, size_t P, size_t ids_body, size_t pos_body,
                                  size_t mid_body, size_t nsp_body) noexcept nogil:
    return (_entry_field_size(_L_IDS, ids_body) +
            _entry_field_size(_L_MASK, L) +
            _entry_field_size(_L_SEG, L) +
            _entry_field_size(_L_POS, pos_body) +
            _entry_field_size(_L_MID, mid_body) +
            _entry_field_size(_L_W, 4 * P) +
            _entry_field_size(_L_NSP, nsp_body))


cdef inline size_t _payload_size(size_t L, size_t P, size_t ids_body, size_t pos_body,
                                 size_t mid_body, size_t nsp_body) noexcept nogil:
    cdef size_t fs = _features_size(L, P, ids_body, pos_body, mid_body, nsp_body)
    return 1 + _vsz(fs) + fs


cdef size_t record_bound(size_t L, size_t P) noexcept nogil:
    """At most how many bytes ``put_example_record`` writes for one instance, whatever its values."""
    return 16 + _payload_size(L, P, 10 * L, 10 * P, 10 * P, 10)


cdef size_t example_record_size(const int32_t* ids, size_t n, const int32_t* pos, const int32_t* mid,
                                size_t count, int32_t nsp, size_t L, size_t P) noexcept nogil:
    """How many bytes put_example_record writes for these values."""
    return 16 + _payload_size(L, P, _int_body(ids, n, L), _int_body(pos, count, P), _int_body(mid, count, P),
                              _vsz(_as_varint_value(nsp)))


cdef uint8_t* put_example_record(uint8_t* rec, const int32_t* ids, size_t n, size_t a, const int32_t* pos,
                                 const int32_t* mid, size_t count, int32_t nsp, size_t L,
                                 size_t P) noexcept nogil:
    """Writes one framed record at ``rec`` and returns its end: the Example of an instance whose tokens are
    ids[:n] (segment A = the first ``a``), masked positions pos[:count] with labels mid[:count], next-sentence
    label ``nsp``, padded to L tokens and P predictions. Writes exactly example_record_size(...) bytes (at most
    record_bound(L, P)), nothing past them."""
    cdef size_t ids_body = _int_body(ids, n, L)
    cdef size_t pos_body = _int_body(pos, count, P)
    cdef size_t mid_body = _int_body(mid, count, P)
    cdef size_t nsp_body = _vsz(_as_varint_value(nsp))
    cdef size_t plen = _payload_size(L, P, ids_body, pos_body, mid_body, nsp_body)
    cdef size_t j
    cdef uint8_t* o = rec + 12
    o[0] = 0x0A                                   # Example.features
    o = _put_varint(o + 1, _features_size(L, P, ids_body, pos_body, mid_body, nsp_body))

    o = _put_entry_head(o, _K_IDS, _L_IDS, _TAG_INT64, ids_body)
    o = _put_int_values(o, ids, n, L)

    o = _put_entry_head(o, _K_MASK, _L_MASK, _TAG_INT64, L)
    memset(o, 1, n)
    memset(o + n, 0, L - n)
    o += L

    o = _put_entry_head(o, _K_SEG, _L_SEG, _TAG_INT64, L)
    memset(o, 0, a)
    memset(o + a, 1, n - a)
    memset(o + n, 0, L - n)
    o += L

    o = _put_entry_head(o, _K_POS, _L_POS, _TAG_INT64, pos_body)
    o = _put_int_values(o, pos, count, P)

    o = _put_entry_head(o, _K_MID, _L_MID, _TAG_INT64, mid_body)
    o = _put_int_values(o, mid, count, P)

    o = _put_entry_head(o, _K_W, _L_W, _TAG_FLOAT, 4 * P)
    for j in range(count):                        # 1.0f, little-endian
        o[0] = 0x00
        o[1] = 0x00
        o[2] = 0x80
        o[3] = 0x3F
        o += 4
    memset(o, 0, 4 * (P - count))
    o += 4 * (P - count)

    o = _put_entry_head(o, _K_NSP, _L_NSP, _TAG_INT64, nsp_body)
    _put_varint(o, _as_varint_value(nsp))
    _frame_in_place(rec, plen)
    return rec + plen + 16


def _as_int32(name, a, int ndim):
    """Return ``a`` as a C-contiguous int32 array (no copy when it already is one)."""
    arr = np.asarray(a)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.dtype != np.int32:
        if arr.dtype.kind not in "iub":
            raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
        if arr.size and arr.dtype.kind != "b" and not np.can_cast(arr.dtype, np.int32):
            lo = int(arr.min())
            hi = int(arr.max())
            if lo < -2147483648 or hi > 2147483647:
                raise OverflowError(f"{name} has values outside int32 range [{lo}, {hi}]")
        arr = arr.astype(np.int32)
    return np.ascontiguousarray(arr)


def frame_examples(input_ids, lengths, segment_a_lengths, masked_positions, masked_ids,
                   masked_counts, next_sentence_labels, int max_seq_length,
                   int max_predictions_per_seq):
    """Serialize N BERT pretraining instances as N concatenated TFRecord frames.

    Arrays (numpy, integer; int32 is used without copying):
      input_ids            [N, max_seq_length]           token ids; entries at >= lengths[i] ignored
      lengths              [N]                           0 <= lengths[i] <= max_seq_length
      segment_a_lengths    [N]                           0 <= segment_a_lengths[i] <= lengths[i]
      masked_positions     [N, max_predictions_per_seq]  first masked_counts[i] used
      masked_ids           [N, max_predictions_per_seq]  first masked_counts[i] used
      masked_counts        [N]                           0 <= masked_counts[i] <= max_predictions_per_seq
      next_sentence_labels [N]                           int32 or int8

    Returns ``bytes``: for each instance, uint64 LE payload length, uint32 LE masked crc32c of
    those 8 bytes, the serialized ``tf.train.Example``, uint32 LE masked crc32c of the payload.
    """
    if max_seq_length < 0 or max_predictions_per_seq < 0:
        raise ValueError("max_seq_length and max_predictions_per_seq must be >= 0")
    ids_a = _as_int32("input_ids", input_ids, 2)
    len_a = _as_int32("lengths", lengths, 1)
    seg_a = _as_int32("segment_a_lengths", segment_a_lengths, 1)
    pos_a = _as_int32("masked_positions", masked_positions, 2)
    mid_a = _as_int32("masked_ids", masked_ids, 2)
    cnt_a = _as_int32("masked_counts", masked_counts, 1)
    nsp_a = _as_int32("next_sentence_labels", next_sentence_labels, 1)

    cdef Py_ssize_t N = len_a.shape[0]
    if ids_a.shape[0] != N or ids_a.shape[1] != max_seq_length:
        raise ValueError(f"input_ids must have shape ({N}, {max_seq_length}), got {ids_a.shape}")
    for name, arr in (("segment_a_lengths", seg_a), ("masked_counts", cnt_a),
                      ("next_sentence_labels", nsp_a)):
        if arr.shape[0] != N:
            raise ValueError(f"{name} must have shape ({N},), got {arr.shape}")
    for name, arr in (("masked_positions", pos_a), ("masked_ids", mid_a)):
        if arr.shape[0] != N or arr.shape[1] != max_predictions_per_seq:
            raise ValueError(f"{name} must have shape ({N}, {max_predictions_per_seq}), "
                             f"got {arr.shape}")
    if N == 0:
        return b""

    cdef const int32_t[:, ::1] ids = ids_a
    cdef const int32_t[::1] lens = len_a
    cdef const int32_t[::1] sega = seg_a
    cdef const int32_t[:, ::1] pos = pos_a
    cdef const int32_t[:, ::1] mid = mid_a
    cdef const int32_t[::1] cnt = cnt_a
    cdef const int32_t[::1] nsp = nsp_a

    cdef size_t L = <size_t>max_seq_length
    cdef size_t P = <size_t>max_predictions_per_seq
    cdef const int32_t* ids_base = &ids[0, 0] if L > 0 else NULL
    cdef const int32_t* pos_base = &pos[0, 0] if P > 0 else NULL
    cdef const int32_t* mid_base = &mid[0, 0] if P > 0 else NULL
    cdef Py_ssize_t i
    for i in range(N):
        if lens[i] < 0 or <size_t>lens[i] > L:
            raise ValueError(f"lengths[{i}]={lens[i]} outside [0, {max_seq_length}]")
        if sega[i] < 0 or sega[i] > lens[i]:
            raise ValueError(f"segment_a_lengths[{i}]={sega[i]} outside [0, lengths[{i}]={lens[i]}]")
        if cnt[i] < 0 or <size_t>cnt[i] > P:
            raise ValueError(f"masked_counts[{i}]={cnt[i]} outside [0, {max_predictions_per_seq}]")

    # Exact size first, so the result is written in place (no over-allocation, no copy).
    cdef size_t total = 0
    with nogil:
        for i in range(N):
            total += example_record_size(ids_base + <size_t>i * L, <size_t>lens[i], pos_base + <size_t>i * P,
                                         mid_base + <size_t>i * P, <size_t>cnt[i], nsp[i], L, P)
    out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>total)
    cdef uint8_t* base = <uint8_t*>PyBytes_AS_STRING(out)
    cdef uint8_t* o = base
    with nogil:
        for i in range(N):
            o = put_example_record(o, ids_base + <size_t>i * L, <size_t>lens[i], <size_t>sega[i],
                                   pos_base + <size_t>i * P, mid_base + <size_t>i * P, <size_t>cnt[i],
                                   nsp[i], L, P)
    if <size_t>(o - base) != total:  # internal consistency guard
        raise AssertionError(f"frame_examples wrote {o - base} bytes, expected {total}")
    return out


# ---------------------------------------------------------------------------------------------
# Reading frames
# ---------------------------------------------------------------------------------------------

cdef inline uint64_t _load_le64(const uint8_t* p) noexcept nogil:
    cdef uint64_t v = 0
    cdef int k
    for k in range(7, -1, -1):
        v = (v << 8) | p[k]
    return v


def split_frames(const uint8_t[::1] data, bint verify=True):
    """The complete TFRecord frames at the start of `data`: (payload offsets, payload lengths, bytes used,
    problem), offsets and lengths as int64 arrays. `problem` is None, or (what, index of the frame, its byte
    offset in `data`) for a frame whose length or data CRC does not match (with `verify`): frames before it
    are returned. Bytes after the last complete frame (a frame cut by the end of `data`) are not used."""
    cdef size_t n = data.shape[0], at = 0, length
    cdef const uint8_t* p = &data[0] if n else NULL
    cdef Py_ssize_t count = 0, cap = 1024
    cdef int bad = 0
    offsets = np.empty(cap, dtype=np.int64)
    lengths = np.empty(cap, dtype=np.int64)
    cdef int64_t[::1] off_v = offsets, len_v = lengths
    while True:
        with nogil:
            while at + 12 <= n and count < cap:
                length = <size_t>_load_le64(p + at)
                if verify and _mask(_crc_update(0, p + at, 8)) != _load_le32(p + at + 8):
                    bad = 1
                    break
                if n - at < 16 or length > n - at - 16:
                    break
                if verify and _mask(_crc_update(0, p + at + 12, length)) != _load_le32(p + at + 12 + length):
                    bad = 2
                    break
                off_v[count] = <int64_t>(at + 12)
                len_v[count] = <int64_t>length
                count += 1
                at += 16 + length
        if count < cap or bad:
            break
        cap *= 2
        offsets = np.resize(offsets, cap)
        lengths = np.resize(lengths, cap)
        off_v = offsets
        len_v = lengths
    problem = None if not bad else ("a corrupted length" if bad == 1 else "corrupted data (CRC mismatch)", count, at)
    return offsets[:count], lengths[:count], at, problem
