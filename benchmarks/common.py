"""Helpers shared by the benchmark scripts only (run them as `python benchmarks/NAME.py` from the repository root);
those shared with the tests (the shared data, the reference) are in wptk.testing."""
import compileall
import os
import platform
import time
from importlib import metadata
from pathlib import Path

__all__ = ["REPO_ROOT", "OtherCpu", "compile_bytecode", "cpu_model", "version"]

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
