"""Scaling, memory and throughput of the Beam pipeline (pipelines/create_pretraining_data.py).

    python benchmarks/bench_pipeline.py [--sizes 20 80] [--bucket-mb 1.25] [--repeats 2] [--workdir DIR]
                                        [--engines processes [threads]] [--skip-reference]

Inputs, built from ../shared/data/corpus/en/* (or $WPTK_SHARED_DATA): the three files joined with a blank line
between them and repeated until the target size (MB = 10^6 bytes), cut at a document boundary. Each repetition
after the first appends " [copy k]" to the first line of every document, so that documents stay distinct: the
pipeline puts identical documents into the same bucket, and exact duplicates would make buckets uneven.

Runs (each a fresh process, timed from start to exit, importing wptk and pipelines from bytecode compiled first;
outputs go to --workdir, a tmpfs by default so that disk bandwidth does not decide the result, and are deleted
after each run). The machine may be shared: every round runs every configuration once, interleaved, and each
configuration reports its best round:

  pipeline   python -m pipelines.create_pretraining_data --runner=DirectRunner --direct_num_workers=W on Beam's
             FnApiRunner, with --num_buckets = input MB / --bucket-mb, so that a bucket holds the same amount of
             text at every size; for each engine (--engines):
               processes  --direct_running_mode=multi_processing: W worker processes, everything pickled and
                          shipped to them as to remote workers
               threads    --direct_running_mode=multi_threading: W worker threads in the job's process (wptk's
                          kernels release the GIL), no worker start-up
  wptk       wptk create-pretraining-data on the same input (one process), and on the fixed-cost runs' tiny input
  control    two wptk create-pretraining-data processes at once, each on half of the largest input: how far this
             machine itself scales from one process to two on this work (the scaling goal's ceiling)
  fixed cost the pipeline with 2 workers on a tiny input (50 KB), with each size's bucket count: its start-up,
             worker start and stop, bucket files and summary, which no input size changes
  reference  python -m bert.create_pretraining_data (bert-tensorflow 1.0.4) on a 4 MB sample of the same corpus
             (every n-th document of the three texts: the same mix of short verses, prose and docs, whose instances
             per MB differ ~3x, so the rates compare like with like), once per round like every other job
The single-process jobs (wptk create-pretraining-data and the reference) are pinned to the same one core, so the
per-core comparisons compare one core with one core; the pipeline and the control pair have both cores.

All at the reference's default flags (max_seq_length 128, max_predictions_per_seq 20, dupe_factor 10,
masked_lm_prob 0.15, short_seq_prob 0.1, seed 12345), uncased BERT vocab.

Memory: the kernel's own peak RSS of each process (VmHWM in /proc/PID/status, a high-water mark, so nothing
between two reads is missed), read every 20 ms for every process in the run's process tree while it lives; a
worker is a python process running Beam's SDK harness (started as `python -m wptk.beam.workers`, or as
apache_beam's sdk_worker_main); "worker peak RSS" is the largest peak among them. The
driver (FnApiRunner; documents reach their bucket through spill files, only references through the driver) is
reported separately. As a check, os.wait4's ru_maxrss of the driver (the kernel's peak of the driver and every
descendant it reaped) must not exceed the largest VmHWM read; the run says so when it does by over 1 MiB (growth
in a process's last 20 ms). With threads, the one process's peak stands for the workers' (it holds both).

Goals, printed with PASS/FAIL for each engine:
  scaling     end-to-end MB/s with 2 workers >= 1.8x with 1 worker (on the largest size); also marginal MB/s,
              from the difference between the largest and the smallest run, which cancels fixed costs
  memory      worker peak RSS at the largest size within 10% of that at the smallest size
  vs wptk     pipeline MB/s per core (2 workers: MB/s / 2) >= 0.5 x wptk create-pretraining-data MB/s, at
              each size
  vs ref      pipeline MB/s per core >= 50 x the reference's MB/s
Each per-core goal also prints its bound. Two workers take at least the fixed cost plus half of the work that wptk
create-pretraining-data itself does on that input (its run less its run on the tiny input): the pipeline runs the
same kernels on the same documents, and two workers can at best halve that work. A bound below the goal means that
only a smaller fixed cost (Beam's and the interpreters' start-up, mostly) could meet it on this machine.
The exit status is 1 if the outputs of any two pipeline runs on the same input differ (workers and engines must
not change a byte), else 0.
"""
import argparse
import functools
import hashlib
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import REPO_ROOT, compile_bytecode, cpu_model, version
from pipeline_goals import ENGINES, TINY_MB, fixed_label, pipeline_label, print_goals
from wptk.testing import shared_data

MB = 1e6
FLAGS = ["--do_lower_case=True", "--max_seq_length=128", "--max_predictions_per_seq=20", "--random_seed=12345",
         "--dupe_factor=10", "--masked_lm_prob=0.15", "--short_seq_prob=0.1"]
CHILD_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1",
             "PYTHONPATH": str(REPO_ROOT)}
REFERENCE_MB = 4


# ---------------------------------------------------------------------------------------------- machine & data


def corpus_documents(corpus_dir):
    """The documents of the three English corpora, in file order."""
    parts = []
    for name in ("austen.txt", "bible_kjv.txt", "python_docs.txt"):
        data = (corpus_dir / name).read_bytes()
        parts.append(data.rstrip(b"\n") + b"\n")
    return [d for d in re.split(rb"\n(?:[ \t\r]*\n)+", b"\n".join(parts)) if d.strip()]


def sample_corpus(corpus_dir, target, path):
    """About `target` bytes of the corpus with its mix of texts: every n-th document."""
    documents = corpus_documents(corpus_dir)
    step = max(1, round(sum(len(d) + 2 for d in documents) / target))
    path.write_bytes(b"\n\n".join(documents[::step]) + b"\n")
    return path, step


def build_corpus(corpus_dir, target, path):
    documents = corpus_documents(corpus_dir)
    out, size, copy = [], 0, 0
    while size < target:
        for doc in documents:
            if copy:
                first, _, rest = doc.partition(b"\n")
                doc = first + b" [copy %d]" % copy + (b"\n" + rest if rest else b"")
            out.append(doc)
            size += len(doc) + 2
            if size >= target:
                break
        copy += 1
    data = b"\n\n".join(out) + b"\n"
    path.write_bytes(data[:data.rfind(b"\n\n", 0, int(target)) + 1] if len(data) > target else data)
    return path


# ---------------------------------------------------------------------------------------------- measured runs


def is_worker(cmdline):
    """Whether a process's command line is a local Beam worker's: python running the SDK harness (wptk starts it
    as `python -m wptk.beam.workers`); the `sh -c` that starts it does not count."""
    return ("python" in os.path.basename(cmdline[0]) if cmdline else False) and any(
        mark in " ".join(cmdline) for mark in ("wptk.beam.workers", "sdk_worker_main"))


def vm_hwm(pid):
    """The kernel's peak resident set size of a live process (VmHWM), in bytes; None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


class TreeMonitor(threading.Thread):
    """The kernel's peak RSS (VmHWM) of each process in a process tree, read until stopped."""

    def __init__(self, pid, interval=0.02):
        super().__init__(daemon=True)
        import psutil
        self.psutil, self.root, self.interval = psutil, psutil.Process(pid), interval
        self.peaks, self.workers, self.stopped = {}, set(), threading.Event()

    def run(self):
        ps = self.psutil
        while not self.stopped.is_set():
            try:
                procs = [self.root] + self.root.children(recursive=True)
            except ps.Error:
                break
            for proc in procs:
                try:
                    rss = vm_hwm(proc.pid)
                    if rss is None:
                        continue
                    if proc.pid not in self.peaks and proc.pid != self.root.pid:
                        cmdline = proc.cmdline()    # workers run under `sh -c`: count the python process only
                        if is_worker(cmdline):
                            self.workers.add(proc.pid)
                    self.peaks[proc.pid] = max(self.peaks.get(proc.pid, 0), rss)
                except ps.Error:
                    pass
            self.stopped.wait(self.interval)

    def stop(self):
        self.stopped.set()
        self.join()
        return {
            "driver": self.peaks.get(self.root.pid, 0),
            "workers": sorted((self.peaks[p] for p in self.workers), reverse=True),
        }


def run_measured(cmd, log_path, monitor=False, core=None):
    """(wall seconds, cpu seconds of the process and the children it reaped, exit code, memory, log text).

    With `core`, the process (and every thread and child it starts) is pinned to that one core."""
    env = dict(os.environ, **CHILD_ENV)
    pin = None if core is None else (lambda: os.sched_setaffinity(0, {core}))
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=REPO_ROOT, preexec_fn=pin)
        mon = TreeMonitor(proc.pid) if monitor else None
        if mon:
            mon.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    tree_peak = usage.ru_maxrss * 1024       # the kernel's: the driver and every descendant it reaped
    memory = mon.stop() if mon else {"driver": tree_peak, "workers": []}
    read = max([memory["driver"]] + memory["workers"]) if mon else tree_peak
    if tree_peak - read > 2**20:        # pages touched in a process's last 20 ms, or by one missed entirely
        print(f"  (memory check: wait4 peak {tree_peak / 2**20:.1f} MiB, largest VmHWM read "
              f"{read / 2**20:.1f} MiB: a process grew after its last read)")
    return seconds, usage.ru_utime + usage.ru_stime, code, memory, Path(log_path).read_text(errors="replace")


def digest_dir(directory):
    h = hashlib.sha256()
    for p in sorted(Path(directory).glob("train-*")):
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()





def pipeline_cmd(inp, out, vocab, workers, buckets, engine):
    return [sys.executable, "-m", "pipelines.create_pretraining_data", f"--input_file={inp}", f"--output_dir={out}",
            f"--vocab_file={vocab}", *FLAGS, f"--num_buckets={buckets}", "--runner=DirectRunner",
            f"--direct_running_mode={ENGINES[engine]}", f"--direct_num_workers={workers}"]


def cli_cmd(inp, vocab, out):
    return [sys.executable, "-m", "wptk", "create-pretraining-data", f"--input_file={inp}", f"--output_file={out}",
            f"--vocab_file={vocab}", *FLAGS, "--quiet"]


def run_concurrently(cmds, log_dir):
    """Wall seconds until all of `cmds`, started together, have exited; None if one failed."""
    env = dict(os.environ, **CHILD_ENV)
    logs = [open(log_dir / f"pair{i}.log", "wb") for i in range(len(cmds))]
    try:
        t0 = time.perf_counter()
        procs = [subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                  cwd=REPO_ROOT) for c, log in zip(cmds, logs)]
        codes = [p.wait() for p in procs]
        seconds = time.perf_counter() - t0
    finally:
        for log in logs:
            log.close()
    return seconds if not any(codes) else None


def split_in_two(path, out_a, out_b):
    """Writes the documents of `path` into two files of about half its size each (cut at a blank line)."""
    data = path.read_bytes()
    cut = data.find(b"\n\n", len(data) // 2)
    cut = len(data) if cut < 0 else cut + 1
    out_a.write_bytes(data[:cut])
    out_b.write_bytes(data[cut:].lstrip(b"\n"))


def show_cmd(cmd, work):
    text = " ".join(shlex.quote(c) for c in cmd)
    return text.replace(sys.executable, "python").replace(str(work), "$WORK").replace(str(REPO_ROOT) + "/", "")


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[20, 80], help="input sizes in MB (default 20 80)")
    p.add_argument("--bucket-mb", type=float, default=1.25, help="input MB per bucket (default 1.25)")
    p.add_argument("--repeats", type=int, default=2, help="runs of each timed pipeline/wptk job; best wall time")
    p.add_argument("--workdir", help="inputs and outputs (default: a new directory in /dev/shm, else $TMPDIR)")
    p.add_argument("--engines", nargs="+", choices=sorted(ENGINES), default=["processes"],
                   help="local FnApiRunner engines to measure (default: processes, the way remote workers run)")
    p.add_argument("--skip-reference", action="store_true", help="do not run the reference (~30-60 s)")
    return p.parse_args(argv)


def print_header(work):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {cpu_model()}, {cores} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}; "
          "load average at start "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"python {platform.python_version()}, apache-beam {version('apache-beam')}, wptk {version('wptk')}, "
          f"bert-tensorflow {version('bert-tensorflow')}, tensorflow {version('tensorflow')}")
    print(f"command: {' '.join(shlex.quote(a) for a in [sys.executable.rsplit('/', 1)[-1]] + sys.argv)}")
    print(f"workdir: {work} (inputs and outputs){' - tmpfs' if str(work).startswith('/dev/shm') else ''}")
    print(compile_bytecode())


def build_jobs(args, root, work, vocab, inputs, input_mb, buckets_of, core):
    """[(label, command, input MB, output dir or None, monitor, core to pin to or None)]: each round runs them all.
    Also returns the reference's sampling step (None without it)."""
    sizes, jobs, step = sorted(inputs), [], None
    for engine in args.engines:
        for size in sizes:
            for workers in (1, 2):
                out = work / f"out_{engine}_{size:g}_{workers}"
                jobs.append((pipeline_label(engine, size, workers, buckets_of[size]),
                             pipeline_cmd(inputs[size], out, vocab, workers, buckets_of[size], engine),
                             input_mb[size], out, True, None))
    # Fixed cost: the 2-worker job on a tiny input, with each size's bucket count (start-up, worker start and
    # stop, writing the bucket files, the summary); and wptk's on it (start-up, vocab).
    tiny = build_corpus(root / "corpus" / "en", TINY_MB * MB, work / "corpus_tiny.txt")
    for engine in args.engines:
        for buckets in sorted({buckets_of[s] for s in sizes}):
            out = work / f"out_{engine}_tiny_{buckets}"
            jobs.append((fixed_label(engine, 2, buckets), pipeline_cmd(tiny, out, vocab, 2, buckets, engine),
                         TINY_MB, out, False, None))
    cli = functools.partial(cli_cmd, vocab=vocab, out=work / "wptk.tfrecord")
    for size in sizes:
        jobs.append((f"wptk {size:g}MB", cli(inputs[size]), input_mb[size], None, False, core))
    jobs.append(("wptk tiny", cli(tiny), TINY_MB, None, False, core))
    if not args.skip_reference:
        sample, step = sample_corpus(root / "corpus" / "en", REFERENCE_MB * MB, work / "corpus_sample.txt")
        jobs.append(("reference", [sys.executable, "-m", "bert.create_pretraining_data", f"--input_file={sample}",
                                   f"--output_file={work / 'wptk.tfrecord'}", f"--vocab_file={vocab}", *FLAGS],
                     sample.stat().st_size / MB, None, False, core))
    return jobs, step


def run_round(jobs, work, rows, digests, failures):
    """Runs every job once, keeping in `rows` each label's least wall time (with its cpu and job seconds), all wall
    times and the largest memory, and in `digests` the digests of its output directories."""
    for label, cmd, mb, out, monitor, pin in jobs:
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
        wall, cpu, code, memory, log = run_measured(cmd, work / "run.log", monitor, pin)
        if code != 0:
            print(f"{label}: FAILED (exit {code})\n  {show_cmd(cmd, work)}\n" + log[-3000:])
            failures.append(f"{label} failed")
            continue
        if out is not None:
            digests.setdefault(label, set()).add(digest_dir(out))
            shutil.rmtree(out, ignore_errors=True)
        (work / "wptk.tfrecord").unlink(missing_ok=True)
        job = re.search(r" in ([\d.]+) s on ", log)
        row = rows.setdefault(label, {"wall": float("inf"), "mb": mb, "cmd": cmd, "walls": [],
                                      "memory": {"driver": 0, "workers": []}})
        row["walls"].append(wall)
        if wall < row["wall"]:
            row.update(wall=wall, cpu=cpu, job=float(job.group(1)) if job else None)
        row["memory"]["driver"] = max(row["memory"]["driver"], memory["driver"])
        if sum(memory["workers"]) > sum(row["memory"]["workers"]):
            row["memory"]["workers"] = memory["workers"]


def run_control_pair(pair, work, rows, big_mb):
    """Control: two independent single-process jobs at once, each on half of the largest input, against one on
    all of it: how far this machine itself scales from one process to two on this work."""
    seconds = run_concurrently(pair, work)
    for f in work.glob("half_*.tfrecord"):
        f.unlink()
    if seconds:
        row = rows.setdefault("wptk pair", {"wall": float("inf"), "mb": big_mb, "walls": []})
        row["walls"].append(seconds)
        row["wall"] = min(row["wall"], seconds)


def print_runs(jobs, rows, digests, repeats, work, failures):
    """One line per job: least wall time, throughput, cpu, memory, all wall times; and its command."""
    for label, cmd, mb, out, monitor, pin in jobs:
        row = rows.get(label)
        if not row:
            continue
        if len(digests.get(label, ())) > 1:
            print(f"{label}: outputs of the {repeats} runs DIFFER")
            failures.append(f"{label} not reproducible")
        row["digest"] = next(iter(digests[label])) if len(digests.get(label, ())) == 1 else None
        workers = row["memory"]["workers"]
        memory_text = (f", peak RSS workers {' / '.join(f'{w / 2**20:.0f}' for w in workers)} MiB, driver "
                       f"{row['memory']['driver'] / 2**20:.0f} MiB" if workers else
                       f", peak RSS {row['memory']['driver'] / 2**20:.0f} MiB")
        job_text = f" (job {row['job']:.1f} s)" if row.get("job") else ""
        print(f"{label}: {row['wall']:.1f} s{job_text}, {mb / row['wall']:.2f} MB/s end to end, "
              f"cpu {row['cpu']:.1f} s{memory_text}; all runs {' '.join(f'{w:.1f}' for w in row['walls'])} s")
        print(f"  {show_cmd(cmd, work)}")


def measure(args, root, work, vocab, failures):
    """Builds the inputs, runs every job --repeats times and prints the runs; returns (rows, input MB by size,
    buckets by size)."""
    sizes = sorted(args.sizes)
    rows, input_mb, inputs = {}, {}, {}
    for size in sizes:
        inputs[size] = build_corpus(root / "corpus" / "en", size * MB, work / f"corpus_{size:g}mb.txt")
        input_mb[size] = inputs[size].stat().st_size / MB
    print("inputs: " + ", ".join(f"{inputs[s].name} {input_mb[s]:.1f} MB" for s in sizes))
    print()
    big = sizes[-1]
    buckets_of = {s: max(1, round(input_mb[s] / args.bucket_mb)) for s in sizes}
    half_a, half_b = work / "half_a.txt", work / "half_b.txt"
    split_in_two(inputs[big], half_a, half_b)
    core = sorted(os.sched_getaffinity(0))[0] if hasattr(os, "sched_getaffinity") else None
    jobs, step = build_jobs(args, root, work, vocab, inputs, input_mb, buckets_of, core)
    pair = [cli_cmd(half, vocab, work / (half.stem + ".tfrecord")) for half in (half_a, half_b)]
    digests = {}
    for round_ in range(args.repeats):
        print(f"round {round_ + 1} of {args.repeats} (load average {os.getloadavg()[0]:.2f})", flush=True)
        run_round(jobs, work, rows, digests, failures)
        run_control_pair(pair, work, rows, input_mb[big])
    print()
    print_runs(jobs, rows, digests, args.repeats, work, failures)
    if "wptk pair" in rows:
        row = rows["wptk pair"]
        print(f"control: 2 x wptk create-pretraining-data at once on the halves of {big:g}MB: {row['wall']:.1f} s; "
              f"all runs {' '.join(f'{w:.1f}' for w in row['walls'])} s")
    if "reference" in rows:
        print(f"(reference: on a {rows['reference']['mb']:.1f} MB sample of the corpus, every {step}th document "
              f"of the three texts, so the same mix)")
    if core is not None:
        print(f"(wptk create-pretraining-data and the reference: pinned to core {core})")
    return rows, input_mb, buckets_of


def main(argv=None):
    args = parse_args(argv)
    root = shared_data()
    if root is None:
        raise SystemExit("bench_pipeline: ../shared/data not found (set WPTK_SHARED_DATA)")
    vocab = root / "vocab" / "bert-base-uncased.vocab.txt"
    base = args.workdir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    work = Path(tempfile.mkdtemp(prefix="wptk-bench-pipeline-", dir=base))
    print_header(work)
    failures = []
    try:
        rows, input_mb, buckets_of = measure(args, root, work, vocab, failures)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return print_goals(args, rows, input_mb, buckets_of, failures)


if __name__ == "__main__":
    sys.exit(main())
