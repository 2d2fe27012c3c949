"""Start-up and exit costs that the processes of a job started as a program skip.

A local job's fixed costs do not shrink with its input: every second here is a second of every run. Measured on a
2-core VM, each of these took 0.3-0.7 s of a small job's 4 s:

* ``skip_ipython_probe``: Beam imports IPython, for every transform applied, only to learn whether it runs in a
  notebook.
* ``exit_program``: the driver's interpreter teardown (Beam, gRPC and numpy loaded) after the job has finished.
* ``prepare_local_workers`` + ``fast_worker_exit``: FnApiRunner stops its worker processes one after another,
  and each spends ~0.3 s of CPU tearing its interpreter down; a local worker of ours ends as soon as its SDK
  harness has finished cleanly. Workers also get single-threaded BLAS (wptk does no linear algebra; OpenBLAS's
  idle threads spin at start-up on the cores the workers need).
"""
import atexit
import logging
import os
import sys

FAST_EXIT_ENV = "WPTK_FAST_WORKER_EXIT"
_HARNESS_MODULE = "apache_beam.runners.worker.sdk_worker_main"
_HARNESS_DONE = "Python sdk harness exiting."      # what sdk_worker_main logs after a clean run, and only then


def skip_ipython_probe():
    """For a job started as a program: tells Beam there is no IPython. A program is not inside IPython (were it,
    IPython would already be imported, and it is left alone), and importing IPython just to hear no takes
    ~0.5 s of start-up."""
    sys.modules.setdefault("IPython", None)


def exit_program(code):
    """Ends the program with exit status `code` once its output is flushed, without interpreter teardown."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a broken pipe or a closed stream: nothing more can be delivered
            pass
    os._exit(code)


def prepare_local_workers(package_root):
    """Before a local runner starts worker processes, which inherit this environment: they can import
    `package_root`'s packages from any working directory, use one BLAS thread, and exit fast."""
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if package_root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in paths if p])
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ[FAST_EXIT_ENV] = "1"


class _HarnessOutcome(logging.Filter):
    """Notes whether the SDK harness has logged its clean end (it logs through the `__main__` logger)."""
    clean = False

    def filter(self, record):
        if record.getMessage() == _HARNESS_DONE:
            _HarnessOutcome.clean = True
        return True


def _exit_after_clean_harness():
    failed = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)   # an uncaught exception
    if _HarnessOutcome.clean and failed is None:
        exit_program(0)


def fast_worker_exit():
    """In a local worker process that `prepare_local_workers` started (and nowhere else): once the SDK harness
    has finished cleanly, exit without interpreter teardown. atexit runs the last-registered function first, so
    this runs before the teardown hooks of modules imported earlier. After an uncaught exception the normal exit,
    with its status, runs instead (the harness logs its clean end as the last thing it does, so nothing else can
    fail after it). Idempotent."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if os.environ.get(FAST_EXIT_ENV) != "1" or getattr(spec, "name", None) != _HARNESS_MODULE:
        return False
    if not any(isinstance(f, _HarnessOutcome) for f in logging.getLogger("__main__").filters):
        logging.getLogger("__main__").addFilter(_HarnessOutcome())
        atexit.register(_exit_after_clean_harness)
    return True
