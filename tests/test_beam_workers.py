"""The Beam pipeline's local runs: a worker's memory per bucket, progress from the shuffle directory, worker
processes that exit fast only after a clean harness, their inherited settings, and Beam's IPython probe skipped."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("apache_beam", reason="the pipeline needs Apache Beam (pip install -e '.[beam]')")
pytest.importorskip("regex", reason="the pipeline needs the regex package (pip install -e '.[beam]')")

from wptk.beam import create_pretraining_data as cpd  # noqa: E402
from wptk.beam import workers  # noqa: E402
from wptk.beam.testing import BUCKETS, run  # noqa: E402
from wptk.testing import REPO_ROOT  # noqa: E402


def test_a_worker_frees_its_word_cache_after_tokenizing_each_bucket(tmp_path, corpus, monkeypatch):
    """The tokenizer's word cache grows with the distinct words it has seen (up to ~40 MB). Freed after every
    bucket, as the command frees it after tokenizing, it leaves a worker's memory set by its bucket, not by the
    number of buckets the worker has tokenized, which grows with the corpus."""
    from wptk import pretraining
    from wptk.tokenization import FullTokenizer

    events = []
    tokenize, release = pretraining.documents_from_lines, FullTokenizer.release_memory
    monkeypatch.setattr(pretraining, "documents_from_lines",
                        lambda *args, **kwargs: events.append("tokenize") or tokenize(*args, **kwargs))
    monkeypatch.setattr(FullTokenizer, "release_memory", lambda self: events.append("free") or release(self))
    run(tmp_path, corpus)
    assert events == ["tokenize", "free"] * BUCKETS


def test_local_progress_reads_the_shuffle_directory(tmp_path):
    shuffle = tmp_path / ".wptk-shuffle-x"
    assert cpd.local_progress(shuffle, 3_000_000, 4) == ""          # before the first spill
    shuffle.mkdir()
    (shuffle / "a.docs").write_bytes(b"x" * 1_000_000)
    (shuffle / "b.docs").write_bytes(b"x" * 500_000)
    (shuffle / ".stats-00001.json.tmp-1").write_text("{}")          # a bucket still being written
    assert cpd.local_progress(shuffle, 3_000_000, 4) == "read 1.5 of 3.0 MB, 0 of 4 buckets written"
    (shuffle / "c.docs").write_bytes(b"x" * 1_600_000)               # spill records are a little larger
    (shuffle / "stats-00001.json").write_text("{}")
    (shuffle / "stats-00003.json").write_text("{}")
    assert cpd.local_progress(shuffle, 3_000_000, 4) == "read 3.0 of 3.0 MB, 2 of 4 buckets written"


def test_a_program_skips_beams_ipython_probe(monkeypatch):
    from apache_beam.utils.interactive_utils import is_in_ipython
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    workers.skip_ipython_probe()
    assert sys.modules["IPython"] is None and is_in_ipython() is False
    inside = object()                       # inside IPython, IPython is imported already: it stays
    monkeypatch.setitem(sys.modules, "IPython", inside)
    workers.skip_ipython_probe()
    assert sys.modules["IPython"] is inside


# A stand-in for Beam's SDK worker process: its __main__ is the harness module, then `script` runs.
_FAKE_WORKER = """
import atexit, logging, sys, types
sys.modules["__main__"].__spec__ = types.SimpleNamespace(name="apache_beam.runners.worker.sdk_worker_main")
atexit.register(print, "teardown ran")      # registered first, so it runs after fast_worker_exit's hook
from wptk.beam import workers
assert workers.fast_worker_exit()
print("job output")
{script}
"""


_HARNESS_ENDS = 'logging.getLogger("__main__").warning("Python sdk harness exiting.")'


@pytest.mark.parametrize("script, status, teardown", [
    (_HARNESS_ENDS, 0, False),                              # a clean end: no teardown
    ("", 0, True),                                          # the harness did not log its end
    (_HARNESS_ENDS + "\nraise SystemError('late')", 1, True),   # a failure after it: the normal exit and status
])
def test_a_local_worker_exits_without_teardown_only_after_a_clean_harness(script, status, teardown):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), WPTK_FAST_WORKER_EXIT="1")
    proc = subprocess.run([sys.executable, "-c", _FAKE_WORKER.format(script=script)], capture_output=True, env=env,
                          cwd=REPO_ROOT)
    assert proc.returncode == status, proc.stderr.decode()
    out = proc.stdout.decode()
    assert out.startswith("job output\n")                  # flushed before exiting
    assert ("teardown ran" in out) == teardown


def test_a_program_exits_with_its_status_after_flushing_even_with_a_closed_stream():
    script = ("import sys\nfrom wptk.beam.workers import exit_program\nprint('summary', end='')\n"
              "sys.stderr.close()\nexit_program(3)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=REPO_ROOT,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert (proc.returncode, proc.stdout) == (3, b"summary")


def test_fast_worker_exit_needs_a_worker_started_by_the_pipeline(monkeypatch):
    monkeypatch.setenv(workers.FAST_EXIT_ENV, "1")
    assert not workers.fast_worker_exit()            # pytest's __main__ is not the harness
    monkeypatch.delenv(workers.FAST_EXIT_ENV)
    harness = type("Spec", (), {"name": "apache_beam.runners.worker.sdk_worker_main"})()
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", harness, raising=False)
    assert not workers.fast_worker_exit()            # a harness the pipeline did not start


def test_local_workers_inherit_their_settings(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "elsewhere")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv(workers.FAST_EXIT_ENV, raising=False)
    workers.prepare_local_workers()
    workers.prepare_local_workers()
    assert os.environ["PYTHONPATH"] == os.pathsep.join([str(REPO_ROOT), "elsewhere"])
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ[workers.FAST_EXIT_ENV] == "1"


@pytest.mark.parametrize("job, args", [
    ("create_pretraining_data", ["--vocab_file=wptk/data/sample_vocab.txt", "--output_dir=unused"]),
    ("word_count", ["--output=unused"]),
])
def test_the_jobs_run_as_modules_of_the_installed_package(job, args, monkeypatch):
    """Without a checkout (pipelines/ is not installed) `python -m wptk.beam.<job>` is the job's command, and its
    messages name it so."""
    proc = subprocess.run([sys.executable, "-m", f"wptk.beam.{job}", "--input_file=missing.txt", *args,
                           "--runner=FnApiRunner"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert (proc.returncode, proc.stderr) == (1, f"python -m pipelines.{job}: error: input file not found: "
                                                 "missing.txt\n")
    from wptk.program import beam_job_command
    assert beam_job_command(job) == f"python -m pipelines.{job}"          # this checkout
    monkeypatch.setattr(os.path, "isfile", lambda path: False)          # an installed wptk: no pipelines/ beside it
    assert beam_job_command(job) == f"python -m wptk.beam.{job}"
