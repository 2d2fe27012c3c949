"""TFRecord files without TensorFlow: an atomic writer and a verifying reader.

Record frame (TFRecord format)::

    uint64 LE  length
    uint32 LE  masked_crc32c(length bytes)
    bytes      payload
    uint32 LE  masked_crc32c(payload)

``RecordWriter`` (a wptk.formats.FileWriter) writes to a hidden temporary file next to the target and renames it
into place only on a successful ``close()``; on an exception inside ``with`` (or ``abort()``) the temporary
file is removed, so a reader never sees a partial file under the target name.

CRCs come from the native ``wptk._native.records`` module.
"""
from __future__ import annotations

import gzip as _gzip
import os
import struct
import zlib
from typing import Iterator, Optional, Union

from wptk._native.records import crc32c as _crc32c
from wptk._native.records import frame_record as _frame_record
from wptk._native.records import masked_crc32c as _masked_crc32c
from wptk.formats import FileWriter

__all__ = ["RecordWriter", "read_records", "is_gzip_file", "frame_record", "masked_crc32c", "crc32c"]

crc32c = _crc32c
masked_crc32c = _masked_crc32c
frame_record = _frame_record

PathLike = Union[str, "os.PathLike[str]"]


class RecordWriter(FileWriter):
    """Atomically write a (optionally GZIP-compressed) TFRecord file: a wptk.formats.FileWriter of the "tfrecord"
    or "tfrecord_gzip" format, which can also frame single records.

    >>> with RecordWriter("out.tfrecord") as w:
    ...     w.write_framed(frame_examples(...))   # already-framed records
    ...     w.write(payload)                      # one record, framed here
    """

    def __init__(self, path: PathLike, gzip: bool = False):
        super().__init__(path, "tfrecord_gzip" if gzip else "tfrecord")
        self.gzip = bool(gzip)
        self.records_written = 0   # counts write(); write_framed() chunks are not parsed

    def write_framed(self, framed: bytes) -> None:
        """Append bytes that already hold complete TFRecord frames (e.g. from frame_examples)."""
        super().write(framed)

    def write(self, payload: bytes) -> None:
        """Frame and append a single record."""
        super().write(_frame_record(payload))
        self.records_written += 1

    def __repr__(self) -> str:
        return f"RecordWriter({self.path!r}, gzip={self.gzip}) [{'closed' if self.closed else 'open'}]"


def _read_exact(f, n: int) -> bytes:
    buf = f.read(n)
    if len(buf) == n or not buf:
        return buf
    parts = [buf]
    got = len(buf)
    while got < n:
        chunk = f.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def is_gzip_file(path: PathLike) -> bool:
    """Whether a TFRecord file is GZIP-compressed: it starts with GZIP's magic bytes, and its first 12 bytes are
    not a valid record header (a plain file's first record length could begin with those bytes)."""
    with open(path, "rb") as f:
        head = _read_exact(f, 12)
    if head[:2] != b"\x1f\x8b":
        return False
    return len(head) < 12 or _masked_crc32c(head[:8]) != struct.unpack_from("<I", head, 8)[0]


def read_records(path: PathLike, gzip: Optional[bool] = None) -> Iterator[bytes]:
    """Yield each record's payload from a TFRecord file, verifying both CRCs. GZIP compression is detected
    (``is_gzip_file``) unless ``gzip`` says.

    Raises ``ValueError`` (message includes the path and byte offset) on a bad CRC, a truncated
    record or a corrupt GZIP stream.
    """
    path = os.fspath(path)
    if gzip is None:
        gzip = is_gzip_file(path)
    f = _gzip.open(path, "rb") if gzip else open(path, "rb", buffering=1 << 20)
    offset = 0
    index = 0
    with f:
        while True:
            try:
                head = _read_exact(f, 12)
                if not head:
                    return
                if len(head) < 12:
                    raise ValueError(f"{path}: truncated record header at offset {offset} "
                                     f"(record {index})")
                (length,) = struct.unpack_from("<Q", head, 0)
                (len_crc,) = struct.unpack_from("<I", head, 8)
                if _masked_crc32c(head[:8]) != len_crc:
                    raise ValueError(f"{path}: corrupted record length at offset {offset} "
                                     f"(record {index})")
                body = _read_exact(f, length + 4)
                if len(body) < length + 4:
                    raise ValueError(f"{path}: truncated record at offset {offset} "
                                     f"(record {index}, length {length})")
            except (_gzip.BadGzipFile, EOFError, zlib.error) as e:
                raise ValueError(f"{path}: unreadable {'GZIP ' if gzip else ''}stream near "
                                 f"offset {offset} (record {index}): {e}") from e
            payload = body[:length]
            (data_crc,) = struct.unpack_from("<I", body, length)
            if _masked_crc32c(payload) != data_crc:
                raise ValueError(f"{path}: corrupted record data at offset {offset} "
                                 f"(record {index})")
            yield payload
            offset += 16 + length
            index += 1
