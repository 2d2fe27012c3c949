"""Small helpers shared by the CLI commands and the pipelines' entry points."""
import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings

from wptk.errors import UsageError, WptkError, os_error_text


def quiet_grpc_logs():
    """For a program that may run a Beam job: no gRPC C-core log lines unless GRPC_VERBOSITY asks for them. A
    local job's gRPC servers can stop with races that gRPC logs as errors ("epoll_wait error: Bad file
    descriptor") next to the job's one-line result, while every real failure reaches us as an exception. gRPC
    reads the setting when it is imported, so call this first; worker processes inherit it."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a usage error on one line, `PROG: error: MESSAGE; see PROG --help`, and exit status 2,
    instead of the usage block and then the message. Subcommands' parsers are of this class too."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")

    def option_strings(self):
        return [option for action in self._actions for option in action.option_strings]

    def reject_unknown(self, args):
        """The usage error for arguments that no argument of this parser takes."""
        self.error(f"unrecognized arguments: {with_suggestions(args, self.option_strings())}")


def with_suggestions(args, known):
    """`args` joined by ", ", each flag followed by the `known` flag nearest to its name, if one is near."""
    import difflib      # only on this error path: every command imports this module at start-up
    named = []
    for arg in args:
        near = difflib.get_close_matches(arg.split("=", 1)[0], known, n=1) if arg.startswith("--") else []
        named.append(f"{arg} (did you mean {near[0]}?)" if near else arg)
    return ", ".join(named)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised as KeyboardInterrupt is for SIGINT: the same unwinding (`finally` blocks,
    AtomicFile's and the pipelines' clean-up) runs, so a killed run leaves no temporary or partial file."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


_TERMINATING = ("SIGINT", "SIGTERM", "SIGHUP")
_received = []      # the termination signals received while run_guarded runs a command
_hooks = []         # functions to call when the first one arrives


def on_interrupt(fn):
    """Registers fn() to be called as soon as a termination signal arrives, before the unwinding starts (e.g. to
    stop worker processes that a runner's clean-up would otherwise wait for); for the running command only."""
    _hooks.append(fn)


def _on_signal(signum, frame):
    _received.append(signum)
    if len(_received) == 1:     # later signals do not break the clean-up the first one started
        for hook in _hooks:
            try:
                hook()
            except Exception:
                pass
        raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)


@contextlib.contextmanager
def termination_signals():
    """In the main thread: SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt (Terminated for the last two), also
    in a process started with SIGINT ignored (a shell's background job), so that `kill -INT` stops it; a SIGHUP
    that nohup ignores stays ignored. The handlers in place before are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in _TERMINATING:
        signum = getattr(signal, name, None)
        if signum is None or (name == "SIGHUP" and signal.getsignal(signum) == signal.SIG_IGN):
            continue
        previous[signum] = signal.signal(signum, _on_signal)
    del _received[:]
    try:
        yield
    finally:
        del _hooks[:]
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interrupted_by():
    """The first termination signal received by the running command, or None."""
    return _received[0] if _received else None


_LAST_RESORT = {
    MemoryError: "out of memory: the input, or the sizes the flags ask for, need more memory than there is "
                 "(smaller flag values or a smaller input)",
    OverflowError: "a number is too large to handle: check the flags' values and the input's numbers",
    RecursionError: "the input is nested too deeply to handle (simplify it)",
}


def run_guarded(prog, fn, *args):
    """Runs fn(*args) as a command, returning its exit status: 0 on success; a user error, or an error of the
    system such as a full disk, is one line on stderr and status 1 (2 for a UsageError), never a traceback. SIGINT, SIGTERM and SIGHUP
    end it cleanly (temporary files removed) with one line and status 128 + the signal's number, also when a
    library (Beam) reports the interruption as another exception. Running out of memory, a number too large and
    too deep a recursion are one line too, as a last resort where no check of ours said what to change."""
    with termination_signals():
        try:
            fn(*args)
            return 0
        except BaseException as e:      # noqa: B036 (each case below re-raises what it does not handle)
            return _exit_status(prog, e)


def _exit_status(prog, error):
    signum = interrupted_by() or (getattr(error, "signum", signal.SIGINT) if isinstance(error, KeyboardInterrupt)
                                  else None)
    if signum is not None:
        print(f"{prog}: {'interrupted' if signum == signal.SIGINT else 'terminated by ' + signal.Signals(signum).name}",
              file=sys.stderr)
        return 128 + signum
    if isinstance(error, UsageError):
        print(f"{prog}: error: {error}; see {prog} --help", file=sys.stderr)
        return 2
    if isinstance(error, WptkError):
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    if isinstance(error, BrokenPipeError):
        sys.stderr.close()
        return 0
    if isinstance(error, OSError):      # the system refused: a full disk, a read-only or vanished directory
        print(f"{prog}: error: {os_error_text(error)}", file=sys.stderr)
        return 1
    for kind, message in _LAST_RESORT.items():
        if isinstance(error, kind):
            print(f"{prog}: error: {message}", file=sys.stderr)
            return 1
    raise error


_CGROUP_MEMORY = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),                   # v2
                  ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def available_memory():
    """Bytes of memory this process can still get without swapping: Linux's MemAvailable, and no more than its
    container's memory limit (cgroup v2 or v1) leaves; None if unknown."""
    room = []
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemAvailable:") and line.split()[1].isdigit():
            room.append(int(line.split()[1]) * 1024)
    for limit_path, usage_path in _CGROUP_MEMORY:
        limit, usage = (_read(limit_path) or "").strip(), (_read(usage_path) or "").strip()
        if limit.isdigit() and usage.isdigit():     # a v2 limit of "max" is no limit
            room.append(max(0, int(limit) - int(usage)))
            break
    return min(room) if room else None


def _read(path):
    try:
        with open(path, encoding="ascii") as f:
            return f.read()
    except (OSError, ValueError):
        return None


def setup_warnings(prog, case_flags=("--lower", "--no-lower", "--multilingual")):
    """Shows library warnings as one line on stderr, `PROG: warning: ...`, once each; a vocab that does not
    suit the case handling (CaseMismatch) is told in `case_flags`, the command's own (lowercase, keep case,
    multilingual) settings as the user gave them."""
    from wptk.vocab import CaseMismatch

    def show(message, category, filename, lineno, file=None, line=None):
        if isinstance(message, CaseMismatch):
            message = message.text(*case_flags)
        print(f"{prog}: warning: {message}", file=sys.stderr)
    warnings.showwarning = show
    warnings.simplefilter("once", UserWarning)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")


def format_bytes(n):
    """A byte count for people: 3 significant digits in B, KB, MB, GB, TB or PB (powers of 1000), else EB."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 999.5:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:,.3g} EB" if n < 999.5 else f"{n:,.0f} EB"


def parse_bool(text):
    """absl's boolean values: true/false, t/f, 1/0, yes/no, in any case."""
    value = text.strip().lower()
    if value in ("true", "t", "1", "yes"):
        return True
    if value in ("false", "f", "0", "no"):
        return False
    raise ValueError(text)


parse_bool.__name__ = "boolean"  # argparse names the type in its error message


class BoolFlag(argparse.Action):
    """An absl boolean flag: --flag, --flag=BOOL, --flag BOOL and --noflag. How it was given is kept in the
    namespace's `spelled` dict (e.g. {"multilingual": "--multilingual=yes"}), so that messages can quote it."""

    def __init__(self, option_strings, dest, default=False, help=None, **kwargs):
        self.negated = ["--no" + o[2:] for o in option_strings if o.startswith("--")]
        super().__init__(option_strings + self.negated, dest, nargs="?", default=default, metavar="BOOL",
                         help=help)

    def __call__(self, parser, namespace, value, option_string=None):
        if option_string in self.negated:
            if value is not None:
                parser.error(f"{option_string} takes no value")
            flag = False
        else:
            try:
                flag = True if value is None else parse_bool(value)
            except ValueError:
                parser.error(f"argument {option_string}: invalid boolean value: {value!r}")
        setattr(namespace, self.dest, flag)
        spelled = dict(getattr(namespace, "spelled", None) or {})
        spelled[self.dest] = option_string if value is None else f"{option_string}={value}"
        namespace.spelled = spelled

    def format_usage(self):
        return self.option_strings[0]


def absl_argv(argv):
    """absl's command-line forms that argparse lacks: --flagfile=FILE (one flag per line; blank lines and lines
    starting with # or // skipped; flagfiles may name flagfiles) and long flags with one dash (-max_seq_length=64).
    A flagfile that cannot be read, a loop of flagfiles or a line that is not a flag is a UsageError."""
    return _absl_argv(argv, ())


def _absl_argv(argv, reading):
    out = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            out += [arg, *args]
            break
        if arg.startswith("-") and arg[1:2].isalpha() and len(arg) > 2:
            arg = "-" + arg
        if arg == "--flagfile":
            arg = f"--flagfile={next(args, '')}"
        if not arg.startswith("--flagfile="):
            out.append(arg)
            continue
        path = arg.split("=", 1)[1]
        if os.path.abspath(path) in reading:
            raise UsageError(f"--flagfile={path} names itself, through {' -> '.join(reading)}")
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read --flagfile={path}: {getattr(e, 'strerror', None) or e}") from None
        flags = []
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith(("#", "//")):
                continue
            if not line.startswith("-"):
                raise UsageError(f"--flagfile={path}, line {number}: not a flag: {line!r} (one --flag=value per line)")
            flags.append(line)
        out += _absl_argv(flags, reading + (os.path.abspath(path),))
    return out


def case_flags(args):
    """setup_warnings' case_flags for commands with the reference's --do_lower_case and wptk's --multilingual."""
    return ("--do_lower_case=True", "--do_lower_case=False",
            (getattr(args, "spelled", None) or {}).get("multilingual", "--multilingual"))


@contextlib.contextmanager
def beam_log_aside(prog, tail_lines=20):
    """While a local Beam job runs, file descriptor 2 goes to a temporary file: Beam logs INFO lines there, and
    so do its worker processes, which inherit it. This process's own messages still reach the terminal, through
    a duplicate. After a failure other than a user error (whose one line says all), the log's end is shown."""
    sys.stderr.flush()
    saved = os.dup(2)
    log = tempfile.TemporaryFile()
    previous = sys.stderr
    try:
        on_fd2 = previous.fileno() == 2
    except (AttributeError, OSError, ValueError):     # a replaced stream (e.g. captured) does not write to fd 2
        on_fd2 = False
    if on_fd2:
        sys.stderr = os.fdopen(os.dup(saved), "w", encoding="utf-8", errors="replace", buffering=1)
    os.dup2(log.fileno(), 2)
    thread_hook = threading.excepthook      # Beam's threads die with tracebacks when a job fails or is stopped
    threading.excepthook = _to_fd2
    show_tail = True
    try:
        yield
        show_tail = False
    except BaseException as e:
        show_tail = not (isinstance(e, (WptkError, KeyboardInterrupt)) or interrupted_by())
        raise
    finally:
        threading.excepthook = thread_hook
        os.dup2(saved, 2)
        os.close(saved)
        if sys.stderr is not previous:
            sys.stderr.close()
            sys.stderr = previous
        if show_tail:
            log.seek(0)
            tail = log.read().decode("utf-8", "replace").splitlines()[-tail_lines:]
            if tail:
                print(f"{prog}: Beam's last log lines:\n  " + "\n  ".join(tail), file=sys.stderr)
        log.close()


def _to_fd2(args):
    """threading.excepthook that writes the traceback to file descriptor 2, not to sys.stderr."""
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    os.write(2, f"Exception in thread {getattr(args.thread, 'name', '?')}:\n{text}".encode("utf-8", "replace"))


class Ticker:
    """A context in which `label: status, seconds` is redrawn on a terminal every `interval` seconds while long
    work runs out of sight (a Beam job). `status()` gives the current state ("" for none). Shown when `enabled`
    (default: when the stream, sys.stderr as the context starts, is a terminal)."""

    def __init__(self, label, status, stream=None, interval=0.25, enabled=None):
        self.label, self.status, self.interval = label, status, interval
        self.stream, self.enabled = stream, enabled
        self._stop = threading.Event()
        self.thread = None

    def __enter__(self):
        self.stream = self.stream or sys.stderr
        self.start = time.monotonic()
        if self.stream.isatty() if self.enabled is None else self.enabled:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.thread is not None:
            self._stop.set()
            self.thread.join()
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def _run(self):
        while not self._stop.wait(self.interval):
            self._draw()

    def _draw(self):
        status = self.status()
        self.stream.write(f"\r{self.label}: {status + ', ' if status else ''}"
                          f"{time.monotonic() - self.start:.1f} s\x1b[K")
        self.stream.flush()
