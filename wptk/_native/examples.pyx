# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""tf.train.Example payloads read natively into numpy columns, without TensorFlow or protobuf.

Wire layout (all lengths are varints; records.pyx writes the same layout)::

    Example   { 1: Features }
    Features  { 1: repeated MapEntry { 1: key (string), 2: Feature } }
    Feature   { 1: BytesList | 2: FloatList | 3: Int64List }
    *List     { 1: repeated values }      packed (one length-delimited run) or one value per field

* ``describe_example(payload)`` -- [(name, kind, count)] of one Example's features, kind "int64", "float" or
  "bytes", in the order they are stored.
* ``decode_examples(data, offsets, lengths, names, kinds, widths)`` -- one row per payload
  data[offsets[i]:offsets[i] + lengths[i]] of each named feature: int64 features as int32 (every value of BERT's
  pretraining features fits), float features as float32. Each payload must hold every named feature with exactly
  its width of values; anything else (and a malformed payload) raises ValueError naming the record.
Unknown fields and features are skipped, as protobuf skips them.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

import numpy as np

cdef enum:
    KIND_BYTES = 1
    KIND_FLOAT = 2
    KIND_INT64 = 3
    MAX_FIELDS = 32

cdef enum Problem:
    OK = 0
    MALFORMED = 1
    WIDTH = 2
    MISSING = 3
    RANGE = 4
    KIND = 5

KIND_NAMES = {KIND_BYTES: "bytes", KIND_FLOAT: "float", KIND_INT64: "int64"}


cdef struct Field:
    const char* name
    size_t name_len
    int kind
    int64_t width
    char* out                   # int32 (int64 features) or float32 rows
    int64_t count               # values seen in the current record


cdef struct Fault:
    int problem
    int field                   # index of the field concerned, or -1
    int64_t count


cdef inline bint varint(const uint8_t** p, const uint8_t* end, uint64_t* value) noexcept nogil:
    cdef uint64_t v = 0
    cdef int shift = 0
    cdef const uint8_t* q = p[0]
    while q < end and shift < 64:
        v |= <uint64_t>(q[0] & 0x7F) << shift
        shift += 7
        q += 1
        if not (q[-1] & 0x80):
            p[0] = q
            value[0] = v
            return True
    return False


cdef inline bint skip(const uint8_t** p, const uint8_t* end, int wire) noexcept nogil:
    """Steps over one field's value of wire type `wire`."""
    cdef uint64_t v
    if wire == 0:
        return varint(p, end, &v)
    if wire == 1 or wire == 5:
        if <size_t>(end - p[0]) < (8 if wire == 1 else 4):
            return False
        p[0] += 8 if wire == 1 else 4
        return True
    if wire == 2:
        if not varint(p, end, &v) or v > <uint64_t>(end - p[0]):
            return False
        p[0] += v
        return True
    return False


cdef inline bint length_delimited(const uint8_t** p, const uint8_t* end, const uint8_t** body_end) noexcept nogil:
    cdef uint64_t v
    if not varint(p, end, &v) or v > <uint64_t>(end - p[0]):
        return False
    body_end[0] = p[0] + v
    return True


cdef inline bint store(Field* f, int kind, const uint8_t* at, int64_t row, Fault* fault, int index) noexcept nogil:
    """Stores the value at `at` (fixed32 for a float, a decoded varint for an int64 in `at` as uint64*)."""
    cdef int64_t v
    if f.count >= f.width:
        f.count += 1
        return True             # counted, reported as a width error at the end
    if kind == KIND_FLOAT:
        memcpy(f.out + (row * f.width + f.count) * 4, at, 4)
    else:
        v = (<const int64_t*>at)[0]
        if v < -2147483648 or v > 2147483647:
            fault.problem, fault.field, fault.count = RANGE, index, v
            return False
        (<int32_t*>f.out)[row * f.width + f.count] = <int32_t>v
    f.count += 1
    return True


cdef bint read_list(const uint8_t* p, const uint8_t* end, int kind, Field* f, int64_t row, Fault* fault,
                    int index, int64_t* n_values) noexcept nogil:
    """A FloatList or Int64List: stores its values into f (when f is not NULL) and counts them."""
    cdef uint64_t key, v
    cdef const uint8_t* run_end
    cdef int wire
    cdef uint32_t bits
    while p < end:
        if not varint(&p, end, &key):
            return False
        wire = key & 7
        if key >> 3 != 1:
            if not skip(&p, end, wire):
                return False
            continue
        if kind == KIND_BYTES:
            if wire != 2 or not skip(&p, end, wire):
                return False
            n_values[0] += 1
            continue
        if wire == 2:           # packed
            if not length_delimited(&p, end, &run_end):
                return False
            while p < run_end:
                if kind == KIND_FLOAT:
                    if run_end - p < 4:
                        return False
                    if f != NULL and not store(f, kind, p, row, fault, index):
                        return False
                    p += 4
                else:
                    if not varint(&p, run_end, &v):
                        return False
                    if f != NULL and not store(f, kind, <const uint8_t*>&v, row, fault, index):
                        return False
                n_values[0] += 1
        elif wire == 5 and kind == KIND_FLOAT:
            if end - p < 4:
                return False
            if f != NULL and not store(f, kind, p, row, fault, index):
                return False
            p += 4
            n_values[0] += 1
        elif wire == 0 and kind == KIND_INT64:
            if not varint(&p, end, &v):
                return False
            if f != NULL and not store(f, kind, <const uint8_t*>&v, row, fault, index):
                return False
            n_values[0] += 1
        else:
            return False
    return True


cdef bint read_feature(const uint8_t* p, const uint8_t* end, Field* fields, int n_fields, int64_t row,
                       const uint8_t* name, size_t name_len, Fault* fault, list described) except? False:
    """One Feature message named `name`: into the matching field, or (with `described`) appended to it."""
    cdef uint64_t key
    cdef const uint8_t* body_end
    cdef int wire, kind, k, index = -1
    cdef Field* f = NULL
    cdef int64_t n_values = 0
    for k in range(n_fields):
        if fields[k].name_len == name_len and memcmp(fields[k].name, name, name_len) == 0:
            f, index = &fields[k], k
            break
    while p < end:
        if not varint(&p, end, &key):
            return False
        wire = key & 7
        kind = <int>(key >> 3)
        if wire != 2 or kind < KIND_BYTES or kind > KIND_INT64:
            if not skip(&p, end, wire):
                return False
            continue
        if not length_delimited(&p, end, &body_end):
            return False
        if f != NULL and kind != f.kind:
            fault.problem, fault.field = KIND, index
            return False
        if not read_list(p, body_end, kind, f, row, fault, index, &n_values):
            return False
        p = body_end
        if described is not None:
            described.append(((<const char*>name)[:name_len].decode("utf-8", "replace"), KIND_NAMES[kind], n_values))
    return True


cdef bint read_example(const uint8_t* p, size_t n, Field* fields, int n_fields, int64_t row, Fault* fault,
                       list described) except? False:
    """Example -> Features -> each MapEntry's key and Feature, read by read_feature."""
    cdef const uint8_t* end = p + n
    cdef const uint8_t* features_end
    cdef const uint8_t* entry_end
    cdef const uint8_t* body_end
    cdef const uint8_t* name
    cdef const uint8_t* value
    cdef const uint8_t* value_end
    cdef uint64_t key
    cdef size_t name_len
    while p < end:
        if not varint(&p, end, &key):
            return False
        if key != 0x0A:                                     # not Example.features
            if not skip(&p, end, key & 7):
                return False
            continue
        if not length_delimited(&p, end, &features_end):
            return False
        while p < features_end:
            if not varint(&p, features_end, &key):
                return False
            if key != 0x0A:                                 # not Features.feature
                if not skip(&p, features_end, key & 7):
                    return False
                continue
            if not length_delimited(&p, features_end, &entry_end):
                return False
            name = value = value_end = NULL
            name_len = 0
            while p < entry_end:
                if not varint(&p, entry_end, &key):
                    return False
                if key != 0x0A and key != 0x12:             # not MapEntry.key or .value
                    if not skip(&p, entry_end, key & 7):
                        return False
                    continue
                if not length_delimited(&p, entry_end, &body_end):
                    return False
                if key == 0x0A:
                    name, name_len = p, body_end - p
                else:
                    value, value_end = p, body_end
                p = body_end
            if name != NULL and value != NULL and not read_feature(value, value_end, fields, n_fields, row, name,
                                                                   name_len, fault, described):
                return False
    return True


def describe_example(const uint8_t[::1] payload):
    """[(name, kind, count)] of the features of one serialized tf.train.Example; ValueError if malformed."""
    cdef Fault fault
    described = []
    fault.problem = OK
    if not read_example(&payload[0] if payload.shape[0] else NULL, payload.shape[0], NULL, 0, 0, &fault,
                        described):
        raise ValueError("not a tf.train.Example (malformed protobuf)")
    return described


def decode_examples(const uint8_t[::1] data, const int64_t[::1] offsets, const int64_t[::1] lengths, names, kinds,
                    widths):
    """({name: rows}, None) for the payloads data[offsets[i]:offsets[i] + lengths[i]], or (None, (i, why)) for
    the first payload that is malformed or does not hold each named feature with exactly its width of values.
    `kinds` are "int64" (decoded as int32; a value that does not fit is a problem) or "float" (float32)."""
    cdef Py_ssize_t n = offsets.shape[0], r, k, n_fields = len(names)
    cdef Field fields[MAX_FIELDS]
    cdef Fault fault
    cdef const uint8_t* base = &data[0] if data.shape[0] else NULL
    if n_fields > MAX_FIELDS:
        raise ValueError(f"at most {MAX_FIELDS} features can be decoded at once")
    keys = [name.encode("utf-8") for name in names]
    arrays = {}
    for k in range(n_fields):
        if kinds[k] not in ("int64", "float"):
            raise ValueError(f"cannot decode {kinds[k]} features")
        rows = np.zeros((n, widths[k]), dtype=np.int32 if kinds[k] == "int64" else np.float32)
        arrays[names[k]] = rows
        fields[k].name = keys[k]
        fields[k].name_len = len(keys[k])
        fields[k].kind = KIND_INT64 if kinds[k] == "int64" else KIND_FLOAT
        fields[k].width = widths[k]
        fields[k].out = <char*><size_t>rows.__array_interface__["data"][0]
    for r in range(n):
        if offsets[r] < 0 or lengths[r] < 0 or offsets[r] + lengths[r] > data.shape[0]:
            raise ValueError(f"payload {r} lies outside the data")
        for k in range(n_fields):
            fields[k].count = 0
        fault.problem = OK
        if not read_example(base + offsets[r], lengths[r], fields, n_fields, r, &fault, None):
            return None, (r, _why(&fault, names))
        for k in range(n_fields):
            if fields[k].count != fields[k].width:
                why = (f"has no feature {names[k]!r}" if fields[k].count == 0 else
                       f"has {fields[k].count} values of {names[k]!r}, not {fields[k].width} as the first record")
                return None, (r, why)
    return arrays, None


cdef str _why(Fault* fault, names):
    if fault.problem == RANGE:
        return f"feature {names[fault.field]!r} holds {fault.count}, which does not fit in 32 bits"
    if fault.problem == KIND:
        return f"feature {names[fault.field]!r} is not of its first record's kind"
    return "is not a tf.train.Example (malformed protobuf)"
