"""Reading text lines the way the reference does, writing files atomically, and progress on stderr."""
import bz2
import errno
import gzip
import itertools
import lzma
import hashlib
import os
import re
import socket
import stat
import sys
import time
import zlib

from wptk.errors import WptkError, naming


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


_DECOMPRESSORS = {".gz": lambda f: gzip.GzipFile(fileobj=f, mode="rb"), ".bz2": bz2.BZ2File, ".xz": lzma.LZMAFile,
                  ".lzma": lzma.LZMAFile}
READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)    # EOFError: a truncated compressed file


def decompressor(path):
    """For a .gz, .bz2, .xz or .lzma path, the function that wraps its binary file in a decompressing one (Python's
    own modules: they fail on a truncated or corrupt file); else None."""
    return _DECOMPRESSORS.get(os.path.splitext(path)[1].lower())


MAX_LINE_MB = 64       # the default of --max_line_mb
MAX_LINE_BYTES = MAX_LINE_MB << 20


def read_lines(path, decoder, progress=None, chunk_size=1 << 20, max_line=MAX_LINE_BYTES):
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
    f = decompress(raw) if decompress else raw
    try:
        rest = b""
        number = 0
        position = 0
        while True:
            try:
                chunk = f.read(chunk_size)
            except READ_ERRORS as e:
                raise WptkError(f"cannot read {name}: {getattr(e, 'strerror', None) or e}") from None
            if progress is not None:
                read = raw.tell() if decompress else position + len(chunk)
                progress.advance(read - position)
                position = read
            if not chunk:
                break
            block = rest + chunk
            cut = block.rfind(b"\n")
            if cut < 0:
                rest = block
                if max_line is not None and len(rest) > max_line:
                    raise line_too_long(name, number + 1, max_line)
                continue
            block, rest = block[:cut], block[cut + 1:]
            if max_line is not None and len(block) > max_line and first_long_line(block, max_line):
                raise line_too_long(name, number + 1 + first_long_line(block, max_line)[0], max_line)
            try:   # fast path: the whole block is valid UTF-8
                lines = block.decode("utf-8").split("\n")
            except UnicodeDecodeError:
                lines = [decoder.decode(line, f"{name}:{number + i + 1}") for i, line in enumerate(block.split(b"\n"))]
            number += len(lines)
            yield from lines
        if rest:
            yield decoder.decode(rest, f"{name}:{number + 1}")
    finally:
        if raw is not sys.stdin.buffer:
            f.close()
            raw.close()


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


def check_input(path, flag="input"):
    """WptkError saying why `path` ('-' = standard input) cannot be read as a text input: it does not exist, is
    a dangling symlink or a loop of symlinks, or is a directory. Pipes, FIFOs and /dev/stdin are inputs too."""
    if path == "-":
        return
    if not path:
        raise WptkError(f"{flag} is empty: name a file")
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise WptkError(f"cannot read {path}: a loop of symbolic links") from None
        if os.path.islink(path):
            raise WptkError(f"cannot read {path}: a symbolic link to {os.readlink(path)}, which does not exist") \
                from None
        raise WptkError(f"cannot read {path}: {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise WptkError(f"{flag} {path} is a directory: name its files, or a glob such as "
                        f"'{os.path.join(path, '*')}' (quoted)")


def _stat(path):
    """os.stat of `path` through symlinks; '-' is standard input and an int a file descriptor; None if none."""
    try:
        return os.fstat(0 if path == "-" else path) if path == "-" or isinstance(path, int) else os.stat(path)
    except (OSError, ValueError):
        return None


def _regular_identity(path):
    """(device, inode) of the regular file `path` names, or None (a new file, a pipe, a terminal, a device)."""
    st = _stat(path)
    return (st.st_dev, st.st_ino) if st is not None and stat.S_ISREG(st.st_mode) else None


def check_outputs(outputs, inputs, flag, stdout=False):
    """WptkError when writing `outputs` would destroy what is read or write one file twice: an output that is an
    input (compared by identity, so a symlink, a hard link or standard input redirected from the file counts;
    pass the vocab as an input too), an output named twice, or (`stdout`) standard output redirected to an
    input file. Pipes, terminals and devices never clash."""
    read = {}
    for path in inputs:
        identity = _regular_identity(path)
        if identity is not None:
            read.setdefault(identity, "standard input" if path == "-" else path)
    seen = {}
    for out in outputs:
        identity = _regular_identity(out)
        if identity in read:
            raise WptkError(f"{flag} {out} is also an input ({read[identity]}): writing it would replace the input")
        if identity is None and _stat(out) is not None:
            continue            # a pipe or device: written in place, any number of times
        key = identity or os.path.realpath(out)
        if key in seen:
            raise WptkError(f"{flag} names one file twice ({seen[key]}, {out}): name each output file once")
        seen[key] = out
    if stdout and _regular_identity(1) in read:
        raise WptkError(f"standard output is the input file {read[_regular_identity(1)]}: writing it would replace "
                        "the input; write to another file")


_tmp_numbers = itertools.count()


def host_tag():
    """8 hex digits naming this host (of its hostname), so that a temporary file's pid can be checked only on the
    host whose pid it is (a directory may be shared by several hosts)."""
    return hashlib.blake2b(socket.gethostname().encode("utf-8", "replace"), digest_size=4).hexdigest()


def pid_alive(pid):
    """Whether a process `pid` exists on this host (one of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (ProcessLookupError, OverflowError):
        return False
    return True


def remove_dead_temporaries(directory, name):
    """Deletes the temporary files `.{name}.tmp-{pid}-{n}-{host}` that AtomicFile left in `directory` when its
    process was killed (SIGKILL, a power cut): those of this host whose process is gone. A live process's file,
    or another host's, is never touched."""
    pattern = re.compile(re.escape(f".{name}.tmp-") + r"(\d+)-\d+-" + host_tag() + "$")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for entry in names:
        m = pattern.match(entry)
        if m and not pid_alive(int(m.group(1))):
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:
                pass


class AtomicFile:
    """A file written under a temporary name (`.{name}.tmp-{pid}-{n}-{host}`, see host_tag) in the target's
    directory and renamed onto it on commit: flushed, fsynced, renamed, the directory fsynced. On failure,
    `abort()`, Ctrl-C, SIGTERM or SIGHUP (under cli_support.run_guarded) the temporary file is removed, so no
    partial output ever exists under the target name (an existing target stays untouched); those of this
    target that killed processes left behind are removed when the next one is made.
    A symlink is followed: its target is replaced and the link stays. A target that is neither a file nor a
    directory (a pipe, a terminal, /dev/stdout, /dev/null) is written in place (`streaming`): there is no file
    to rename or to leave half-written. OSErrors (a full disk, a directory without write permission) name the
    target."""

    def __init__(self, path, mode="wb", buffering=-1):
        self.path = path
        self.tmp = None
        self.done = False
        try:
            kind = os.stat(path).st_mode
        except FileNotFoundError:
            kind = stat.S_IFREG         # a new file
        except OSError as e:
            raise naming(e, path) from None
        self.streaming = not (stat.S_ISREG(kind) or stat.S_ISDIR(kind))
        self.target = None if self.streaming else os.path.realpath(path)     # through symlinks
        if self.streaming:
            try:
                fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
            except OSError as e:
                raise naming(e, path) from None
        else:
            fd = self._create_temporary()
        self.file = os.fdopen(fd, mode, buffering,
                              **({} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}))

    def _create_temporary(self):
        """Creates self.tmp beside self.target; returns its descriptor."""
        directory = os.path.dirname(self.target)
        if not os.path.isdir(directory):
            if os.path.islink(self.path):
                raise WptkError(f"{self.path} is a symbolic link to {os.readlink(self.path)}, whose directory does "
                                "not exist")
            raise WptkError(f"output directory does not exist: {os.path.dirname(self.path) or '.'}")
        remove_dead_temporaries(directory, os.path.basename(self.target))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        host = host_tag()
        while True:
            name = f".{os.path.basename(self.target)}.tmp-{os.getpid()}-{next(_tmp_numbers)}-{host}"
            self.tmp = os.path.join(directory, name)
            try:
                return os.open(self.tmp, flags, 0o666)    # the umask applies, as to a plain open()
            except FileExistsError:
                continue
            except OSError as e:
                raise naming(e, self.path) from None

    def __enter__(self):
        return self.file

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
            if isinstance(exc, OSError) and exc.filename is None:
                raise naming(exc, self.path) from None
        return False

    def commit(self):
        try:
            if self.streaming:
                self.file.close()
            else:
                self.file.flush()
                os.fsync(self.file.fileno())
                self.file.close()
                os.replace(self.tmp, self.target)
        except OSError as e:
            self.abort()
            raise naming(e, self.path) from None
        self.done = True
        if not self.streaming:
            _fsync_dir(os.path.dirname(self.target))

    def abort(self):
        """Discards what was written (what a stream was sent stays sent). Idempotent; a no-op after a commit."""
        if self.done:
            return
        self.done = True
        try:
            self.file.close()       # may fail again flushing what a full disk refused
        except OSError:
            pass
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass


def _fsync_dir(directory):
    """Makes a rename in `directory` durable (where directories can be opened)."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Progress:
    """A one-line progress display on stderr, shown only when stderr is a terminal."""

    def __init__(self, label, total=None, unit="B", stream=None, enabled=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self.start = self.last = time.monotonic()

    def advance(self, n):
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.2:
            self.last = now
            self._draw(now)

    def _draw(self, now):
        rate = self.done / max(now - self.start, 1e-9)
        if self.unit == "B":
            text = f"{self.done / 1e6:.1f} MB, {rate / 1e6:.1f} MB/s"
            pct = f"{100 * self.done / self.total:5.1f}% " if self.total else ""
        else:
            text = f"{self.done:,} {self.unit}, {rate:,.0f}/s"
            pct = f"{100 * self.done / self.total:5.1f}% " if self.total else ""
        self.stream.write(f"\r{self.label}: {pct}{text}\x1b[K")
        self.stream.flush()

    def close(self):
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
