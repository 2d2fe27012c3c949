"""`wptk inspect` speed and `--plan` accuracy, on the shared corpora.

    python benchmarks/bench_data_tools.py [--core N] [--skip-inspect] [--skip-plan]

inspect  wptk create-pretraining-data writes the records of ../shared/data/corpus/en/austen.txt (default flags,
         ~77 MB); a child process pinned to one core then reads them with wptk.inspection (native TFRecord and
         tf.Example decoding) and profiles them. Printed: MB of records per second of that work (the goal is >= 100
         MB/s on one core), and the whole `wptk inspect` command's wall time for context.
plan     For each corpus: `wptk create-pretraining-data --plan --json` (predicted), then the real run (actual), each
         a fresh child pinned to one core; the actual peak RSS is the child's own ru_maxrss (os.wait4). Corpora:
         austen, bible_kjv, python_docs (uncased vocab), a 16 MB mix of the three (so that --plan samples about
         7% of it), and the emacs tutorials in 24 languages (multilingual vocab, --multilingual). Goals: instances
         and output bytes within 10% of the run, peak memory within 25%.
Units: MB = 10^6 bytes. Exit status 1 if a run fails.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO_ROOT, cpu_model
from wptk.testing import shared_data

PROFILE_CHILD = """
import sys, time
from wptk.inspection import Profile, read_batches
start = time.perf_counter()
profile = Profile()
for batch in read_batches(sys.argv[1:]):
    profile.add(batch)
print(time.perf_counter() - start, profile.records)
"""


def pinned(core):
    return (lambda: os.sched_setaffinity(0, {core})) if hasattr(os, "sched_setaffinity") else None


def run_measured(cmd, core):
    """(seconds, peak RSS bytes, stdout, stderr) of a child pinned to `core`, its peak from os.wait4 (the child's
    own: this parent is small, and Linux carries a forking parent's peak across exec); exits on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=pinned(core),
                            cwd=REPO_ROOT)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{err.decode()}")
    return time.perf_counter() - start, usage.ru_maxrss * 1024, out.decode(), err.decode()


def wptk(*args):
    return [sys.executable, "-m", "wptk", *map(str, args)]


def bench_inspect(tmp, data, core):
    records = tmp / "austen.tfrecord"
    run_measured(wptk("create-pretraining-data", f"--input_file={data / 'corpus/en/austen.txt'}",
                      f"--output_file={records}", f"--vocab_file={data / 'vocab/bert-base-uncased.vocab.txt'}",
                      "--quiet"), core)
    size = records.stat().st_size
    best = None
    for _ in range(3):
        _, _, out, _ = run_measured([sys.executable, "-c", PROFILE_CHILD, str(records)], core)
        seconds, n = out.split()
        best = min(best or float(seconds), float(seconds))
    wall, _, _, _ = run_measured(wptk("inspect", records, "--examples", "0"), core)
    rate = size / 1e6 / best
    print(f"inspect: {size / 1e6:.1f} MB of records ({int(n):,}), read and profiled in {best:.3f} s (best of 3): "
          f"{rate:.0f} MB/s on one core, goal >= 100: {'PASS' if rate >= 100 else 'FAIL'}; the whole "
          f"`wptk inspect` command {wall:.2f} s")


def corpora(tmp, data):
    uncased, multi = data / "vocab/bert-base-uncased.vocab.txt", data / "vocab/bert-base-multilingual-cased.vocab.txt"
    en = data / "corpus/en"
    mix = tmp / "mix16.txt"
    with open(mix, "wb") as out:
        for name in ("austen.txt", "bible_kjv.txt", "python_docs.txt"):
            out.write((en / name).read_bytes().rstrip(b"\n") + b"\n\n")
    text = mix.read_bytes()[:16_000_000]
    mix.write_bytes(text[:text.rfind(b"\n\n") + 1])
    tutorials = tmp / "tutorials.txt"
    tutorials.write_bytes(b"\n\n".join(p.read_bytes() for p in sorted((data / "corpus/multi/emacs_tutorial").glob("*"))))
    return [("austen", en / "austen.txt", uncased, []), ("bible_kjv", en / "bible_kjv.txt", uncased, []),
            ("python_docs", en / "python_docs.txt", uncased, []), ("mix 16 MB", mix, uncased, []),
            ("emacs tutorials", tutorials, multi, ["--multilingual"])]


def bench_plan(tmp, data, core):
    print(f"{'corpus':<16} {'MB':>5} {'sampled':>8} | {'instances: plan / run':>26} | {'output MB: plan / run':>24} | "
          f"{'GZIP MB':>15} | {'peak RSS MB: plan / run':>25} | {'s one core':>12}")
    worst = {"instances": 0.0, "bytes": 0.0, "rss": 0.0}
    for name, path, vocab, extra in corpora(tmp, data):
        flags = [f"--input_file={path}", f"--vocab_file={vocab}", *extra]
        _, _, out, _ = run_measured(wptk("create-pretraining-data", *flags, "--plan", "--json"), core)
        plan = json.loads(out)
        output = tmp / "out.tfrecord"
        seconds, peak, _, err = run_measured(wptk("create-pretraining-data", *flags, f"--output_file={output}"), core)
        instances = int(err.split(" instances (")[0].rsplit("-> ", 1)[1].replace(",", ""))
        size = output.stat().st_size
        gz = tmp / "out.tfrecord.gz"
        run_measured(wptk("create-pretraining-data", *flags, f"--output_file={gz}", "--gzip", "--quiet"), core)
        for key, predicted, actual in (("instances", plan["instances"], instances),
                                       ("bytes", plan["output_bytes"], size), ("rss", plan["peak_rss_bytes"], peak)):
            worst[key] = max(worst[key], abs(predicted / actual - 1))
        worst["bytes"] = max(worst["bytes"], abs(plan["output_bytes_gzip"] / gz.stat().st_size - 1))
        print(f"{name:<16} {plan['input_bytes'] / 1e6:>5.1f} {100 * plan['sampled_bytes'] / plan['input_bytes']:>7.0f}% | "
              f"{plan['instances']:>12,} / {instances:>11,} | {plan['output_bytes'] / 1e6:>11.1f} / {size / 1e6:>10.1f} | "
              f"{plan['output_bytes_gzip'] / 1e6:>6.1f} / {gz.stat().st_size / 1e6:>6.1f} | "
              f"{plan['peak_rss_bytes'] / 1e6:>12.1f} / {peak / 1e6:>10.1f} | "
              f"{plan['seconds_one_core']:>5.1f} / {seconds:>4.1f}")
        output.unlink()
        gz.unlink()
    print(f"worst error: instances {100 * worst['instances']:.1f}% (goal <= 10%: "
          f"{'PASS' if worst['instances'] <= 0.10 else 'FAIL'}), output bytes {100 * worst['bytes']:.1f}% (<= 10%: "
          f"{'PASS' if worst['bytes'] <= 0.10 else 'FAIL'}), peak memory {100 * worst['rss']:.1f}% (<= 25%: "
          f"{'PASS' if worst['rss'] <= 0.25 else 'FAIL'})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--core", type=int, default=0, help="the core every child is pinned to (default 0)")
    parser.add_argument("--skip-inspect", action="store_true")
    parser.add_argument("--skip-plan", action="store_true")
    args = parser.parse_args()
    data = shared_data()
    if data is None:
        sys.exit("../shared/data not found (or set WPTK_SHARED_DATA)")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; children pinned to "
          f"core {args.core}")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_inspect:
            bench_inspect(Path(tmp), data, args.core)
        if not args.skip_plan:
            bench_plan(Path(tmp), data, args.core)


if __name__ == "__main__":
    main()
