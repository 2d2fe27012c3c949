"""Killed runs: SIGINT, SIGTERM and SIGHUP end every command cleanly (one line, status 128 + signal, no temporary or
partial file); the pipeline's worker processes end with their driver however it ends; leftovers of killed runs
are removed by the next run of the same kind, never a live run's files."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from wptk.files import host_tag

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = os.path.join(ROOT, "wptk", "data", "sample_vocab.txt")
SAMPLE = os.path.join(ROOT, "wptk", "data", "sample.txt")
WORKERS = ("--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2")


def start(module, *args, ignore_sigint=False):
    """The worktree's `python -m module args` as a child process (stdin a pipe it may block on)."""
    preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec)


def wait_for(condition, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def finish(proc, timeout=30):
    """(status, stderr lines) of a process that must end within `timeout` seconds."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"still running {timeout} s after the signal")
    return proc.returncode, err.decode("utf-8", "replace").splitlines()


def descendants(pid):
    """The processes `pid` started, directly or not (Linux /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    children.setdefault(int(f.read().rsplit(b")", 1)[1].split()[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, pending = [], [pid]
    while pending:
        started = children.get(pending.pop(), [])
        found.extend(started)
        pending.extend(started)
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------- CLI commands


@pytest.mark.parametrize("signum, status, line", [
    (signal.SIGTERM, 143, "wptk tokenize: terminated by SIGTERM"),
    (signal.SIGHUP, 129, "wptk tokenize: terminated by SIGHUP"),
    (signal.SIGINT, 130, "wptk tokenize: interrupted"),
])
def test_a_killed_tokenize_leaves_no_temporary_file(tmp_path, signum, status, line):
    out = tmp_path / "out.txt"
    proc = start("wptk", "tokenize", "--vocab", VOCAB, "-o", str(out))
    proc.stdin.write(b"It is a truth universally acknowledged.\n" * 200_000)     # more than a batch: written
    proc.stdin.flush()
    wait_for(lambda: any(p.name.startswith(".out.txt.tmp-") and p.stat().st_size for p in tmp_path.iterdir()),
             what="the temporary output")
    proc.send_signal(signum)
    assert finish(proc) == (status, [line])
    assert list(tmp_path.iterdir()) == []


def test_a_killed_create_pretraining_data_exits_with_the_signal(tmp_path):
    proc = start("wptk", "create-pretraining-data", "--input_file=/dev/stdin", f"--output_file={tmp_path}/o.tfr",
                 f"--vocab_file={VOCAB}")
    proc.stdin.write(b"a line\n")
    proc.stdin.flush()
    time.sleep(1.5)         # importing and reading: the handlers are in place before any work
    proc.send_signal(signal.SIGTERM)
    assert finish(proc) == (143, ["wptk create-pretraining-data: terminated by SIGTERM"])
    assert list(tmp_path.iterdir()) == []


def test_a_dead_process_temporaries_are_removed_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    assert not alive(dead_pid)
    left = tmp_path / f".out.txt.tmp-{dead_pid}-0-{host_tag()}"             # a killed run's (this host)
    live = tmp_path / f".out.txt.tmp-{os.getpid()}-0-{host_tag()}"         # a running process's
    other_host = tmp_path / f".out.txt.tmp-{dead_pid}-0-{'0' * 8 if host_tag() != '0' * 8 else '1' * 8}"
    other_name = tmp_path / f".other.txt.tmp-{dead_pid}-0-{host_tag()}"    # another target's
    for path in (left, live, other_host, other_name):
        path.write_bytes(b"x" * 1000)
    proc = subprocess.run([sys.executable, "-m", "wptk", "tokenize", "--vocab", VOCAB, "-o",
                           str(tmp_path / "out.txt")], cwd=ROOT, input=b"hello\n", capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.txt", live.name, other_host.name,
                                                                 other_name.name])


# ------------------------------------------------------------------------------------------------- pipelines


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory):
    """About 20 MB of distinct documents: a 2-worker run takes several seconds, long enough to stop midway."""
    lines = open(SAMPLE, encoding="utf-8").read().split("\n")
    path = tmp_path_factory.mktemp("big") / "corpus.txt"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(200):
            f.write("\n".join(f"{i} {line}" if line.strip() else line for line in lines) + "\n\n")
    return str(path)


def pipeline_flags(corpus, out):
    return (f"--input_file={corpus}", f"--output_dir={out}", f"--vocab_file={VOCAB}", "--num_buckets=4",
            "--dupe_factor=5")


def mid_work(out):
    """True once the job has spilled documents: it is reading, workers are busy."""
    return any(name.endswith(".docs") for _, _, names in os.walk(out) for name in names)


def final_outputs(out):
    return [n for n in os.listdir(out) if n.startswith("train-") or n == "summary.json"] if out.exists() else []


@pytest.mark.parametrize("signum, status, line, ignore_sigint", [
    (signal.SIGINT, 130, "interrupted", False),
    (signal.SIGINT, 130, "interrupted", True),          # a shell's background job: kill -INT still stops it
    (signal.SIGTERM, 143, "terminated by SIGTERM", False),
    (signal.SIGKILL, -9, None, False),
], ids=["SIGINT", "SIGINT-background", "SIGTERM", "SIGKILL"])
def test_killing_the_driver_ends_its_workers_and_leaves_no_output(big_corpus, tmp_path, signum, status, line,
                                                                    ignore_sigint):
    out = tmp_path / "out"
    proc = start("pipelines.create_pretraining_data", *pipeline_flags(big_corpus, out), *WORKERS,
                 ignore_sigint=ignore_sigint)
    wait_for(lambda: mid_work(out) and len(descendants(proc.pid)) >= 2, what="the workers at work")
    workers = descendants(proc.pid)
    proc.send_signal(signum)
    code, err = finish(proc, timeout=15)
    assert code == status
    assert err == ([f"python -m pipelines.create_pretraining_data: {line}"] if line else [])
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)], "worker processes outlived their driver by 10 s"
    assert final_outputs(out) == []
    # what a kill leaves is hidden, and the next run (no --overwrite) removes it
    rerun = subprocess.run([sys.executable, "-m", "pipelines.create_pretraining_data",
                            *pipeline_flags(SAMPLE, out), "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(os.listdir(out)) == sorted([f"train-0000{k}-of-00004.tfrecord" for k in range(4)]
                                             + ["summary.json"])


def test_ctrl_c_in_the_in_process_pipeline_is_one_line(big_corpus, tmp_path):
    out = tmp_path / "out"
    proc = start("pipelines.create_pretraining_data", *pipeline_flags(big_corpus, out), "--runner=FnApiRunner")
    wait_for(lambda: any(n.startswith("stats-") for _, _, names in os.walk(out) for n in names),
             what="a bucket written")      # inside Beam's bundle processing, which wraps exceptions
    proc.send_signal(signal.SIGINT)
    assert finish(proc) == (130, ["python -m pipelines.create_pretraining_data: interrupted"])
    assert not out.exists()         # the run made it, and removed it again


def test_ctrl_c_in_wptk_vocab_is_one_line(big_corpus, tmp_path):
    proc = start("wptk", "vocab", f"--input_file={big_corpus}", f"--output={tmp_path}/v.txt", "--vocab_size=500",
                 f"--keep_word_counts={tmp_path}/counts", "--input_split_mb=1")
    wait_for(lambda: any(".wptk-staging-" in n for n in os.listdir(tmp_path)), what="the counting")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    assert finish(proc) == (130, ["wptk vocab: interrupted"])
    assert os.listdir(tmp_path) == []


def test_a_dead_jobs_staging_is_removed_and_a_live_ones_refused(tmp_path):
    from wptk.beam import create_pretraining_data as cpd
    from wptk.beam.staging import prepare_output_dir
    from wptk.errors import WptkError
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for name, pid in (("dead", int(dead.stdout)), ("live", os.getpid())):
        staging = tmp_path / name / ".wptk-shuffle-1234"
        staging.mkdir(parents=True)
        (staging / "owner.json").write_text(json.dumps({"host": host_tag(), "pid": pid}))
        (staging / "train-00000-of-00002.tfrecord").write_bytes(b"x")
    prepare_output_dir(str(tmp_path / "dead"), False, [], cpd.OUTPUT_PATTERNS, cpd.STAGING_PREFIX)
    assert os.listdir(tmp_path / "dead") == []
    for overwrite in (False, True):
        with pytest.raises(WptkError, match="another run is writing into --output_dir"):
            prepare_output_dir(str(tmp_path / "live"), overwrite, [], cpd.OUTPUT_PATTERNS, cpd.STAGING_PREFIX)
    assert os.listdir(tmp_path / "live" / ".wptk-shuffle-1234")
