"""The one reader of text: files (plain or compressed) -> blocks of whole lines -> lines or documents.

Every command and pipeline reads through here, so they agree on what a line is ("\\n" only), on the byte range a
line or document belongs to, on line-length limits and on invalid UTF-8 (`Utf8Decoder`: dropped and counted as
the reference drops it, or refused with --errors=strict).

- `line_blocks(f, start, stop)`: whole lines of a binary file object, by byte range (the base of the others);
- `read_lines(path, decoder)`: the decoded lines of a local file or standard input;
- `range_documents(f, start, stop, claim)`: the documents (runs of lines up to a blank line) a byte range owns;
- `document_text(raw, decoder, ...)`: a document's text, decoded (and split into sentences on request).
"""
import bz2
import gzip
import itertools
import lzma
import os
import sys
import zlib

from wptk._native.lines import blank_lines
from wptk.errors import WptkError

MB = 1 << 20
READ_CHUNK = 1 << 20
FINISH_CHUNK = 64 * 1024        # read size while finishing a range's last line past its end


class Utf8Decoder:
    """Decodes lines as the reference does (invalid bytes dropped) while counting what was dropped;
    with `strict`, invalid UTF-8 is an error naming the file and line."""

    def __init__(self, strict=False):
        self.strict = strict
        self.dropped_bytes = 0
        self.bad_lines = 0

    def decode(self, raw, where):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if self.strict:
                raise WptkError(f"{where}: invalid UTF-8 at byte {e.start} of the line") from None
        text = raw.decode("utf-8", "ignore")
        self.dropped_bytes += len(raw) - len(text.encode("utf-8"))
        self.bad_lines += 1
        return text

    def report(self, prog, stream=None):
        """`PROG: warning: ...` on stderr when bytes were dropped."""
        if self.dropped_bytes:
            print(dropped_bytes_warning(prog, self.dropped_bytes, self.bad_lines), file=stream or sys.stderr)


def dropped_bytes_warning(prog, dropped_bytes, bad_lines):
    """The warning every command gives for the invalid UTF-8 it dropped."""
    return (f"{prog}: warning: dropped {dropped_bytes:,} invalid UTF-8 byte(s) in {bad_lines:,} line(s), as the "
            "reference does (use --errors=strict to fail instead)")


def text_problem(sample):
    """Why `sample` (the first bytes of a file) does not look like UTF-8 text, or None."""
    if not sample:
        return None
    nul = sample.count(b"\0")
    if nul * 100 > len(sample):
        return f"{nul} NUL bytes in its first {len(sample):,} bytes (binary, or UTF-16 text?)"
    cut = sample[:sample.rfind(b"\n") + 1] or sample[:-3] or sample    # no character cut at the end
    invalid = len(cut) - len(cut.decode("utf-8", "ignore").encode("utf-8"))
    if invalid * 10 > len(cut):
        return f"{100 * invalid / len(cut):.0f}% of its first {len(cut):,} bytes are invalid UTF-8"
    return None


# ------------------------------------------------------------------------------------------------- files

_DECOMPRESSORS = {".gz": lambda f: gzip.GzipFile(fileobj=f, mode="rb"), ".bz2": bz2.BZ2File, ".xz": lzma.LZMAFile,
                  ".lzma": lzma.LZMAFile}
READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)    # EOFError: a truncated compressed file


def decompressor(path):
    """For a .gz, .bz2, .xz or .lzma path, the function that wraps its binary file in a decompressing one (Python's
    own modules: they fail on a truncated or corrupt file); else None."""
    return _DECOMPRESSORS.get(os.path.splitext(path)[1].lower())


class _Counted:
    """A binary file whose reads advance a progress display by the bytes read."""

    def __init__(self, f, progress):
        self.f, self.progress = f, progress

    def read(self, size=-1):
        data = self.f.read(size)
        self.progress.advance(len(data))
        return data


# ------------------------------------------------------------------------------------------------- lines

MAX_LINE_MB = 64       # the default of --max_line_mb
MAX_LINE_BYTES = MAX_LINE_MB << 20


def max_line_bytes(mb):
    """--max_line_mb in bytes; WptkError unless positive."""
    if not mb > 0:
        raise WptkError(f"--max_line_mb must be positive, got {mb}")
    return int(min(mb, 1 << 40) * (1 << 20))


def line_too_long(name, number, limit):
    return WptkError(f"{name}:{number}: line longer than --max_line_mb={limit / (1 << 20):g} MiB: split the "
                     "line, or raise the limit")


def first_long_line(block, max_line):
    """(index, byte offset) in `block` of its first line ("\\n"-separated) longer than `max_line` bytes, or None."""
    start = 0
    for index in itertools.count():
        end = block.find(b"\n", start)
        if (len(block) if end < 0 else end) - start > max_line:
            return index, start
        if end < 0:
            return None
        start = end + 1


def first_line_start(f, start):
    """The offset of the first line that starts at or after `start` (None if there is none); leaves `f` there."""
    if start == 0:
        f.seek(0)
        return 0
    f.seek(start - 1)
    position = start - 1
    while True:
        chunk = f.read(FINISH_CHUNK)
        if not chunk:
            return None
        newline = chunk.find(b"\n")
        if newline >= 0:
            position += newline + 1
            f.seek(position)
            return position
        position += len(chunk)


def line_blocks(f, start=0, stop=None, max_line=None, too_long=None, chunk_size=None):
    """(offset, block) for the lines of binary file `f` that start in the byte range [start, stop) (stop None: to
    the end): each block holds whole lines with their "\\n" (the file's last line may lack one), a read chunk at a
    time. The line running into `start` belongs to the range before and is skipped (start > 0 needs a seekable
    `f`; start 0 reads `f` from where it is); the last line is finished past `stop`. So consecutive ranges read
    every line exactly once. A line longer than `max_line` bytes raises too_long(offset, number): its byte offset
    and its line number in the range (1 for the first). Reads `chunk_size` bytes at a time (default READ_CHUNK)."""
    chunk_size = chunk_size or READ_CHUNK
    offset = first_line_start(f, start) if start else 0
    if offset is None or (stop is not None and offset >= stop):
        return
    pending, pending_len, lines = [], 0, 0      # the unfinished line's pieces; lines before `offset`
    while True:
        size = chunk_size
        if stop is not None:
            ahead = stop - offset - pending_len
            size = min(size, ahead) if ahead > 0 else FINISH_CHUNK
        chunk = f.read(size)
        if not chunk:
            break
        cut = chunk.rfind(b"\n") + 1
        if cut:
            block = b"".join(pending + [chunk[:cut]]) if pending else chunk[:cut]
            pending, pending_len = [], 0
            last = stop is not None and offset + len(block) >= stop
            if last:        # lines past the range's end belong to the next range
                block = block[:block.find(b"\n", stop - offset - 1) + 1]
            if max_line is not None:
                _check_lines(block, offset, lines, max_line, too_long)
                lines += block.count(b"\n")
            yield offset, block
            if last:
                return
            offset += len(block)
        if cut < len(chunk):
            pending.append(chunk[cut:])
            pending_len += len(chunk) - cut
            if max_line is not None and pending_len > max_line:
                raise too_long(offset, lines + 1)
    if pending:
        yield offset, b"".join(pending)


def _check_lines(block, offset, lines, max_line, too_long):
    if len(block) > max_line:
        long = first_long_line(block, max_line)
        if long:
            raise too_long(offset + long[1], lines + long[0] + 1)


def read_lines(path, decoder, progress=None, chunk_size=READ_CHUNK, max_line=MAX_LINE_BYTES):
    """Yields the lines of a file ('-' = stdin) split on "\\n" only, without the "\\n", decoded by `decoder`.
    A .gz, .bz2, .xz or .lzma file is decompressed (the reference would read its compressed bytes as text).

    Streams in chunks, so memory stays constant whatever the file size. `progress` advances by the bytes of the
    file itself (compressed bytes for a compressed file). A line longer than `max_line` bytes (None: no limit)
    is an error naming the file and line, so that an endless line (/dev/zero) cannot take all memory.
    """
    name = "<stdin>" if path == "-" else path
    try:
        raw = sys.stdin.buffer if path == "-" else open(path, "rb")
    except OSError as e:
        raise WptkError(f"cannot read {name}: {e.strerror or e}") from None
    decompress = decompressor(path) if path != "-" else None
    counted = raw if progress is None else _Counted(raw, progress)
    f = decompress(counted) if decompress else counted
    number = 0
    try:
        blocks = line_blocks(f, max_line=max_line, chunk_size=chunk_size,
                             too_long=lambda offset, line: line_too_long(name, line, max_line))
        for _, block in _reading(blocks, name):
            try:   # fast path: the whole block is valid UTF-8
                lines = block.decode("utf-8").split("\n")
            except UnicodeDecodeError:
                lines = [decoder.decode(line, f"{name}:{number + i + 1}") for i, line in enumerate(block.split(b"\n"))]
            if block.endswith(b"\n"):
                lines.pop()
            number += len(lines)
            yield from lines
    finally:
        if raw is not sys.stdin.buffer:
            if f is not counted:
                f.close()
            raw.close()


def _reading(blocks, name):
    """`blocks`, with an error of the file or its decompression as a WptkError naming the file."""
    try:
        yield from blocks
    except READ_ERRORS as e:
        raise WptkError(f"cannot read {name}: {getattr(e, 'strerror', None) or e}") from None


# ------------------------------------------------------------------------------------------------- documents


def range_documents(f, start, stop, claim, path="", max_document_bytes=None, decoder=None):
    """(key, raw text) for the documents that the byte range [start, stop) of binary file `f` owns; raw text is
    the document's lines joined by "\\n", undecoded.

    A document is a run of lines ended by a blank line or the end of the file. Its key is the offset of the
    blank line just before it, or 0 for a document that starts at offset 0; the range that contains the key owns
    the document, and `claim(key)` must return True before it is read (a restriction tracker's try_claim: False
    ends the range). The reader skips the lines of a document that started before its range and reads past
    `stop` to finish its last document. Start 0 reads `f` from where it is (it may be a stream). Blank lines are
    found a block of lines at a time, natively (wptk._native.lines). A `decoder` decodes the blank lines that
    start in the range and hold non-ASCII bytes, as the reference decodes every line: it counts (or, strict,
    refuses) their invalid UTF-8 bytes, which no document carries.
    """
    limit = max_document_bytes
    too_large = lambda offset, line: _too_large(path, offset, limit)     # noqa: E731
    prev_blank = None       # offset of the blank line just before the current line, if this reader saw it
    key, parts, size = None, None, 0    # the document being read: its key, pieces (runs of lines), bytes
    foreign = False         # inside a document that an earlier range owns
    for base, block in line_blocks(f, start, None, limit, too_large):
        cursor = 0
        end = len(block) - (1 if block.endswith(b"\n") else 0)
        for a, b in itertools.chain(blank_lines(block), [(None, None)]):
            run_end = end if a is None else a - 1
            if cursor < run_end or (a is None and cursor == run_end and cursor < len(block)):
                # lines block[cursor:run_end]: a document's lines
                if parts is None and not foreign:
                    if base + cursor == 0:
                        key = 0
                    elif prev_blank is not None:
                        key = prev_blank
                    else:
                        foreign = True
                    if not foreign:
                        if not claim(key):
                            return
                        parts, size = [], 0
                if parts is not None:
                    parts.append(block[cursor:run_end])
                    size += run_end - cursor + 1
                    if limit is not None and size > limit:
                        raise _too_large(path, key, limit)
            if a is None:
                break
            if parts is not None:
                yield key, b"\n".join(parts)
                parts = None
            foreign = False
            if base + a >= stop:
                return
            if decoder is not None and not block[a:b].isascii():
                decoder.decode(block[a:b], f"{path}: the blank line at byte {base + a:,}")
            prev_blank = base + a
            cursor = b + 1
    if parts is not None:
        yield key, b"\n".join(parts)


def _too_large(path, offset, limit):
    return WptkError(f"{path}: the document at byte {offset:,} is larger than --max_document_mb="
                     f"{limit / MB:g} (no blank line for that long): split it, or raise the limit")


def document_lines(raw, decoder, path, key):
    """The lines of the document at byte `key` of `path` (its raw text, lines joined by "\\n") decoded as the
    reference decodes them (via `decoder`, which counts or refuses invalid UTF-8)."""
    try:
        return raw.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        where = f"{path}: the document at byte {key:,}"
        return [decoder.decode(line, where) for line in raw.split(b"\n")]


def document_text(raw, decoder, path, key, split_sentences=None):
    """The UTF-8 text of the document at byte `key` of `path` (from its raw text, lines joined by "\\n"): its
    decoded lines joined by "\\n", each line split by `split_sentences` (a function of a line) if given. Valid
    UTF-8 without sentence splitting is returned as read."""
    if split_sentences is None:
        if raw.isascii():
            return raw
        try:
            raw.decode("utf-8")
            return raw
        except UnicodeDecodeError:
            pass
    lines = document_lines(raw, decoder, path, key)
    if split_sentences is not None:
        lines = [s for line in lines for s in split_sentences(line)]
    return "\n".join(lines).encode("utf-8")
