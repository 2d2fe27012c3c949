"""Running a command (wptk.program): run_guarded's one-line errors and beam_log_aside's handling of Beam's log lines."""
import errno
import io
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from wptk.program import available_memory, beam_log_aside, quiet_grpc_logs, run_guarded
from wptk.signals import Terminated
from wptk.progress import Ticker
from wptk.errors import WptkError


def fail_with(error):
    def fn():
        raise error
    return fn


@pytest.mark.parametrize("error, status, message", [
    (WptkError("bad flag"), 1, "prog: error: bad flag\n"),
    (OSError(errno.ENOSPC, "No space left on device", "out/x.tfrecord"), 1,
     "prog: error: out/x.tfrecord: No space left on device\n"),
    (OSError(errno.ENOSPC, "No space left on device"), 1, "prog: error: No space left on device\n"),
    (KeyboardInterrupt(), 130, "prog: interrupted\n"),
    (Terminated(signal.SIGTERM), 143, "prog: terminated by SIGTERM\n"),
    (Terminated(signal.SIGHUP), 129, "prog: terminated by SIGHUP\n"),
    (MemoryError(), 1, "prog: error: out of memory: the input, or the sizes the flags ask for, need more memory "
                       "than there is (smaller flag values or a smaller input)\n"),
    (OverflowError("int too large"), 1, "prog: error: a number is too large to handle: check the flags' values "
                                        "and the input's numbers\n"),
    (RecursionError(), 1, "prog: error: the input is nested too deeply to handle (simplify it)\n"),
])
def test_run_guarded_turns_errors_into_one_line(capsys, error, status, message):
    assert run_guarded("prog", fail_with(error)) == status
    assert capsys.readouterr().err == message


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_ends_the_command_cleanly_even_when_a_library_rewraps_it(capsys, signum):
    """A library (Beam) that catches the interruption and raises another exception still ends as the signal."""
    cleaned = []

    def job():
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)
        except KeyboardInterrupt as e:
            cleaned.append(type(e))
            raise RuntimeError(f"{type(e).__name__} [while running 'Stage']") from None

    assert run_guarded("prog", job) == 128 + signum
    assert cleaned and capsys.readouterr().err.count("\n") == 1
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL      # the handlers are restored


def test_run_guarded_lets_a_bug_show_its_traceback():
    with pytest.raises(ZeroDivisionError):
        run_guarded("prog", fail_with(ZeroDivisionError()))


def noisy_job(error=None):
    """What a failing local Beam job does: its runner and workers write to fd 2, a thread dies."""
    os.write(2, b"INFO:beam:noise\n")
    thread = threading.Thread(target=fail_with(RuntimeError("worker exited")), name="run_worker")
    thread.start()
    thread.join()
    print("our own message", file=sys.stderr)
    if error is not None:
        raise error


@pytest.fixture
def python_thread_hook(monkeypatch):
    """Python's own threading.excepthook (which prints to sys.stderr), not pytest's, while a test runs."""
    monkeypatch.setattr(threading, "excepthook", threading.__excepthook__)


def test_beam_log_aside_keeps_beam_lines_and_thread_tracebacks_off_the_terminal(capfd, python_thread_hook):
    with beam_log_aside("prog"):
        noisy_job()
    assert capfd.readouterr().err == "our own message\n"
    os.write(2, b"after\n")         # fd 2 is the terminal again
    assert capfd.readouterr().err == "after\n"
    assert threading.excepthook is threading.__excepthook__


def test_beam_log_aside_shows_the_log_after_an_unexplained_failure(capfd):
    with pytest.raises(RuntimeError):
        with beam_log_aside("prog"):
            noisy_job(RuntimeError("the pipeline ended in state FAILED"))
    err = capfd.readouterr().err
    assert err.startswith("our own message\nprog: Beam's last log lines:\n  INFO:beam:noise\n")
    assert "Exception in thread run_worker:" in err and "RuntimeError: worker exited" in err


@pytest.mark.parametrize("error", [WptkError("one line says all"), KeyboardInterrupt()])
def test_beam_log_aside_shows_no_log_after_a_user_error_or_an_interrupt(capfd, python_thread_hook, error):
    with pytest.raises(type(error)):
        with beam_log_aside("prog"):
            noisy_job(error)
    assert capfd.readouterr().err == "our own message\n"


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_ticker_redraws_its_status_on_a_terminal_until_stopped():
    states = iter(["", "read 1.0 of 2.0 MB"] + ["read 2.0 of 2.0 MB"] * 1000)
    terminal = FakeTerminal()
    with Ticker("job", lambda: next(states), stream=terminal, interval=0.01) as ticker:
        time.sleep(0.2)
    lines = terminal.getvalue().split("\r")[1:]
    assert lines[0].startswith("job: ") and lines[0].endswith(" s\x1b[K") and "MB" not in lines[0]
    assert lines[1].startswith("job: read 1.0 of 2.0 MB, ")
    assert lines[-1].startswith("job: read 2.0 of 2.0 MB, ") and lines[-1].endswith("\x1b[K\n")
    assert not ticker.thread.is_alive()


@pytest.mark.parametrize("stream, enabled", [(io.StringIO(), None), (FakeTerminal(), False)])
def test_ticker_is_silent_off_a_terminal_or_when_disabled(stream, enabled):
    with Ticker("job", lambda: "state", stream=stream, interval=0.01, enabled=enabled) as ticker:
        time.sleep(0.05)
    assert stream.getvalue() == "" and ticker.thread is None


@pytest.mark.parametrize("files, expected", [
    ({"/proc/meminfo": "MemTotal: 4000 kB\nMemAvailable: 3000 kB\n"}, 3000 * 1024),
    ({"/proc/meminfo": "MemAvailable: 3000 kB\n", "/sys/fs/cgroup/memory.max": "max\n",
      "/sys/fs/cgroup/memory.current": "5\n"}, 3000 * 1024),                        # v2 without a limit
    ({"/proc/meminfo": "MemAvailable: 3000 kB\n", "/sys/fs/cgroup/memory.max": "2000000\n",
      "/sys/fs/cgroup/memory.current": "500000\n"}, 1500000),                        # a container's v2 limit
    ({"/proc/meminfo": "MemAvailable: 3000 kB\n", "/sys/fs/cgroup/memory/memory.limit_in_bytes": "1000000\n",
      "/sys/fs/cgroup/memory/memory.usage_in_bytes": "1200000\n"}, 0),                # v1, over its limit
    ({}, None),
])
def test_available_memory_is_the_smaller_of_the_system_and_the_container(monkeypatch, files, expected):
    import wptk.program
    monkeypatch.setattr(wptk.program, "_read", files.get)
    assert available_memory() == expected


def test_available_memory_on_this_machine():
    """The real files, read here independently: MemAvailable, lowered by a cgroup memory limit where one is set.
    Other processes allocate meanwhile, so the figures agree within 5% or 256 MiB."""
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        assert available_memory() is None or available_memory() >= 0
        return

    def expected():
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
        room = int(fields["MemAvailable"].split()[0]) * 1024
        for limit, usage in [("memory.max", "memory.current"),
                             ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")]:
            limit, usage = Path("/sys/fs/cgroup", limit), Path("/sys/fs/cgroup", usage)
            if limit.exists() and usage.exists():
                if limit.read_text().strip() != "max":
                    room = min(room, max(0, int(limit.read_text()) - int(usage.read_text())))
                break
        return room

    before, room, after = expected(), available_memory(), expected()
    tolerance = max(256 << 20, 0.05 * max(before, after))
    assert min(before, after) - tolerance <= room <= max(before, after) + tolerance, (before, room, after)


def test_grpc_log_lines_are_off_unless_asked_for(monkeypatch):
    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)
    quiet_grpc_logs()
    assert os.environ["GRPC_VERBOSITY"] == "NONE"
    monkeypatch.setenv("GRPC_VERBOSITY", "ERROR")
    quiet_grpc_logs()
    assert os.environ["GRPC_VERBOSITY"] == "ERROR"
