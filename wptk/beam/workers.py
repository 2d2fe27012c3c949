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

Not a cost but a leak: a local worker process is started as ``python -m wptk.beam.workers`` (see
``local_runner``), which watches the driver and exits within half a second of the driver's end, however it ended
(SIGKILL included), then runs Beam's SDK harness.
"""
import atexit
import logging
import os
import runpy
import shlex
import signal
import sys
import threading
import time

FAST_EXIT_ENV = "WPTK_FAST_WORKER_EXIT"
DRIVER_ENV = "WPTK_DRIVER_PID"
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


def prepare_local_workers():
    """Before a local runner starts worker processes, which inherit this environment: they can import the wptk
    this process runs (installed or not) from any working directory, use one BLAS thread, and exit fast."""
    import wptk
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(wptk.__file__)))
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if package_root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in paths if p])
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ[FAST_EXIT_ENV] = "1"
    os.environ[DRIVER_ENV] = str(os.getpid())


def local_runner():
    """Beam's FnApiRunner whose worker processes (--direct_running_mode=multi_processing) start through this
    module, so that they end with the driver (see watch_driver); call prepare_local_workers first."""
    from apache_beam.runners.portability import fn_api_runner
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    class FnApiRunner(fn_api_runner.FnApiRunner):
        def run_pipeline(self, pipeline, options):
            # Interrupted, FnApiRunner waits for its worker processes to end before it raises (and may start one
            # while it unwinds): end them, until this process ends.
            from wptk.signals import on_interrupt
            on_interrupt(lambda: threading.Thread(target=stop_local_workers, args=(0.2,), daemon=True).start())
            return super().run_pipeline(pipeline, options)

        # FnApiRunner sets its default environment from the options when it runs a pipeline: a worker process
        # environment gets our command instead of `python -m <the SDK harness>`.
        @property
        def _default_environment(self):
            return self._environment

        @_default_environment.setter
        def _default_environment(self, environment):
            if isinstance(environment, SubprocessSDKEnvironment):
                environment = SubprocessSDKEnvironment.from_command_string(
                    f"{shlex.quote(sys.executable)} -m wptk.beam.workers")
            self._environment = environment

    return FnApiRunner()


def stop_local_workers(interval):
    """SIGTERM to every process this one started, directly or not (FnApiRunner's worker processes and the shells
    it starts them through), every `interval` seconds; Linux (/proc) only."""
    while True:
        for pid in descendants():
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        time.sleep(interval)


def descendants():
    """The processes this one started, directly or not (Linux: /proc; elsewhere none)."""
    children = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, pending = [], [os.getpid()]
    while pending:
        started = children.get(pending.pop(), [])
        found.extend(started)
        pending.extend(started)
    return found


def watch_driver(pid, interval=0.5):
    """In a local worker process: a daemon thread that ends this process as soon as process `pid` (the driver)
    is gone. A worker busy with a bucket would not notice its driver's end for a long time, and FnApiRunner
    starts workers through a shell, so their parent is not the driver and PR_SET_PDEATHSIG would not do."""
    def watch():
        while True:
            time.sleep(interval)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
    threading.Thread(target=watch, name="wptk-watch-driver", daemon=True).start()


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


if __name__ == "__main__":      # a local worker process (local_runner): Beam's SDK harness, ending with the driver
    if os.environ.get(DRIVER_ENV, "").isdigit():
        watch_driver(int(os.environ[DRIVER_ENV]))
    runpy.run_module(_HARNESS_MODULE, run_name="__main__", alter_sys=True)
