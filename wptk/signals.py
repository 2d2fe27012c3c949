"""SIGINT, SIGTERM and SIGHUP as exceptions, so that a stopped command unwinds (`finally` blocks, AtomicFile's
and the jobs' clean-up) and leaves no temporary or partial file; hooks for what must stop first (worker
processes)."""
import contextlib
import signal
import threading


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
