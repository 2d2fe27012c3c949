"""`wptk create-pretraining-data` against BERT's create_pretraining_data.py: speed, peak memory and exactness.

    python benchmarks/bench_pretraining.py [--quick] [--reference-16mb] [--core N] [--repeats N]

Inputs (built in a temporary directory that is deleted at the end):
  small  ../shared/data/corpus/en/austen.txt as is (~4 MB); with --quick, its first ~1 MB cut at a document
         boundary (a blank line), for a fast smoke run.
  16 MB  austen + bible_kjv + the first part of python_docs, one blank line between files (so each file starts a
         new document), cut at the last document boundary at or before 16,000,000 bytes.
The shared data is ../shared/data beside the repository root, or $WPTK_SHARED_DATA (wptk.testing's lookup, as
the tests find it).

Runs, each a separate child process pinned to ONE core (os.sched_setaffinity in the child before exec, so every
thread the child starts, TensorFlow's included, inherits the one-core mask):
  reference  python -m bert.create_pretraining_data (bert-tensorflow 1.0.4) on the small input, --reference-repeats
             times (default: as --repeats; ~40 s, ~870 MB each at 4 MB); also on 16 MB with --reference-16mb
             (~3 min, ~3.5 GB each).
  wptk       python -m wptk create-pretraining-data --quiet on the small and the 16 MB input, --repeats times each.
Both tools get the same statistics: the least and the median wall time of their runs (peak RSS: the largest), and
every ratio is of like with like (least / least, median / median). On the small input the two tools' runs
alternate, so that the machine's drift over minutes hits both.
  floor      for context, --repeats times: a Python process that only imports numpy, reads the small input and
             writes as many bytes as wptk's output of it. No Python command that writes the same records is faster,
             so the reference's time over it bounds the throughput ratio this machine allows.
Both get the same explicit flags: the reference's defaults (max_seq_length 128, max_predictions_per_seq 20,
dupe_factor 10, masked_lm_prob 0.15, short_seq_prob 0.1, do_lower_case True) with random_seed 12345, and the
bert-base-uncased vocab. Wall time includes interpreter start-up and imports: it is what a user of the CLI waits.
Both import from bytecode: wptk's is compiled before the runs, as pip compiled the reference's at install.

Peak RSS: the parent starts the child with subprocess.Popen and reaps it itself with os.wait4(pid), whose rusage
is that one child's own (plus any descendants it waited for), so ru_maxrss is exactly the child's kernel-tracked
high-water RSS, not a sampled value and not the running maximum over all children that
getrusage(RUSAGE_CHILDREN) would give. Linux reports ru_maxrss in KiB.

Units: MB = 10^6 bytes, for input sizes and for RSS alike (so memory growth is in RSS MB per input MB).

Exactness: the records of wptk's small-input output and the reference's must be the same, in the same order.
Each raw record (wptk.tfrecord.read_records) is parsed with tf.train.Example.FromString and compared by feature
name, kind and values (not by bytes: the order of the feature map inside an Example may differ).

Exit status: 1 if a run fails or the outputs differ, else 0 (the speed and memory goals only print PASS/FAIL).
"""
import argparse
import itertools
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from common import REPO_ROOT, compile_bytecode, cpu_model, version
from wptk.pretraining import PretrainingConfig, estimated_memory
from wptk.testing import shared_data

MB = 1e6
TARGET_16MB = 16 * 1000 * 1000
QUICK_BYTES = 1000 * 1000

# Explicit flags shared by both tools: the reference's defaults, seed 12345.
FLAGS = {
    "do_lower_case": "True",
    "max_seq_length": "128",
    "max_predictions_per_seq": "20",
    "random_seed": "12345",
    "dupe_factor": "10",
    "masked_lm_prob": "0.15",
    "short_seq_prob": "0.1",
}

CHILD_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",      # hide TensorFlow's C++ start-up noise (the reference's own logging stays)
    "CUDA_VISIBLE_DEVICES": "",       # no GPU probing
    "PYTHONUNBUFFERED": "1",
}

CONFIG = PretrainingConfig(**{k: type(getattr(PretrainingConfig, k))(v) for k, v in FLAGS.items()
                               if k != "do_lower_case"})
# The least any command doing this job in Python does: start the interpreter, import numpy (wptk's arrays), read the
# input, write the output's bytes (argv: input, output, output size).
FLOOR_CODE = """import sys, numpy
data = open(sys.argv[1], "rb").read()
chunk, left = bytes(1 << 20), int(sys.argv[3])
with open(sys.argv[2], "wb") as f:
    while left > 0:
        left -= f.write(chunk[:left])
"""
GOAL_SPEEDUP = 100.0       # wptk input MB/s / reference input MB/s on the 4 MB input, at least
GOAL_RSS_RATIO = 0.20      # wptk peak RSS / reference peak RSS on the 4 MB input, at most
GOAL_GROWTH = 5.0          # wptk (RSS16 - RSS4) / (input16 - input4), RSS MB per input MB, at most


# ---------------------------------------------------------------------------------------------- machine & data


def cut_at_document_boundary(data, limit):
    """The longest prefix of `data` (bytes) of at most `limit` bytes that ends just before a blank line.

    Documents are separated by blank lines; the prefix keeps the last full document's final newline and drops the
    separator, so the file ends with a complete document."""
    if len(data) <= limit:
        return data
    cut = data.rfind(b"\n\n", 0, limit)
    if cut < 0:
        raise SystemExit(f"no document boundary in the first {limit:,} bytes")
    return data[:cut + 1]


def build_inputs(root, tmp, quick, big_kind="mix"):
    """Returns [(label, path)] for the small input and the 16 MB input: a mix of the three English corpora (short
    python_docs documents make it about 3x as dense in instances per MB as austen), or austen.txt four times."""
    corpus = root / "corpus" / "en"
    austen = (corpus / "austen.txt").read_bytes()
    if quick:
        small = tmp / "austen_1mb.txt"
        small.write_bytes(cut_at_document_boundary(austen, QUICK_BYTES))
        small_label = "austen 1MB"
    else:
        small = corpus / "austen.txt"  # as is (read-only; outputs go to the temp dir)
        small_label = "austen 4MB"
    if big_kind == "austen":
        big = tmp / "austen_x4_16mb.txt"
        big.write_bytes(b"\n".join([austen if austen.endswith(b"\n") else austen + b"\n"] * 4))
        return [(small_label, small), ("austen x4 16MB", big)]
    parts = []
    for name in ("austen.txt", "bible_kjv.txt", "python_docs.txt"):
        data = (corpus / name).read_bytes()
        parts.append(data if data.endswith(b"\n") else data + b"\n")
    joined = b"\n".join(parts)  # each file ends with "\n", so this leaves one blank line between files
    big = tmp / "mix_16mb.txt"
    big.write_bytes(cut_at_document_boundary(joined, TARGET_16MB))
    return [(small_label, small), ("mix 16MB", big)]


# ---------------------------------------------------------------------------------------------- measured runs


def run_measured(cmd, core, log_path):
    """Runs `cmd` pinned to `core`; returns (wall seconds, peak RSS bytes, cpu seconds, exit code).

    The child is reaped here with os.wait4 (not Popen.wait), which returns the rusage of that child alone: its
    ru_maxrss is the child's own peak RSS (KiB on Linux), unaffected by earlier, larger children."""
    def pin():
        os.sched_setaffinity(0, {core})  # inherited through exec by every thread the child creates

    env = dict(os.environ, **CHILD_ENV)
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=REPO_ROOT, preexec_fn=pin)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = code = os.waitstatus_to_exitcode(status)  # reaped: keep Popen from waiting again
    return seconds, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, code


def tool_command(tool, input_path, output_path, vocab):
    flags = [f"--input_file={input_path}", f"--output_file={output_path}", f"--vocab_file={vocab}"]
    flags += [f"--{k}={v}" for k, v in FLAGS.items()]
    if tool == "reference":
        return [sys.executable, "-m", "bert.create_pretraining_data"] + flags
    return [sys.executable, "-m", "wptk", "create-pretraining-data"] + flags + ["--quiet"]


def fmt_cmd(cmd, tmp, root):
    """The command as a shell line, with the temp dir and shared-data dir shown symbolically."""
    text = shlex.join([os.path.basename(cmd[0]) if cmd[0] == sys.executable else cmd[0]] + cmd[1:])
    return text.replace(str(tmp), "$TMP").replace(str(root), "$SHARED")


def count_records(path):
    from wptk.tfrecord import read_records

    return sum(1 for _ in read_records(path))


def tail(path, lines=25):
    try:
        text = Path(path).read_text(errors="replace").rstrip("\n").split("\n")
    except OSError:
        return "(no log)"
    return "\n".join("    | " + line for line in text[-lines:])


# ---------------------------------------------------------------------------------------------- exactness


def example_features(example):
    """{feature name: (kind, values)} of a tf.train.Example."""
    out = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[name] = (kind, tuple(getattr(feature, kind).value) if kind else ())
    return out


def compare_outputs(path_a, path_b):
    """Returns (number of records compared, None if equal or a description of the first difference)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    # TensorFlow's native start-up lines go to fd 2 before its log level applies: silence fd 2 while importing.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    from wptk.tfrecord import read_records

    missing = object()
    n = 0
    for i, (ra, rb) in enumerate(itertools.zip_longest(read_records(path_a), read_records(path_b),
                                                       fillvalue=missing)):
        if ra is missing or rb is missing:
            which = "wptk" if ra is missing else "reference"
            return n, f"first differing record index {i}: the {which} output ends there ({n:,} records in it)"
        n += 1
        if ra == rb:
            continue
        fa = example_features(tf.train.Example.FromString(ra))
        fb = example_features(tf.train.Example.FromString(rb))
        if fa != fb:
            names = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
            detail = []
            for k in names[:4]:
                va, vb = fa.get(k, ("absent", ())), fb.get(k, ("absent", ()))
                detail.append(f"    {k}: wptk {va[0]} {list(va[1])[:24]}\n"
                              f"    {' ' * len(k)}  ref  {vb[0]} {list(vb[1])[:24]}")
            return n, f"first differing record index {i} (features {', '.join(names)}):\n" + "\n".join(detail)
    return n, None


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="compare with the reference on a 1 MB slice of austen instead of all 4 MB (smoke run)")
    p.add_argument("--big", choices=("mix", "austen"), default="mix",
                   help="the 16 MB input: the three English corpora mixed (default) or austen.txt four times")
    p.add_argument("--reference-16mb", action="store_true",
                   help="also run the reference on the 16 MB input (~3 min, ~3.5 GB RSS)")
    p.add_argument("--core", type=int, default=None,
                   help="the one CPU core every run is pinned to (default: the first allowed core)")
    p.add_argument("--repeats", type=int, default=3,
                   help="wptk runs per input: least and median wall time, largest peak RSS (default 3)")
    p.add_argument("--reference-repeats", type=int, default=None,
                   help="reference runs per input, the same statistics (default: as --repeats)")
    return p.parse_args(argv)


def print_header(core, allowed):
    print("wptk create-pretraining-data benchmark")
    print(f"command line: {shlex.join(['python'] + sys.argv)}")
    print(f"machine: {cpu_model()}; {os.cpu_count()} logical cores ({len(allowed)} allowed); "
          f"{platform.system()} {platform.release()}; every run pinned to core {core}")
    print(f"python {platform.python_version()}; wptk {version('wptk')}; bert-tensorflow {version('bert-tensorflow')}; "
          f"tensorflow {version('tensorflow')}")
    print("flags: " + " ".join(f"--{k}={v}" for k, v in FLAGS.items()) + " --vocab_file=bert-base-uncased.vocab.txt")
    print("units: MB = 10^6 bytes (input and RSS); wall time includes interpreter start-up")
    print(compile_bytecode())
    print()


def run_plan(args, inputs):
    """[(tool, label, input path, runs)]: the order of the runs. The machine's speed drifts over minutes: the two
    tools' small-input runs alternate, so that neither's runs are all taken in a slow spell the other missed."""
    (small_label, small), (big_label, big) = inputs
    ref_repeats = args.repeats if args.reference_repeats is None else args.reference_repeats
    plan = []
    for i in range(max(args.repeats, ref_repeats)):
        plan += [("wptk", small_label, small, int(i < args.repeats)),
                 ("reference", small_label, small, int(i < ref_repeats))]
    plan.append(("wptk", big_label, big, args.repeats))
    if args.reference_16mb:
        plan.append(("reference", big_label, big, ref_repeats))
    return plan


def repeat_runs(res, cmd, out, repeats, core, tmp, failures):
    """Runs `cmd` `repeats` times (until one fails) into `res`: least wall time and its cpu, median, largest RSS."""
    tool, label = res["tool"], res["label"]
    for _ in range(repeats):
        if not res["ok"]:
            break
        if out.exists():
            out.unlink()
        res["runs"] += 1
        log = tmp / f"{tool}_{label.replace(' ', '_')}_{res['runs']}.log"
        seconds, rss, cpu_s, code = run_measured(cmd, core, log)
        print(f"    {tool} run {res['runs']}: {seconds:.3f} s wall, {cpu_s:.3f} s cpu, "
              f"peak RSS {rss / MB:.1f} MB, exit {code}", flush=True)
        if code != 0 or not out.exists():
            failures.append(f"{tool} on {label} failed (exit {code})")
            print(f"    FAILED (exit {code}); last lines of its output:\n{tail(log)}", flush=True)
            res["ok"] = False
            break
        res["times"].append(seconds)
        res["median"] = statistics.median(res["times"])
        if res["seconds"] is None or seconds < res["seconds"]:
            res["seconds"], res["cpu"] = seconds, cpu_s
        res["rss"] = max(res["rss"], rss)


def measure_tools(args, tmp, inputs, vocab, core, root, failures):
    """Runs the plan; returns (rows: one dict per tool and input, outputs: {(tool, label): path or None})."""
    big_label = inputs[1][0]
    outputs, results = {}, {}
    for tool, label, path, repeats in run_plan(args, inputs):
        if repeats == 0:
            continue
        key = (tool, label)
        out = tmp / f"{tool}_{label.replace(' ', '_')}.tfrecord"
        cmd = tool_command(tool, path, out, vocab)
        if key not in results:
            print(f"[{tool} / {label}] {fmt_cmd(cmd, tmp, root)}", flush=True)
        res = results.setdefault(key, dict(label=label, tool=tool, mb=path.stat().st_size / MB, seconds=None,
                                            rss=0, cpu=None, instances=None, ok=True, runs=0, times=[],
                                            estimate=estimated_memory([str(path)], CONFIG)))
        repeat_runs(res, cmd, out, repeats, core, tmp, failures)
        if res["ok"]:
            res["instances"] = count_records(out)
        outputs[key] = out if res["ok"] else None
    rows = []
    for key, res in results.items():
        if not res["ok"]:
            res.update(seconds=None, rss=None, cpu=None)
        rows.append(res)
        if res["ok"] and key[1] == big_label:
            (tmp / f"{key[0]}_{big_label.replace(' ', '_')}.tfrecord").unlink()   # large and not compared
    print()
    return rows, outputs


def measure_context(args, tmp, core, small, small_out):
    """For context only: the fixed cost of starting each tool (interpreter, imports -- TensorFlow for the
    reference --, flag parsing), measured as its help run; and the floor (FLOOR_CODE) with wptk's output size.
    Returns (wptk start-up, reference start-up, (floor seconds, bytes) or None)."""
    startup = min(run_measured([sys.executable, "-m", "wptk", "create-pretraining-data", "--help"], core,
                               tmp / "startup.log")[0] for _ in range(args.repeats))
    ref_startup = run_measured([sys.executable, "-m", "bert.create_pretraining_data", "--helpfull"], core,
                               tmp / "ref_startup.log")[0]
    floor = None
    if small_out:
        floor_cmd = [sys.executable, "-c", FLOOR_CODE, str(small), str(tmp / "floor.out"),
                     str(small_out.stat().st_size)]
        floor = (min(run_measured(floor_cmd, core, tmp / "floor.log")[0] for _ in range(args.repeats)),
                 small_out.stat().st_size)
        (tmp / "floor.out").unlink(missing_ok=True)
    return startup, ref_startup, floor


def check_exactness(outputs, small_label, failures):
    """The verdict line on wptk's and the reference's records for the small input."""
    ref_out, wptk_out = outputs.get(("reference", small_label)), outputs.get(("wptk", small_label))
    if not (ref_out and wptk_out):
        return "NOT CHECKED: a run failed"
    t0 = time.perf_counter()
    compared, diff = compare_outputs(wptk_out, ref_out)
    took = time.perf_counter() - t0
    if diff is None:
        return f"MATCH: {compared:,} records, same features in the same order ({took:.1f} s to compare)"
    failures.append(f"wptk output differs from the reference on {small_label}")
    return f"MISMATCH: {diff}"


def print_table(rows, small_label, exact, repeats, startup, ref_startup):
    header = f"{'input':<12} {'tool':<10} {'MB':>7} {'runs':>5} {'least s':>9} {'median s':>9} {'input MB/s':>11} " \
             f"{'peak RSS MB':>12} {'cpu s':>8} {'instances':>10}"
    print(header)
    print("-" * len(header))
    for r in rows:
        if r["seconds"] is None:
            print(f"{r['label']:<12} {r['tool']:<10} {r['mb']:>7.2f} {'FAILED':>9}")
            continue
        print(f"{r['label']:<12} {r['tool']:<10} {r['mb']:>7.2f} {len(r['times']):>5} {r['seconds']:>9.3f} "
              f"{r['median']:>9.3f} {r['mb'] / r['seconds']:>11.3f} {r['rss'] / MB:>12.1f} {r['cpu']:>8.3f} "
              f"{r['instances']:>10,}")
    print("(input MB/s and cpu s: of the least wall time; peak RSS: the largest of the runs)")
    print()
    print(f"exactness ({small_label}, wptk vs reference): {exact}")
    print(f"(context: start-up, included in the seconds above: wptk `create-pretraining-data --help`, best of "
          f"{repeats}: {startup:.3f} s; reference `--helpfull` (imports TensorFlow): {ref_startup:.3f} s)")
    print()


def find_row(rows, tool, label):
    """The row of a tool on an input whose runs succeeded, or None."""
    return next((r for r in rows if r["tool"] == tool and r["label"] == label and r["seconds"] is not None), None)


def verdict(ok):
    return "PASS" if ok else "FAIL"


def print_speed_goals(ref_s, wptk_s, small_label, repeats, startup, ref_startup, floor):
    """The throughput and peak-RSS goals against the reference on the small input, with their context."""
    speedup = (wptk_s["mb"] / wptk_s["seconds"]) / (ref_s["mb"] / ref_s["seconds"])
    print(f"  throughput wptk / reference on {small_label}, least / least of {len(wptk_s['times'])} and "
          f"{len(ref_s['times'])} runs: {speedup:.1f}x (goal >= {GOAL_SPEEDUP:.0f}x) "
          f"{verdict(speedup >= GOAL_SPEEDUP)}")
    print(f"    (median / median: {ref_s['median'] / wptk_s['median']:.1f}x)")
    work = (ref_s["seconds"] - ref_startup) / max(1e-9, wptk_s["seconds"] - startup)
    print(f"    (context: without either tool's start-up, {ref_s['seconds'] - ref_startup:.3f} s / "
          f"{wptk_s['seconds'] - startup:.3f} s = {work:.1f}x)")
    if floor:
        budget = ref_s["seconds"] / GOAL_SPEEDUP
        print(f"    (floor: a process that only starts Python, imports numpy, reads the input and writes "
              f"{floor[1] / MB:.1f} MB, wptk's output size, 1 MB at a time, best of {repeats}: "
              f"{floor[0]:.3f} s = {floor[0] / budget:.0%} of the {budget:.3f} s that {GOAL_SPEEDUP:.0f}x leaves "
              f"for the whole command; no Python tool that writes these records can exceed "
              f"{ref_s['seconds'] / floor[0]:.0f}x here)")
    ratio = wptk_s["rss"] / ref_s["rss"]
    print(f"  peak RSS wptk / reference on {small_label}: {wptk_s['rss'] / MB:.1f} / {ref_s['rss'] / MB:.1f} MB "
          f"= {ratio:.3f} (goal <= {GOAL_RSS_RATIO:.2f}) {verdict(ratio <= GOAL_RSS_RATIO)}")


def print_growth_goal(wptk_s, wptk_b, small_label, big_label):
    """wptk's memory growth per input MB from the small to the 16 MB input, and its own estimate's margin."""
    growth = (wptk_b["rss"] - wptk_s["rss"]) / MB / (wptk_b["mb"] - wptk_s["mb"])
    print(f"  wptk memory growth (RSS {big_label} - RSS {small_label}) / input MB: "
          f"({wptk_b['rss'] / MB:.1f} - {wptk_s['rss'] / MB:.1f}) / ({wptk_b['mb']:.2f} - {wptk_s['mb']:.2f}) "
          f"= {growth:.2f} MB per MB (goal <= {GOAL_GROWTH:.0f}) {verdict(growth <= GOAL_GROWTH)}")
    print(f"    (context: {wptk_b['instances'] - wptk_s['instances']:,} more instances; "
          f"{(wptk_b['rss'] - wptk_s['rss']) / max(1, wptk_b['instances'] - wptk_s['instances']):.0f} bytes of RSS "
          f"per extra instance)")
    fits = all(r["estimate"] >= r["rss"] for r in (wptk_s, wptk_b))
    print(f"    (the command's own memory estimate, which warns when it exceeds the memory available, must err "
          f"high: {wptk_s['estimate'] / MB:.0f} MB for {small_label}, {wptk_b['estimate'] / MB:.0f} MB for "
          f"{big_label}: {'above both peaks' if fits else 'BELOW a measured peak'})")


def print_reference_growth(ref_s, ref_b, small_label, big_label):
    if ref_b:
        growth = (ref_b["rss"] - ref_s["rss"]) / MB / (ref_b["mb"] - ref_s["mb"])
        print(f"  reference memory growth (RSS {big_label} - RSS {small_label}) / input MB: "
              f"({ref_b['rss'] / MB:.1f} - {ref_s['rss'] / MB:.1f}) / ({ref_b['mb']:.2f} - {ref_s['mb']:.2f}) "
              f"= {growth:.2f} MB per MB")
    else:
        print(f"  reference at {small_label.split()[-1]} only: RSS/MB = {ref_s['rss'] / MB:.1f} / {ref_s['mb']:.2f} "
              f"= {ref_s['rss'] / MB / ref_s['mb']:.1f} MB per input MB (--reference-16mb for its growth)")


def print_goals(args, rows, small_label, big_label, exact, startup, ref_startup, floor):
    ref_s, wptk_s, wptk_b, ref_b = (find_row(rows, "reference", small_label), find_row(rows, "wptk", small_label),
                                    find_row(rows, "wptk", big_label), find_row(rows, "reference", big_label))
    note = " (goals are set for the 4 MB input; this is the --quick 1 MB slice)" if args.quick else ""
    print(f"goals{note}:")
    if ref_s and wptk_s:
        print_speed_goals(ref_s, wptk_s, small_label, args.repeats, startup, ref_startup, floor)
    else:
        print("  throughput and RSS ratios: not measured (a run failed)")
    if wptk_s and wptk_b:
        print_growth_goal(wptk_s, wptk_b, small_label, big_label)
    else:
        print("  wptk memory growth: not measured (a run failed)")
    if ref_s:
        print_reference_growth(ref_s, ref_b, small_label, big_label)
    print(f"  exactness: {verdict(exact.startswith('MATCH'))}")


def main(argv=None):
    args = parse_args(argv)
    root = shared_data()
    if root is None:
        where = os.environ.get("WPTK_SHARED_DATA") or str(Path("..") / "shared" / "data")
        sys.exit(f"shared data not found: looked for {where} beside the repository root (set WPTK_SHARED_DATA)")
    vocab = root / "vocab" / "bert-base-uncased.vocab.txt"
    allowed = sorted(os.sched_getaffinity(0))
    core = allowed[0] if args.core is None else args.core
    if core not in allowed:
        sys.exit(f"--core {core} is not among the allowed cores {allowed}")
    print_header(core, allowed)

    failures = []
    with tempfile.TemporaryDirectory(prefix="wptk-bench-pretraining-") as tmp_name:
        tmp = Path(tmp_name)
        inputs = build_inputs(root, tmp, args.quick, args.big)
        (small_label, small), (big_label, _) = inputs
        for label, path in inputs:
            print(f"input {label}: {path.stat().st_size:,} bytes ({sum(1 for _ in open(path, 'rb')):,} lines)")
        print()
        rows, outputs = measure_tools(args, tmp, inputs, vocab, core, root, failures)
        startup, ref_startup, floor = measure_context(args, tmp, core, small, outputs.get(("wptk", small_label)))
        exact = check_exactness(outputs, small_label, failures)

    print_table(rows, small_label, exact, args.repeats, startup, ref_startup)
    print_goals(args, rows, small_label, big_label, exact, startup, ref_startup, floor)
    if failures:
        print("\nproblems:\n" + "\n".join("  " + f for f in failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
