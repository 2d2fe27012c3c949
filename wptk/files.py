"""Files a command writes and checks it makes first: inputs that exist, outputs that are not inputs, and
AtomicFile, which never leaves a partial output under its target's name."""
import errno
import hashlib
import itertools
import os
import re
import socket
import stat

from wptk.errors import WptkError, naming


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
    `abort()`, Ctrl-C, SIGTERM or SIGHUP (under wptk.program.run_guarded) the temporary file is removed, so no
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
