"""Showing long work to people: a progress line for counted work, a ticker for work out of sight, byte counts."""
import sys
import threading
import time


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


def format_bytes(n):
    """A byte count for people: 3 significant digits in B, KB, MB, GB, TB or PB (powers of 1000), else EB."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 999.5:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:,.3g} EB" if n < 999.5 else f"{n:,.0f} EB"
