"""Native TFRecord / tf.train.Example encoding (wptk/_native/records.pyx) and wptk/tfrecord.py.

TensorFlow is the oracle: its TFRecordWriter must frame payloads byte-for-byte like we do, its
TFRecordDataset + parse_single_example (as BERT's run_pretraining.py uses them) must read back
every value, and every feature map entry must be byte-identical to what
``tf.train.Example(...).SerializeToString()`` writes for it.

Note on map order: protobuf's (upb) serializer writes ``map<string, Feature>`` entries in a hash
order that changes from process to process, so whole payloads are compared after ordering the
reference's entries the way we write them (the reference OrderedDict order); each entry, the
headers and the total size must match exactly.
"""
import collections
import errno
import gzip
import os
import stat
import struct

import numpy as np
import pytest

from wptk._native.records import (CRC32C_IMPLEMENTATION, _crc32c_portable, crc32c, frame_examples, frame_record,
                                  masked_crc32c)
from wptk.files import AtomicFile
from wptk.tfrecord import RecordWriter, is_gzip_file, read_records

FEATURE_ORDER = ["input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                 "masked_lm_ids", "masked_lm_weights", "next_sentence_labels"]


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Only a missing package is a skip; a broken install raises here and fails the tests that need it.
    return pytest.importorskip("tensorflow",
                               reason="TensorFlow is the reference for these tests (pip install -e '.[test]')")


# ---- helpers ------------------------------------------------------------------------------------

def _crc32c_bitwise(data, crc=0):
    """Slow textbook CRC-32C, independent of the table-driven implementation."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _mask(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def make_instances(rng, n, seq_len, max_pred, nsp_dtype=np.int32, big_values=True):
    """Random instances; entries beyond lengths / masked_counts hold garbage (must be ignored)."""
    lo = min(3, seq_len)
    lengths = rng.integers(lo, seq_len + 1, size=n).astype(np.int32)
    seg_a = (rng.random(n) * (lengths + 1)).astype(np.int32)         # 0..lengths inclusive
    ids = rng.integers(0, 30522, size=(n, seq_len)).astype(np.int32)
    if big_values and ids.size:
        # Exercise 1..5-byte varints.
        sel = rng.random(ids.shape) < 0.05
        ids[sel] = rng.integers(0, 2**31 - 1, size=int(sel.sum()), dtype=np.int64)
    counts = rng.integers(0, max_pred + 1, size=n).astype(np.int32)
    positions = rng.integers(0, seq_len, size=(n, max_pred)).astype(np.int32)
    masked_ids = rng.integers(0, 30522, size=(n, max_pred)).astype(np.int32)
    nsp = rng.integers(0, 2, size=n).astype(nsp_dtype)
    return dict(input_ids=ids, lengths=lengths, segment_a_lengths=seg_a,
                masked_positions=positions, masked_ids=masked_ids, masked_counts=counts,
                next_sentence_labels=nsp, max_seq_length=seq_len,
                max_predictions_per_seq=max_pred)


def expected_features(inst):
    """Dense arrays of what each feature must hold after parsing."""
    L, P = inst["max_seq_length"], inst["max_predictions_per_seq"]
    n = inst["lengths"][:, None]
    a = inst["segment_a_lengths"][:, None]
    c = inst["masked_counts"][:, None]
    col_l = np.arange(L)[None, :]
    col_p = np.arange(P)[None, :]
    return {
        "input_ids": np.where(col_l < n, inst["input_ids"], 0).astype(np.int64),
        "input_mask": (col_l < n).astype(np.int64),
        "segment_ids": ((col_l >= a) & (col_l < n)).astype(np.int64),
        "masked_lm_positions": np.where(col_p < c, inst["masked_positions"], 0).astype(np.int64),
        "masked_lm_ids": np.where(col_p < c, inst["masked_ids"], 0).astype(np.int64),
        "masked_lm_weights": (col_p < c).astype(np.float32),
        "next_sentence_labels": inst["next_sentence_labels"].astype(np.int64)[:, None],
    }


def reference_example(tf, inst, i):
    """tf.train.Example built as create_pretraining_data.py does (OrderedDict, same order)."""
    exp = expected_features(inst)

    def ints(v):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(x) for x in v]))

    def floats(v):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(x) for x in v]))

    features = collections.OrderedDict()
    for name in FEATURE_ORDER:
        features[name] = floats(exp[name][i]) if name == "masked_lm_weights" else ints(exp[name][i])
    return tf.train.Example(features=tf.train.Features(feature=features))


def _read_varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _len_delimited_fields(buf):
    """[(field_number, raw_field_bytes, value_bytes)] of a message made of length-delimited fields."""
    pos, out = 0, []
    while pos < len(buf):
        start = pos
        tag, pos = _read_varint(buf, pos)
        assert tag & 7 == 2, f"unexpected wire type in {buf[start:start + 8]!r}"
        n, pos = _read_varint(buf, pos)
        out.append((tag >> 3, bytes(buf[start:pos + n]), bytes(buf[pos:pos + n])))
        pos += n
    assert pos == len(buf)
    return out


def split_example(payload):
    """Example bytes -> [(key, raw map-entry field bytes)] in wire order."""
    top = _len_delimited_fields(payload)
    assert [f for f, _, _ in top] == [1]
    entries = []
    for field, raw, value in _len_delimited_fields(top[0][2]):
        assert field == 1
        parts = _len_delimited_fields(value)
        assert parts[0][0] == 1
        entries.append((parts[0][2].decode(), raw))
    return entries


def frame(inst):
    return frame_examples(**inst)


def split_frames(blob):
    """Parse concatenated frames, checking both CRCs; returns payloads."""
    pos, out = 0, []
    while pos < len(blob):
        (n,) = struct.unpack_from("<Q", blob, pos)
        (lcrc,) = struct.unpack_from("<I", blob, pos + 8)
        assert lcrc == _mask(_crc32c_bitwise(blob[pos:pos + 8]))
        payload = blob[pos + 12:pos + 12 + n]
        (dcrc,) = struct.unpack_from("<I", blob, pos + 12 + n)
        assert dcrc == masked_crc32c(payload)
        out.append(payload)
        pos += 16 + n
    assert pos == len(blob)
    return out


# ---- (a) CRC-32C ----------------------------------------------------------------------------

@pytest.mark.parametrize("data,expected", [
    (b"", 0x00000000),
    (b"a", 0xC1D04330),
    (b"123456789", 0xE3069283),
    (bytes(32), 0x8A9136AA),                      # RFC 3720 B.4
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
])
def test_crc32c_known_vectors(data, expected):
    assert crc32c(data) == expected
    assert _crc32c_bitwise(data) == expected


def test_crc32c_lengths_offsets_and_chaining():
    rng = np.random.default_rng(1)
    blob = rng.integers(0, 256, size=300, dtype=np.uint8).tobytes()
    mv = memoryview(blob)
    for off in range(9):
        for n in list(range(0, 40)) + [63, 64, 65, 127, 255]:
            piece = mv[off:off + n]
            assert crc32c(piece) == _crc32c_portable(piece) == _crc32c_bitwise(piece), (off, n)
    for k in (0, 1, 7, 8, 9, 150, 300):
        assert crc32c(blob[k:], crc32c(blob[:k])) == crc32c(blob)
    # bytearray / numpy buffers work too; large input takes the GIL-free path.
    big = rng.integers(0, 256, size=200_003, dtype=np.uint8)
    whole = crc32c(big)
    chained = 0
    for k in range(0, big.size, 1 << 15):
        chained = crc32c(big[k:k + (1 << 15)].tobytes(), chained)
    assert whole == chained == crc32c(bytearray(big.tobytes())) == _crc32c_portable(big)
    assert CRC32C_IMPLEMENTATION in ("sse4.2", "portable")
    assert masked_crc32c(big) == _mask(whole)
    assert masked_crc32c(b"123456789") == _mask(0xE3069283)


def test_framing_matches_tensorflow_writer(tf, tmp_path):
    rng = np.random.default_rng(2)
    payloads = [b"", b"x", b"hello tfrecord"] + [
        rng.integers(0, 256, size=int(n), dtype=np.uint8).tobytes()
        for n in rng.integers(1, 5000, size=20)] + [bytes(70_000)]
    tf_path = str(tmp_path / "tf.tfrecord")
    with tf.io.TFRecordWriter(tf_path) as w:
        for p in payloads:
            w.write(p)
    ours = tmp_path / "ours.tfrecord"
    with RecordWriter(ours) as w:
        for p in payloads:
            w.write(p)
    tf_bytes = open(tf_path, "rb").read()
    assert ours.read_bytes() == tf_bytes
    assert b"".join(frame_record(p) for p in payloads) == tf_bytes
    assert list(read_records(tf_path)) == payloads

    # frame_examples frames its payloads exactly like TF does.
    inst = make_instances(rng, 25, 128, 20)
    blob = frame(inst)
    ex_path = str(tmp_path / "tf_examples.tfrecord")
    with tf.io.TFRecordWriter(ex_path) as w:
        for p in split_frames(blob):
            w.write(p)
    assert open(ex_path, "rb").read() == blob


# ---- (b) TensorFlow reads what we write, as run_pretraining.py does ---------------------------

CONFIGS = [  # (max_seq_length, max_predictions_per_seq, n, nsp dtype)
    (512, 76, 30, np.int32),
    (128, 20, 60, np.int8),
    (128, 0, 20, np.int32),
    (64, 1, 20, np.int8),
    (3, 2, 20, np.int32),
]


def _tf_read(tf, files, seq_len, max_pred, compression):
    """run_pretraining.py's parse of `files`, as one array per feature (records stacked)."""
    from wptk.testing import read_pretraining_records
    records = read_pretraining_records(files, seq_len, max_pred, gzip=compression == "GZIP")
    dtypes = {"masked_lm_weights": np.float32}
    return {k: np.array([r[k] for r in records], dtype=dtypes.get(k, np.int64)).reshape(len(records), -1)
            for k in records[0]}


@pytest.mark.parametrize("seq_len,max_pred,n,nsp_dtype", CONFIGS)
def test_tensorflow_parses_every_value(tf, tmp_path, seq_len, max_pred, n, nsp_dtype):
    rng = np.random.default_rng(seq_len * 1000 + max_pred)
    # Two files per compression mode: one from write_framed, one record-by-record via write().
    inst1 = make_instances(rng, n, seq_len, max_pred, nsp_dtype)
    inst2 = make_instances(rng, n // 2 + 1, seq_len, max_pred, nsp_dtype)
    exp1, exp2 = expected_features(inst1), expected_features(inst2)
    expected = {k: np.concatenate([exp1[k], exp2[k]]) for k in exp1}
    blob1, blob2 = frame(inst1), frame(inst2)
    for gz, compression in ((False, ""), (True, "GZIP")):
        f1, f2 = str(tmp_path / f"a{int(gz)}.tfrecord"), str(tmp_path / f"b{int(gz)}.tfrecord")
        with RecordWriter(f1, gzip=gz) as w:
            w.write_framed(blob1[: len(blob1) // 3])    # arbitrary split points are fine
            w.write_framed(blob1[len(blob1) // 3:])
        with RecordWriter(f2, gzip=gz) as w:
            for p in split_frames(blob2):
                w.write(p)
        if gz:
            with open(f1, "rb") as fh:
                assert fh.read(2) == b"\x1f\x8b"
            assert gzip.decompress(open(f1, "rb").read()) == blob1
        got = _tf_read(tf, [f1, f2], seq_len, max_pred, compression)
        assert set(got) == set(expected)
        for k in expected:
            assert got[k].shape == expected[k].shape, k
            np.testing.assert_array_equal(got[k], expected[k], err_msg=k)
        assert list(read_records(f1, gzip=gz)) == split_frames(blob1)


# ---- (c) payload bytes vs tf.train.Example(...).SerializeToString() ---------------------------

def _edge_instances():
    """Hand-made corner cases: empty/full lengths, all-A/all-B segments, varint boundaries,
    negative ids (10-byte varints), P == 0 handled separately."""
    L, P = 16, 5
    ids = np.tile(np.array([0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455,
                            268435456, 2**31 - 1, -1, -(2**31), 131071, 131072, 7], np.int32), (6, 1))
    return dict(
        input_ids=ids,
        lengths=np.array([0, 16, 16, 3, 16, 10], np.int32),
        segment_a_lengths=np.array([0, 16, 0, 3, 8, 1], np.int32),
        masked_positions=np.tile(np.array([0, 127, 128, 15, 300], np.int32), (6, 1)),
        masked_ids=np.tile(np.array([103, -5, 2**31 - 1, 0, 1], np.int32), (6, 1)),
        masked_counts=np.array([0, 5, 1, 2, 5, 4], np.int32),
        next_sentence_labels=np.array([0, 1, 0, 1, 1, 0], np.int8),
        max_seq_length=L, max_predictions_per_seq=P)


def _assert_payload_matches_reference(tf, payload, ref):
    assert tf.train.Example.FromString(payload) == ref
    ref_bytes = ref.SerializeToString()
    assert len(payload) == len(ref_bytes)
    ours = split_example(payload)
    assert [k for k, _ in ours] == FEATURE_ORDER
    ref_entries = dict(split_example(ref_bytes))
    assert sorted(ref_entries) == sorted(FEATURE_ORDER)
    body = b"".join(ref_entries[k] for k in FEATURE_ORDER)
    # Reference bytes with its map entries put in the OrderedDict order == our bytes.
    assert payload == b"\x0a" + _varint(len(body)) + body
    # And the deterministic serialization (sorted keys) is the same entries, sorted.
    det = ref.SerializeToString(deterministic=True)
    assert det == b"\x0a" + _varint(len(body)) + b"".join(ref_entries[k] for k in sorted(ref_entries))


@pytest.mark.parametrize("seq_len,max_pred", [(128, 20), (512, 76), (32, 0), (3, 1)])
def test_payload_bytes_match_tf_train_example(tf, seq_len, max_pred):
    rng = np.random.default_rng(7 + seq_len + max_pred)
    inst = make_instances(rng, 12, seq_len, max_pred)
    payloads = split_frames(frame(inst))
    assert len(payloads) == 12
    for i, payload in enumerate(payloads):
        _assert_payload_matches_reference(tf, payload, reference_example(tf, inst, i))


def test_payload_edge_cases_match_tf_train_example(tf):
    inst = _edge_instances()
    payloads = split_frames(frame(inst))
    for i, payload in enumerate(payloads):
        _assert_payload_matches_reference(tf, payload, reference_example(tf, inst, i))
    parsed = tf.train.Example.FromString(payloads[1]).features.feature
    assert list(parsed["input_ids"].int64_list.value)[-5:] == [-1, -(2**31), 131071, 131072, 7]
    assert list(parsed["masked_lm_ids"].int64_list.value) == [103, -5, 2**31 - 1, 0, 1]


# ---- input handling -----------------------------------------------------------------------

def test_dtypes_views_and_empty_batch():
    rng = np.random.default_rng(11)
    inst = make_instances(rng, 10, 32, 4)
    ref = frame(inst)
    # Other integer dtypes and non-contiguous inputs give the same bytes.
    as64 = dict(inst, **{k: np.asarray(v, np.int64) for k, v in inst.items()
                         if isinstance(v, np.ndarray)})
    assert frame_examples(**as64) == ref
    fortran = dict(inst, input_ids=np.asfortranarray(inst["input_ids"]))
    assert frame_examples(**fortran) == ref
    lists = dict(inst, next_sentence_labels=inst["next_sentence_labels"].tolist())
    assert frame_examples(**lists) == ref
    empty = make_instances(rng, 0, 32, 4)
    assert frame_examples(**empty) == b""


@pytest.mark.parametrize("change,exc", [
    (dict(lengths=np.array([33] + [3] * 9, np.int32)), ValueError),
    (dict(lengths=np.array([-1] + [3] * 9, np.int32)), ValueError),
    (dict(segment_a_lengths=np.array([40] * 10, np.int32)), ValueError),
    (dict(masked_counts=np.array([5] * 10, np.int32)), ValueError),
    (dict(masked_counts=np.array([-1] * 10, np.int32)), ValueError),
    (dict(input_ids=np.zeros((10, 31), np.int32)), ValueError),
    (dict(input_ids=np.zeros((9, 32), np.int32)), ValueError),
    (dict(masked_positions=np.zeros((10, 5), np.int32)), ValueError),
    (dict(masked_ids=np.zeros((10,), np.int32)), ValueError),
    (dict(next_sentence_labels=np.zeros((11,), np.int32)), ValueError),
    (dict(input_ids=np.zeros((10, 32), np.float32)), TypeError),
    (dict(input_ids=np.full((10, 32), 2**40, np.int64)), OverflowError),
])
def test_invalid_inputs_raise(change, exc):
    inst = make_instances(np.random.default_rng(3), 10, 32, 4)
    inst["lengths"][:] = np.maximum(inst["lengths"], 3)
    with pytest.raises(exc):
        frame_examples(**dict(inst, **change))


# ---- (d) RecordWriter atomicity, reproducibility; read_records corruption checks ------------

@pytest.mark.parametrize("gz", [False, True])
def test_writer_success_leaves_exactly_target(tmp_path, gz):
    target = tmp_path / "part-00000.tfrecord"
    with RecordWriter(target, gzip=gz) as w:
        w.write(b"abc")
        tmp_files = os.listdir(tmp_path)
        assert len(tmp_files) == 1 and tmp_files[0].startswith(".part-00000.tfrecord.tmp-")
        assert not target.exists()
        w.write_framed(frame_record(b"defg"))
    assert os.listdir(tmp_path) == [target.name]
    assert w.closed
    assert list(read_records(target, gzip=gz)) == [b"abc", b"defg"]
    with pytest.raises(ValueError):
        w.write(b"late")
    w.close()  # idempotent


@pytest.mark.parametrize("gz", [False, True])
def test_writer_exception_leaves_nothing(tmp_path, gz):
    target = tmp_path / "out.tfrecord"

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with RecordWriter(target, gzip=gz) as w:
            w.write_framed(frame_record(b"x" * 1000))
            raise Boom()
    assert os.listdir(tmp_path) == []

    # An existing target is left untouched by a failed rewrite.
    target.write_bytes(b"old")
    with pytest.raises(Boom):
        with RecordWriter(target, gzip=gz) as w:
            w.write(b"new")
            raise Boom()
    assert os.listdir(tmp_path) == [target.name]
    assert target.read_bytes() == b"old"

    # ...and replaced atomically by a successful one.
    with RecordWriter(target, gzip=gz) as w:
        w.write(b"new")
    assert os.listdir(tmp_path) == [target.name]
    assert list(read_records(target, gzip=gz)) == [b"new"]


def test_writer_abort_and_garbage_collection(tmp_path):
    w = RecordWriter(tmp_path / "a.tfrecord")
    w.write(b"1")
    w.abort()
    w.abort()
    w.close()  # no-op after abort: nothing is published
    assert os.listdir(tmp_path) == []
    w = RecordWriter(tmp_path / "b.tfrecord")
    w.write(b"1")
    del w   # never closed -> temp file removed, target not created
    import gc
    gc.collect()
    assert os.listdir(tmp_path) == []


class _FullDisk:
    """A file whose writes and final flush fail as on a full disk; it still closes its descriptor."""

    def __init__(self, real):
        self.real = real

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    flush = write

    def close(self):
        self.real.close()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_full_disk_errors_name_the_target_and_leave_nothing(tmp_path):
    """Both atomic writers: the error names the target (a failed write names no file) and no file is left,
    even though closing the temporary file fails again."""
    target = tmp_path / "out.tfrecord"
    w = RecordWriter(target)
    w._raw = w._out = w._file.file = _FullDisk(w._raw)
    with pytest.raises(OSError) as raised:
        with w:
            w.write(b"record")
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == os.path.abspath(target)
    assert os.listdir(tmp_path) == []

    target = tmp_path / "out.txt"
    f = AtomicFile(target, "w")
    f.file = _FullDisk(f.file)
    with pytest.raises(OSError) as raised:
        with f as stream:
            stream.write("text")
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(target)
    assert os.listdir(tmp_path) == []


def test_a_symlinked_target_is_replaced_and_the_link_stays(tmp_path):
    (tmp_path / "data").mkdir()
    link = tmp_path / "out.tfrecord"
    link.symlink_to(tmp_path / "data" / "real.tfrecord")      # dangling until written
    for payload in (b"first", b"second"):
        with RecordWriter(link) as w:
            w.write(payload)
        assert link.is_symlink() and list(read_records(link)) == [payload]
    assert sorted(os.listdir(tmp_path / "data")) == ["real.tfrecord"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
@pytest.mark.parametrize("compressed", [False, True])
def test_a_pipe_is_written_in_place(tmp_path, compressed):
    """As --output_file=/dev/stdout in a pipeline: past the write-back interval too, and nothing is renamed."""
    import threading
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    blob = frame(make_instances(np.random.default_rng(3), 400, 128, 20)) * 40     # > 8 MB
    with RecordWriter(fifo, gzip=compressed) as w:
        w.write_framed(blob)
    reader.join(timeout=60)         # a writer that replaced the pipe would leave the reader waiting
    assert received and (gzip.decompress(received[0]) if compressed else received[0]) == blob
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


def test_atomic_files_get_the_mode_a_plain_open_gives(tmp_path):
    (tmp_path / "plain").write_bytes(b"")
    expected = (tmp_path / "plain").stat().st_mode
    with AtomicFile(tmp_path / "a.txt", "w") as f:
        f.write("x")
    with RecordWriter(tmp_path / "b.tfrecord") as w:
        w.write(b"x")
    assert (tmp_path / "a.txt").stat().st_mode == expected == (tmp_path / "b.tfrecord").stat().st_mode


def test_gzip_output_is_reproducible(tmp_path):
    blob = frame(make_instances(np.random.default_rng(5), 50, 64, 8))
    outs = []
    for name in ("x.tfrecord.gz", "y.tfrecord.gz"):
        with RecordWriter(tmp_path / name, gzip=True) as w:
            w.write_framed(blob)
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    assert outs[0][3] == 0                      # no FNAME: temp names never leak into the header
    assert outs[0][4:8] == b"\0\0\0\0"          # mtime 0
    assert gzip.decompress(outs[0]) == blob


def test_read_records_detects_corruption(tmp_path):
    path = tmp_path / "c.tfrecord"
    payloads = [b"first record", b"second record", b"third"]
    with RecordWriter(path) as w:
        for p in payloads:
            w.write(p)
    good = path.read_bytes()
    assert list(read_records(path)) == payloads

    def corrupt(pos=None, truncate=None):
        data = bytearray(good)
        if pos is not None:
            data[pos] ^= 0x40
        if truncate is not None:
            data = data[:truncate]
        path.write_bytes(bytes(data))
        with pytest.raises(ValueError, match=str(path).replace("\\", "\\\\")):
            list(read_records(path))

    corrupt(pos=16 + len(payloads[0]) + 12 + 3)     # payload byte of record 1
    corrupt(pos=16 + len(payloads[0]) + 2)          # length of record 1
    corrupt(pos=len(good) - 1)                      # data crc of the last record
    corrupt(truncate=len(good) - 2)                 # truncated data
    corrupt(truncate=16 + len(payloads[0]) + 5)     # truncated header

    gz_path = tmp_path / "c.tfrecord.gz"
    with RecordWriter(gz_path, gzip=True) as w:
        for p in payloads:
            w.write(p)
    raw = gz_path.read_bytes()
    gz_path.write_bytes(raw[:-6])
    with pytest.raises(ValueError, match="c.tfrecord.gz"):
        list(read_records(gz_path, gzip=True))
    gz_path.write_bytes(raw[:12] + bytes(b ^ 0x55 for b in raw[12:30]) + raw[30:])
    with pytest.raises(ValueError, match="c.tfrecord.gz"):
        list(read_records(gz_path, gzip=True))


def test_read_records_detects_gzip_by_content(tmp_path):
    payloads = [b"first", b"second" * 50]
    for name, gz in (("plain.tfrecord.gz", False), ("packed.tfrecord", True)):   # names that mislead
        with RecordWriter(tmp_path / name, gzip=gz) as w:
            for p in payloads:
                w.write(p)
        assert is_gzip_file(tmp_path / name) is gz
        assert list(read_records(tmp_path / name)) == payloads


def test_a_plain_file_whose_first_length_starts_like_gzip_is_read_as_plain(tmp_path):
    payload = bytes(0x8B1F)         # length 0x8b1f: little-endian bytes 1f 8b, GZIP's magic
    with RecordWriter(tmp_path / "r.tfrecord") as w:
        w.write(payload)
    assert (tmp_path / "r.tfrecord").read_bytes()[:2] == b"\x1f\x8b"
    assert not is_gzip_file(tmp_path / "r.tfrecord")
    assert list(read_records(tmp_path / "r.tfrecord")) == [payload]
