"""Running a command: one-line errors and exit statuses, clean stops on signals, warnings on stderr, Beam's log
kept aside. Used by `wptk`'s commands and the Beam jobs' entry points."""
import contextlib
import os
import signal
import sys
import tempfile
import threading
import traceback
import warnings

from wptk.errors import UsageError, WptkError, os_error_text
from wptk.signals import interrupted_by, termination_signals


def quiet_grpc_logs():
    """For a program that may run a Beam job: no gRPC C-core log lines unless GRPC_VERBOSITY asks for them. A
    local job's gRPC servers can stop with races that gRPC logs as errors ("epoll_wait error: Bad file
    descriptor") next to the job's one-line result, while every real failure reaches us as an exception. gRPC
    reads the setting when it is imported, so call this first; worker processes inherit it."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")


def beam_job_command(job):
    """How to start Beam job `job` here: `python -m pipelines.<job>` from a source checkout (as the README shows),
    else `python -m wptk.beam.<job>` (an installed wptk has no pipelines/)."""
    checkout = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pipelines")
    if os.path.isfile(os.path.join(checkout, f"{job}.py")):
        return f"python -m pipelines.{job}"
    return f"python -m wptk.beam.{job}"


def run_beam_program(module):
    """Runs a Beam job's main() (of wptk.beam.`module`) as a program: gRPC quiet, no IPython probe, and exit
    without interpreter teardown (wptk.beam.workers)."""
    import importlib
    quiet_grpc_logs()
    job = importlib.import_module(f"wptk.beam.{module}")
    from wptk.beam.workers import exit_program, skip_ipython_probe
    skip_ipython_probe()
    exit_program(job.main())


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
