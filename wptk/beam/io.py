"""Files on any Beam filesystem (local, gs://, s3://, hdfs://, ...): matching and checking inputs, opening them
(compressed ones through wptk.reader's decompressors, which fail on a truncated file), writing atomically."""
import contextlib
import os
import uuid

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from wptk.errors import WptkError
from wptk.files import check_input
from wptk.reader import READ_ERRORS, decompressor, text_problem

TEXT_CHECK_BYTES = 64 * 1024
PLAIN = CompressionTypes.UNCOMPRESSED


def one_line(exc):
    """The first line of an exception's message (Beam's carry whole tracebacks), or its type's name."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def is_local(path):
    """A path of the local filesystem (no scheme): written with wptk's own atomic writer, os.path applies."""
    return FileSystems.get_scheme(path) is None


def is_compressed(path):
    return CompressionTypes.detect_compression_type(path) != CompressionTypes.UNCOMPRESSED


def match_inputs(patterns):
    """[(path, size)] for comma-separated files or glob patterns on any Beam filesystem, each pattern's matches
    sorted; a pattern that matches nothing is an error."""
    files = []
    for pattern in [p.strip() for p in patterns.split(",") if p.strip()]:
        try:
            results = FileSystems.match([pattern])
        except Exception as e:  # BeamIOError, or a filesystem that is not installed
            raise WptkError(f"cannot match input {pattern}: {one_line(e)}") from None
        matches = []
        for metadata in results[0].metadata_list if results else []:
            if is_local(metadata.path) and os.path.isdir(metadata.path):
                continue
            if is_local(metadata.path) and not os.path.isfile(metadata.path):
                raise WptkError(f"input {metadata.path} is not a regular file (a pipe or device): the pipeline reads "
                                "files by size and offset; save it to a file, or use wptk create-pretraining-data")
            matches.append((metadata.path, int(metadata.size_in_bytes)))
        if not matches and is_local(pattern) and os.path.isdir(pattern):
            check_input(pattern, "--input_file")
        if not matches:
            raise WptkError(f"input file not found: {pattern}")
        files.extend(sorted(matches))
    if not files:
        raise WptkError("--input_file names no file")
    return files


def check_text_file(path):
    """WptkError when `path` cannot be opened or its first 64 KiB (decompressed) do not look like text."""
    try:
        with open_input(path) as f:
            sample = f.read(TEXT_CHECK_BYTES)
    except WptkError:
        raise
    except Exception as e:
        raise WptkError(f"cannot read {path}: {one_line(e)}") from None
    problem = text_problem(sample)
    if problem:
        raise WptkError(f"{path} does not look like UTF-8 text: {problem}; remove it from --input_file "
                        "(or pass --check_text=false to read it anyway, dropping invalid bytes)")


def match_text_inputs(patterns, check_text=True, empty="the input is empty: every input file has 0 bytes"):
    """[(path, size)] of the input patterns; WptkError when one matches nothing, a file looks binary (with
    `check_text`), or all of them are empty (the message `empty`)."""
    from concurrent.futures import ThreadPoolExecutor
    inputs = match_inputs(patterns)
    if check_text:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(check_text_file, [path for path, _ in inputs]))
    if sum(size for _, size in inputs) == 0:
        raise WptkError(empty)
    return inputs


def open_raw(path, compression=PLAIN):
    """`path` opened with Beam's FileSystems; a WptkError naming it when that fails."""
    try:
        return FileSystems.open(path, compression_type=compression)
    except Exception as e:
        raise WptkError(f"cannot read {path}: {one_line(e)}") from None


def open_input(path):
    """An input file opened for reading: a plain one as is (seekable), a compressed one decompressed."""
    return CompressedInput(path) if is_compressed(path) else open_raw(path)


class CompressedInput:
    """A compressed input file (by its extension) on any Beam filesystem, read whole. .gz, .bz2, .xz and .lzma
    are decompressed as `wptk create-pretraining-data` does (wptk.reader.decompressor), failing on a truncated or
    corrupt file where Beam's CompressedFile just ends early (silently losing the rest); other types by Beam.
    Reading errors are WptkErrors naming the file."""

    def __init__(self, path):
        self.path = path
        decompress = decompressor(path)
        self.raw = open_raw(path, PLAIN if decompress else CompressionTypes.AUTO)
        self.file = decompress(self.raw) if decompress else self.raw

    def read(self, size=-1):
        try:
            return self.file.read(size)
        except READ_ERRORS as e:
            raise WptkError(f"cannot read {self.path}: {one_line(e)}") from None

    def close(self):
        try:
            self.file.close()
        finally:
            self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_file_bytes(path, what):
    try:
        with FileSystems.open(path, compression_type=PLAIN) as f:
            return f.read()
    except Exception as e:
        raise WptkError(f"cannot read {what} {path}: {one_line(e)}") from None


def read_json(path):
    import json
    with FileSystems.open(path, compression_type=PLAIN) as f:
        return json.loads(f.read().decode("utf-8"))


@contextlib.contextmanager
def writing(path):
    """An OSError while writing `path` (a full disk, say) as a WptkError naming it, so that one in a worker
    reaches the user as one line."""
    try:
        yield
    except OSError as e:
        raise WptkError(f"cannot write {path}: {e.strerror or one_line(e)}") from None


def write_atomic(path, chunks, stream=None, shown=None):
    """Writes byte chunks to `path` on any Beam filesystem under a temporary name, renamed when complete; through
    stream(file) if given (an output format's open(): the bytes do not depend on the filesystem). An error names
    `shown` (default `path`)."""
    with writing(shown or path):
        _write_atomic(path, chunks, stream)


def _write_atomic(path, chunks, stream):
    directory, name = os.path.split(path) if is_local(path) else path.rsplit("/", 1)
    tmp = FileSystems.join(directory, f".{name}.tmp-{uuid.uuid4().hex}")
    raw = FileSystems.create(tmp, compression_type=PLAIN)
    try:
        out = stream(raw) if stream else raw
        for chunk in chunks:
            out.write(chunk)
        if out is not raw:
            out.close()
        raw.close()
    except BaseException:
        try:
            raw.close()
        finally:
            delete_quietly([tmp])
        raise
    try:
        FileSystems.rename([tmp], [path])
    except Exception:
        if not FileSystems.exists(path):        # some filesystems refuse to rename over an existing file
            delete_quietly([tmp])
            raise
        FileSystems.delete([path])
        FileSystems.rename([tmp], [path])


def delete_quietly(paths):
    """Deletes what it can of the files `paths`."""
    try:
        if paths:
            FileSystems.delete(paths)
    except Exception:
        pass
