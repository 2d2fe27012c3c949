"""Output formats of pretraining records, and an atomic writer of a local file in one.

A format owns three things: the file-name suffix; how a batch of instances becomes bytes (`encode`: for TFRecord,
framed tf.train.Example records); and the stream those bytes go through into any binary file object (`open`: a
local file, a Beam FileSystems file, a pipe). A new format is a class here, its entry in FORMATS and a flag value.

    fmt = formats.get("tfrecord_gzip")
    out = fmt.open(raw)                     # raw: any binary file object
    for _, data in pretraining.encoded_batches(docs, instances, vocab_ids, config, fmt):
        out.write(data)
    out.close()                             # ends the format's stream; raw stays open
"""
import contextlib
import gzip as _gzip
import os

from wptk._native.instances import encode_records
from wptk.errors import WptkError, naming
from wptk.files import AtomicFile

_GZIP_LEVEL = 6
_WRITEBACK_BYTES = 8 << 20      # start the disk write of every this many bytes, so close()'s fsync is short


class TFRecord:
    """TFRecord files of tf.train.Example records, as run_pretraining.py reads them."""
    name = "tfrecord"
    suffix = ".tfrecord"

    def encode(self, docs, instances, rows, vocab_ids, config, buffer=None):
        """The instances at `rows` (a C-contiguous int64 array), in that order, as this format's bytes: into the
        bytearray `buffer` when given (a memoryview valid until its next use), else a new bytes object."""
        return encode_records(docs.tokens, instances.arrays, rows, config.max_seq_length,
                              config.max_predictions_per_seq, vocab_ids.cls_id, vocab_ids.sep_id, vocab_ids.mask_id,
                              buffer)

    def open(self, raw):
        """A binary stream that writes this format's bytes into `raw`; its close() ends the stream (a trailer,
        say) and leaves `raw` open."""
        return _Unclosing(raw)


class GzipTFRecord(TFRecord):
    """TFRecord files as one GZIP stream (read with compression_type="GZIP"): level 6, mtime 0 and no file name,
    so the bytes are reproducible."""
    name = "tfrecord_gzip"
    suffix = ".tfrecord.gz"

    def open(self, raw):
        return _gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0)


class _Unclosing:
    """`raw` as a stream whose close() leaves it open."""

    def __init__(self, raw):
        self.write = raw.write

    def close(self):
        pass


FORMATS = {f.name: f for f in (TFRecord(), GzipTFRecord())}


def get(output_format):
    """The format of that name in FORMATS (a format passes through); WptkError listing the names otherwise."""
    if not isinstance(output_format, str):
        return output_format
    if output_format not in FORMATS:
        raise WptkError(f"unknown output format {output_format!r}: one of {', '.join(FORMATS)}")
    return FORMATS[output_format]


class FileWriter:
    """Writes a local file in an output format, atomically.

    The file is a wptk.files.AtomicFile: data goes to ``.{name}.tmp-{pid}-{n}-{host}`` in the target's directory;
    ``close()`` ends the format's stream, flushes, fsyncs and ``os.replace``-s it onto ``path`` (then fsyncs the
    directory). ``abort()`` -- also called when the ``with`` block raises -- deletes the temporary file and leaves
    any existing ``path`` untouched. A pipe or device (``/dev/stdout``) is written in place. OSErrors name
    ``path``. Finished parts of the file are handed to the disk while writing goes on.
    """

    def __init__(self, path, output_format="tfrecord"):
        self.path = os.path.abspath(os.fspath(path))
        self.format = get(output_format)
        if not os.path.basename(self.path):
            raise ValueError(f"{type(self).__name__} needs a file path, got {path!r}")
        # A small buffer: encoded batches (hundreds of KB) then go straight to the file instead of through a copy.
        self._file = AtomicFile(self.path, "wb", buffering=1 << 16)
        self._raw = self._file.file
        self._out = self.format.open(self._raw)
        self.bytes_written = 0     # bytes given to write(), before any compression
        self._written_back = 0     # file bytes whose write-back has been started
        self._writeback_at = _WRITEBACK_BYTES   # bytes_written at which to start the next write-back
        self._closed = False

    @property
    def tmp_path(self):
        """The temporary file while writing; None once closed or aborted."""
        return None if self._closed else self._file.tmp

    @property
    def closed(self):
        return self._closed

    @contextlib.contextmanager
    def _about_path(self):
        """OSErrors raised inside name the target file (a failed write names none)."""
        try:
            yield
        except OSError as e:
            raise naming(e, self.path) from None

    def write(self, data):
        """Appends bytes in the format's encoding (complete records, as its encode() gives them)."""
        if self._closed:
            raise ValueError(f"{type(self).__name__} for {self.path} is closed")
        with self._about_path():
            self._out.write(data)
            self.bytes_written += len(data)
            self._start_writeback()

    def _start_writeback(self):
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

    def close(self):
        """Finish the file: end the format's stream, then commit it (flush, fsync, rename). Idempotent."""
        if self._closed:
            return
        try:
            with self._about_path():
                self._out.close()
            self._file.commit()                 # on failure it removes the temporary file itself
        except BaseException:
            self.abort()
            raise
        self._closed = True

    def abort(self):
        """Discard everything written; remove the temporary file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._out.close()
        except Exception:
            pass
        self._file.abort()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
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

    def __repr__(self):
        return f"{type(self).__name__}({self.path!r}, {self.format.name!r}) [{'closed' if self._closed else 'open'}]"
