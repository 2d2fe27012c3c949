"""TFRecord files without TensorFlow: an atomic writer and a verifying reader.

Record frame (TFRecord format)::

    uint64 LE  length
    uint32 LE  masked_crc32c(length bytes)
    bytes      payload
    uint32 LE  masked_crc32c(payload)

``RecordWriter`` writes to a hidden temporary file next to the target and renames it into place
only on a successful ``close()``; on an exception inside ``with`` (or ``abort()``) the temporary
file is removed, so a reader never sees a partial file under the target name.

CRCs come from the native ``wptk._native.records`` module.
"""
from __future__ import annotations

import contextlib
import gzip as _gzip
import os
import struct
import zlib
from typing import Iterator, Optional, Union

from wptk._native.records import crc32c as _crc32c
from wptk._native.records import frame_record as _frame_record
from wptk._native.records import masked_crc32c as _masked_crc32c
from wptk.errors import naming
from wptk.files import AtomicFile

__all__ = ["RecordWriter", "read_records", "is_gzip_file", "frame_record", "masked_crc32c", "crc32c"]

crc32c = _crc32c
masked_crc32c = _masked_crc32c
frame_record = _frame_record

PathLike = Union[str, "os.PathLike[str]"]

_GZIP_LEVEL = 6
_WRITEBACK_BYTES = 8 << 20      # start the disk write of every this many bytes, so close()'s fsync is short


class RecordWriter:
    """Atomically write a (optionally GZIP-compressed) TFRecord file.

    >>> with RecordWriter("out.tfrecord") as w:
    ...     w.write_framed(frame_examples(...))   # already-framed records
    ...     w.write(payload)                      # one record, framed here

    The file is a wptk.files.AtomicFile: data goes to ``.{name}.tmp-{pid}-{n}-{host}`` in the target's directory;
    ``close()`` flushes, fsyncs and ``os.replace``-s it onto ``path`` (then fsyncs the directory). ``abort()``
    -- also called when the ``with`` block raises -- deletes the temporary file and leaves any existing ``path``
    untouched. A pipe or device (``/dev/stdout``) is written in place. OSErrors name ``path``. ``gzip=True``
    writes a GZIP stream (level 6, mtime 0, no file name; the output bytes are reproducible) readable with
    ``compression_type="GZIP"``.
    """

    def __init__(self, path: PathLike, gzip: bool = False):
        self.path = os.path.abspath(os.fspath(path))
        self.gzip = bool(gzip)
        if not os.path.basename(self.path):
            raise ValueError(f"RecordWriter needs a file path, got {path!r}")
        # A small buffer: framed chunks (hundreds of KB) then go straight to the file instead of through a copy.
        self._file = AtomicFile(self.path, "wb", buffering=1 << 16)
        self._raw = self._file.file
        self._out = (_gzip.GzipFile(filename="", mode="wb", fileobj=self._raw,
                                    compresslevel=_GZIP_LEVEL, mtime=0)
                     if self.gzip else self._raw)
        self.records_written = 0   # counts write(); write_framed() chunks are not parsed
        self.bytes_written = 0     # uncompressed framed bytes
        self._written_back = 0     # file bytes whose write-back has been started
        self._writeback_at = _WRITEBACK_BYTES   # bytes_written at which to start the next write-back
        self._closed = False

    @property
    def tmp_path(self) -> Optional[str]:
        """The temporary file while writing; None once closed or aborted."""
        return None if self._closed else self._file.tmp

    # -- writing ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"RecordWriter for {self.path} is closed")

    @contextlib.contextmanager
    def _about_path(self):
        """OSErrors raised inside name the target file (a failed write names none)."""
        try:
            yield
        except OSError as e:
            raise naming(e, self.path) from None

    def write_framed(self, framed: bytes) -> None:
        """Append bytes that already hold complete TFRecord frames (e.g. from frame_examples)."""
        self._check_open()
        with self._about_path():
            self._out.write(framed)
            self.bytes_written += len(framed)
            self._start_writeback()

    def write(self, payload: bytes) -> None:
        """Frame and append a single record."""
        self._check_open()
        rec = _frame_record(payload)
        with self._about_path():
            self._out.write(rec)
            self.records_written += 1
            self.bytes_written += len(rec)
            self._start_writeback()

    def _start_writeback(self) -> None:
        """Hands finished parts of the file to the disk while writing goes on (Linux starts write-back on
        POSIX_FADV_DONTNEED), so close() does not wait for all of it at once; we never read it back."""
        if not hasattr(os, "posix_fadvise") or self._file.streaming or self.bytes_written < self._writeback_at:
            return
        self._writeback_at = self.bytes_written + _WRITEBACK_BYTES
        self._raw.flush()
        end = self._raw.tell()
        try:
            os.posix_fadvise(self._raw.fileno(), self._written_back, end - self._written_back,
                             os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        self._written_back = end

    # -- finishing ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Finish the file: write the gzip trailer, then commit it (flush, fsync, rename). Idempotent."""
        if self._closed:
            return
        try:
            if self._out is not self._raw:
                with self._about_path():
                    self._out.close()           # writes the gzip trailer; leaves _raw open
            self._file.commit()                 # on failure it removes the temporary file itself
        except BaseException:
            self.abort()
            raise
        self._closed = True

    def abort(self) -> None:
        """Discard everything written; remove the temporary file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._out is not self._raw:
            try:
                self._out.close()
            except Exception:
                pass
        self._file.abort()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self):
        # Never publish a file that was not explicitly closed; just clean up the temp file.
        if not getattr(self, "_closed", True):
            try:
                self.abort()
            except Exception:
                pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"RecordWriter({self.path!r}, gzip={self.gzip}) [{state}]"


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
