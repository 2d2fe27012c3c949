"""Helpers shared by the benchmark scripts only (run them as `python benchmarks/NAME.py` from the repository root);
those shared with the tests (the shared data, the reference) are in wptk.testing."""
import compileall
import os
import platform
import time
from importlib import metadata
from pathlib import Path

__all__ = ["REPO_ROOT", "OtherCpu", "allowed_cpus", "compile_bytecode", "cpu_model", "set_process_affinity",
           "version", "wait_idle"]

REPO_ROOT = Path(__file__).resolve().parents[1]     # the benchmarks' checkout


def cpu_model():
    """The CPU's model name (for the machine line every benchmark prints)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compile_bytecode():
    """Writes the bytecode of the repository's Python packages (wptk, pipelines) into their __pycache__, as pip
    does for an installed package such as the reference's, and as any run does unless PYTHONDONTWRITEBYTECODE is
    set. Without it, a timed run with that variable set would also compile wptk's modules from source (~40 ms).
    Returns a line for the benchmark's header."""
    ok = all(compileall.compile_dir(str(REPO_ROOT / pkg), quiet=1) for pkg in ("wptk", "pipelines"))
    return ("bytecode: wptk and pipelines compiled before the timed runs (the reference's was compiled by pip)"
            if ok else "bytecode: compiling wptk or pipelines failed; their runs include compiling from source")


def version(dist):
    """An installed distribution's version, or "not installed"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


class OtherCpu:
    """CPU (in cores) that processes other than this one and its children used while the block ran.

    From /proc/stat minus our own CPU time; a busy neighbour on a 2-core machine skews the numbers next to it.
    `cores` is None where /proc/stat is missing.
    """

    def __enter__(self):
        self.cores = None
        self._start = self._sample()
        return self

    def __exit__(self, *exc):
        end = self._sample()
        if self._start is not None and end is not None:
            (w0, busy0, own0), (w1, busy1, own1) = self._start, end
            self.cores = max(0.0, ((busy1 - busy0) - (own1 - own0)) / max(w1 - w0, 1e-9))
        return False

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        t = os.times()
        return (time.perf_counter(), (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK"),
                t.user + t.system + t.children_user + t.children_system)


def allowed_cpus():
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def set_process_affinity(cpus):
    """Sets the CPU affinity of every thread of this process (sched_setaffinity(0) alone covers one thread)."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    ok = False
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cpus)
            ok = True
        except OSError:
            pass
    return ok


def wait_idle(timeout, threshold=0.15):
    """Waits (up to `timeout` s) for a second in which other processes use under `threshold` cores."""
    deadline = time.monotonic() + timeout
    while True:
        with OtherCpu() as m:
            time.sleep(1.0)
        if m.cores is None or m.cores < threshold:
            return True
        if time.monotonic() >= deadline:
            print("  (machine still busy after %.0f s: others use %.2f cores)" % (timeout, m.cores))
            return False
