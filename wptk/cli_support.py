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

from wptk.errors import WptkError, os_error_text


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
    system such as a full disk, is one line on stderr and status 1, never a traceback. SIGINT, SIGTERM and SIGHUP
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


def setup_warnings(command):
    """Shows library warnings (e.g. a case mismatch) as one readable line on stderr, once each."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"wptk {command}: warning: {message}", file=sys.stderr)
    warnings.showwarning = show
    warnings.simplefilter("once", UserWarning)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")


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
