"""Tokenization throughput of wptk against BERT's tokenization.py, HF tokenizers and TF Text, plus exactness.

    python benchmarks/bench_tokenize.py --mb 4 [--vocab uncased]

The text is the first --mb MB (10^6 UTF-8 bytes, newlines not counted) of a proportional mix of the three English
corpora in ../shared/data/corpus/en (overridable with $WPTK_SHARED_DATA), split into lines on "\\n". Every
tokenizer gets the same Python str lines; MB/s is input UTF-8 bytes / wall seconds, tokens/s counts each
tokenizer's own output.

Like with like: every timed pass, of every tokenizer, is the FIRST pass of a freshly built instance over the text
(built outside the timing, then called once on a fixed string that is not in the text, so that lazy process-wide
set-up such as TensorFlow's kernels is not timed). wptk's per-word cache therefore starts empty and fills during
the pass, as on a user's corpus; the anchors keep no such cache. Each row reports the best of --repeats such passes
(the reference's too, --reference-repeats) and their median. wptk's "warm cache" row is separate and is NOT a
headline: the same instance's later passes over the same lines, when the cache already holds every word.

Single core: everything runs in this one process with every thread pool we can reach set to one thread
(RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false before `tokenizers` is imported; TensorFlow's intra- and
inter-op pools set to 1 before its runtime starts), and, where the OS allows it, the whole process (every thread)
is pinned with os.sched_setaffinity to one core for the single-core rows. The affinity is widened back to every
allowed core only for the 1-vs-2-thread rows at the end, which run the same data on one and on two Python
threads (wptk's encode_batch releases the GIL).

Exactness: wptk's tokenize() must give the reference's tokens for every line, and encode_batch's ids must be the
vocab-file line numbers of the reference's tokens (google-research/bert's ids; bert-tensorflow compacts its own).

The anchors (reference, HF tokenizers, TF Text) are optional: each is skipped when its package is missing.
The exit status is 1 if wptk's tokens or ids differ from the reference's, else 0 (speed goals only print).
"""
import os

# Before anything can import tokenizers (rayon) or start TensorFlow's runtime.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("RAYON_RS_NUM_CPUS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF errors still raise; this hides cuInit noise

import argparse  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

from common import OtherCpu, allowed_cpus, cpu_model, set_process_affinity, wait_idle  # noqa: E402
from wptk import testing  # noqa: E402  (shared-data lookup and the reference import, shared with the tests)

CORPORA = ["austen.txt", "bible_kjv.txt", "python_docs.txt"]
LOWER = {"uncased": True, "cased": False, "multi_cased": False, "chinese": True}
BENCH_EXTRA = "skipped (pip install wptk[bench])"
MB = 1e6


# ---------------------------------------------------------------------------------------------- machine & setup


def configure_tensorflow():
    """One intra-op and one inter-op thread; must run before TensorFlow's runtime starts. Returns tf or None."""
    try:
        import tensorflow as tf
    except ImportError:
        return None
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as e:  # the runtime was already initialized
        print("warning: could not set TensorFlow thread counts: %s" % e)
    return tf


def resolve_vocab(name):
    if name in testing.VOCABS:
        root = testing.shared_data()
        if root is None:
            sys.exit("../shared/data not found (set WPTK_SHARED_DATA)")
        return testing.vocab_path(name), LOWER[name]
    path = Path(name)
    return path, "uncased" in path.name or "chinese" in path.name


def load_sample(root, mb):
    """The first `mb` MB of a proportional mix of the English corpora, as a list of lines (split on \\n)."""
    files = [root / "corpus" / "en" / name for name in CORPORA]
    sizes = [f.stat().st_size for f in files]
    budget = mb * MB
    keyed = []
    for i, (f, size) in enumerate(zip(files, sizes)):
        share = budget * size / sum(sizes)
        text = f.read_bytes().decode("utf-8")
        used = 0
        for line in text.split("\n"):
            n = len(line.encode("utf-8"))
            if used + n > share:
                break
            # Interleave the files by how far into its share each line is, so every slice of the sample is mixed.
            keyed.append(((used + n) / share, i, line))
            used += n
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [line for _, _, line in keyed]


# ---------------------------------------------------------------------------------------------- timing


WAIT_IDLE = 0.0  # --wait-idle
WARM_UP = ["Warm-up: 0 words."]   # the untimed call on each fresh instance (no word of it is in the text)


def timed(fn, repeats, make=None):
    """Wall times of `repeats` runs (GC off inside a run): fn(lines... ) as given, or, with `make`, fn(make())
    on a new instance each time, built and called once as fn(instance, WARM_UP) outside the timing.

    Returns (best seconds, last result, cores other processes used during the best run, median seconds).
    """
    best, result, others, times = float("inf"), None, None, []
    for _ in range(repeats):
        result = None
        instance = None
        if make is not None:
            instance = make()
            fn(instance, WARM_UP)
        gc.collect()
        if WAIT_IDLE:
            wait_idle(WAIT_IDLE)
        gc.disable()
        try:
            with OtherCpu() as m:
                t0 = time.perf_counter()
                result = fn() if make is None else fn(instance)
                dt = time.perf_counter() - t0
        finally:
            gc.enable()
        times.append(dt)
        if dt < best:
            best, others = dt, m.cores
    return best, result, others, statistics.median(times)


class Table:
    def __init__(self, nbytes):
        self.nbytes = nbytes
        self.rows = []
        self.mbps = {}

    def add(self, key, label, seconds=None, tokens=None, runs="", note="", others=None, median=None):
        if median is not None:
            note = "; ".join(x for x in ["median %.2f MB/s" % (self.nbytes / MB / median), note] if x)
        if others is not None:
            note = "; ".join(x for x in [note, "others used %.2f cores" % others] if x)
        if seconds is None:
            self.rows.append((label, None, None, None, runs, note))
            print("  %-50s %s" % (label, note), flush=True)
            return
        mbps = self.nbytes / MB / seconds
        self.mbps[key] = mbps
        row = (label, seconds, mbps, tokens / seconds if tokens is not None else None, runs, note)
        self.rows.append(row)
        print("  %-50s %8.3f s %9.2f MB/s %s" % (label, seconds, mbps, note), flush=True)

    def print(self):
        print()
        print("%-50s %10s %10s %14s %7s  %s" % ("tokenizer", "seconds", "MB/s", "tokens/s", "runs", "note"))
        print("-" * 120)
        for label, seconds, mbps, tps, runs, note in self.rows:
            if seconds is None:
                print("%-50s %10s %10s %14s %7s  %s" % (label, "-", "-", "-", runs, note))
            else:
                print("%-50s %10.3f %10.2f %14s %7s  %s"
                      % (label, seconds, mbps, "{:,.0f}".format(tps) if tps is not None else "-", runs, note))


def batches(lines, size):
    return [lines[i:i + size] for i in range(0, len(lines), size)]


# ---------------------------------------------------------------------------------------------- candidates


def bench_reference(table, vocab, lower, lines, repeats):
    try:
        module = testing.reference_module()
    except ImportError:
        table.add("reference", "reference bert.tokenization .tokenize", note=BENCH_EXTRA)
        return None

    def run(tok, text=lines):
        return [tok.tokenize(line) for line in text]

    secs, out, others, median = timed(run, repeats, lambda: module.FullTokenizer(str(vocab), do_lower_case=lower))
    table.add("reference", "reference bert.tokenization .tokenize", secs, sum(map(len, out)),
              "best/%d" % repeats, others=others, median=median)
    return out


def bench_hf(table, vocab, lower, lines, batch, repeats):
    try:
        from tokenizers import BertWordPieceTokenizer
    except ImportError:
        table.add("hf", "HF tokenizers BertWordPiece .encode_batch", note=BENCH_EXTRA)
        return
    chunks = batches(lines, batch)

    def run(tok, text=None):
        return sum(len(enc.ids) for chunk in (chunks if text is None else [text])
                   for enc in tok.encode_batch(chunk, add_special_tokens=False))

    secs, ntok, others, median = timed(run, repeats, lambda: BertWordPieceTokenizer(str(vocab), lowercase=lower))
    table.add("hf", "HF tokenizers BertWordPiece .encode_batch", secs, ntok, "best/%d" % repeats, others=others,
              median=median)


def bench_tf_text(table, tf, vocab, lower, lines, batch, repeats):
    try:
        if tf is None:
            raise ImportError("tensorflow")
        import tensorflow_text as tf_text
    except ImportError:
        table.add("tf", "TF Text FastBertTokenizer (ids)", note=BENCH_EXTRA)
        return
    tokens = vocab.read_bytes().decode("utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    tokens = [t.strip() for t in tokens]

    def make():
        return tf_text.FastBertTokenizer(
            vocab=tokens,
            suffix_indicator="##",
            max_bytes_per_word=4 * 200,  # BERT's limit is 200 characters; at most 4 UTF-8 bytes each
            token_out_type=tf.int32,
            unknown_token="[UNK]",
            support_detokenization=False,
            lower_case_nfd_strip_accents=lower,
        )

    chunks = batches(lines, batch)

    def run_from_str(tok, text=None):  # Python str lines in, as every other row: the conversion is counted
        return sum(int(tok.tokenize(tf.constant(chunk)).flat_values.shape[0])
                   for chunk in (chunks if text is None else [text]))

    secs, ntok, others, median = timed(run_from_str, repeats, make)
    table.add("tf", "TF Text FastBertTokenizer (ids)", secs, ntok, "best/%d" % repeats, "str -> tf.constant counted",
              others=others, median=median)
    tensors = [tf.constant(chunk) for chunk in chunks]

    def run_from_tensor(tok, text=None):
        return sum(int(tok.tokenize(t).flat_values.shape[0]) for t in (tensors if text is None else [text]))

    secs, ntok, others, median = timed(run_from_tensor, repeats, make)
    table.add("tf_tensor", "TF Text FastBertTokenizer (ids, tensors in)", secs, ntok, "best/%d" % repeats,
              "batches pre-converted", others=others, median=median)


def load_wptk(vocab, lower):
    try:
        import wptk

        return functools.partial(wptk.FullTokenizer, str(vocab), do_lower_case=lower)
    except (ImportError, AttributeError) as e:
        print("  wptk not importable (%s): build it with `pip install -e .`" % e)
        return None


def bench_wptk(table, make, lines, batch, repeats):
    """Fresh instances' first passes (the headline rows), then one instance's later passes (the warm row)."""
    def run_tokenize(tok, text=lines):
        return [tok.tokenize(line) for line in text]

    secs, tokens, others, median = timed(run_tokenize, repeats, make)
    table.add("wptk_tokenize", "wptk .tokenize (list[str] per line)", secs, sum(map(len, tokens)),
              "best/%d" % repeats, "first pass, fresh instance", others=others, median=median)
    chunks = batches(lines, batch)

    def run(tok, text=None):
        return [tok.encode_batch(chunk) for chunk in (chunks if text is None else [text])]

    secs, parts, others, median = timed(run, repeats, make)
    table.add("wptk_ids", "wptk .encode_batch (ids)", secs, sum(len(ids) for ids, _ in parts), "best/%d" % repeats,
              "first pass, fresh instance; batches of %d lines" % batch, others=others, median=median)
    warm = make()
    run(warm)   # fills the cache with every word of the text
    secs, _, others, median = timed(lambda: run(warm), repeats)
    table.add("wptk_ids_warm", "wptk .encode_batch (ids), warm cache", secs, sum(len(ids) for ids, _ in parts),
              "best/%d" % repeats, "NOT a headline: later passes over the same lines", others=others, median=median)
    return tokens, parts


def bench_wptk_threads(table, make, lines, batch, repeats, min_time):
    """The same lines on one thread (half A then half B) and on two (one half each), rounds alternating.

    A round is too short to time on its own at a few MB (tens of ms, where a neighbour's burst decides the
    ratio), so each round covers the data `passes` times, enough for the 1-thread round to last `min_time`;
    every pass uses its own fresh tokenizer (built before the round), so each is a first pass, as in the headline
    rows; the 1- and 2-thread rounds alternate so drift in the machine's load hits both; the best of each counts.
    """
    half = len(lines) // 2
    halves = [batches(lines[:half], batch), batches(lines[half:], batch)]

    def encode(tok, chunks):
        return sum(len(tok.encode_batch(chunk)[0]) for chunk in chunks)

    def fresh(n):
        toks = [make() for _ in range(n)]
        for tok in toks:
            tok.encode_batch(WARM_UP)
        return toks

    first = fresh(1)[0]
    one_pass = timed(lambda: encode(first, halves[0]) + encode(first, halves[1]), 1)[0]
    passes = max(1, int(min_time / max(one_pass, 1e-9)) + 1)
    rounds = max(repeats, 5)
    best = {1: (float("inf"), 0, None), 2: (float("inf"), 0, None)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda h: encode(fresh(1)[0], h[:1]), halves))  # start both workers
        for _ in range(rounds):
            toks = fresh(passes)
            one = timed(lambda: sum(encode(t, halves[0]) + encode(t, halves[1]) for t in toks), 1)[:3]
            toks = fresh(passes)
            two = timed(lambda: sum(sum(pool.map(lambda h: encode(t, h), halves)) for t in toks), 1)[:3]
            best[1] = min(best[1], one, key=lambda r: r[0])
            best[2] = min(best[2], two, key=lambda r: r[0])
    note = "%d first passes (fresh instances) over the text per round" % passes
    for threads, key, label in [(1, "threads1", "wptk .encode_batch, 1 thread (all cores allowed)"),
                                (2, "threads2", "wptk .encode_batch, 2 threads (one half each)")]:
        secs, ntok, others = best[threads]
        table.add(key, label, secs / passes, ntok / passes, "best/%d" % rounds, note, others=others)


# ---------------------------------------------------------------------------------------------- exactness


def check_exactness(lines, ref_tokens, wptk_tokens, parts, vocab, show):
    """Counts lines whose wptk tokens / ids differ from the reference's; prints the first few."""
    line_ids = testing.vocab_line_ids(vocab)
    bad_tokens, bad_ids, shown = 0, 0, 0
    row = 0
    for ids, splits in parts:
        for j in range(len(splits) - 1):
            line, expected = lines[row], ref_tokens[row]
            got_ids = ids[splits[j]:splits[j + 1]].tolist()
            expected_ids = [line_ids.get(t, -1) for t in expected]
            tok_ok = wptk_tokens[row] == expected
            ids_ok = got_ids == expected_ids
            bad_tokens += not tok_ok
            bad_ids += not ids_ok
            if (not tok_ok or not ids_ok) and shown < show:
                shown += 1
                print("  line %d: %r" % (row, line[:300]))
                if not tok_ok:
                    print("    tokens wptk:      %r" % (wptk_tokens[row][:40],))
                    print("    tokens reference: %r" % (expected[:40],))
                if not ids_ok:
                    print("    ids wptk:         %r" % (got_ids[:40],))
                    print("    ids reference:    %r" % (expected_ids[:40],))
            row += 1
    assert row == len(lines), (row, len(lines))
    return bad_tokens, bad_ids


# ---------------------------------------------------------------------------------------------- main


GOALS = [   # (label, numerator row, denominator row, least ratio)
    ("ids path / TF Text FastBertTokenizer", "wptk_ids", "tf_best", 2.0),
    ("tokenize() / HF tokenizers", "wptk_tokenize", "hf", 10.0),
    ("2 threads / 1 thread", "threads2", "threads1", 1.8),
    # No goal was set for this one: 50x is this script's floor (TF Text runs at ~43x the reference, and the
    # ids path should beat TF Text 2x, so anything under 50x means something else went badly wrong).
    ("wptk ids / reference", "wptk_ids", "reference", 50.0),
]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=4, help="MB (10^6 UTF-8 bytes) of English text (default 4)")
    ap.add_argument("--vocab", default="uncased",
                    help="shared vocab name (%s) or a vocab file path (default uncased)" % ", ".join(testing.VOCABS))
    ap.add_argument("--do-lower-case", action=argparse.BooleanOptionalAction, default=None,
                    help="default: True for uncased/chinese, False for cased vocabs")
    ap.add_argument("--batch", type=int, default=10000, help="lines per batch for the batch APIs (default 10000)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="first passes (each on a fresh instance) of each fast tokenizer; best and median shown")
    ap.add_argument("--reference-repeats", type=int, default=3,
                    help="the same for the slow reference (default 3, as --repeats; ~15 s each at 4 MB)")
    ap.add_argument("--min-time", type=float, default=0.5,
                    help="seconds each round of the 1-vs-2-thread comparison lasts at least (default 0.5)")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                    help="before each measurement, wait up to this long for other processes to go quiet")
    ap.add_argument("--core", type=int, default=None, help="core for the single-core rows (default: the last)")
    ap.add_argument("--show", type=int, default=5, help="mismatching lines to print (default 5)")
    ap.add_argument("--no-reference", action="store_true", help="skip the slow reference (and the exactness check)")
    return ap.parse_args(argv)


def pin_to_one_core(args):
    """Prints the machine and pins this process to the single-core rows' core; returns every allowed core."""
    print("command: %s" % shlex.join(["python"] + sys.argv))
    cpus = allowed_cpus()
    print("machine: %s; %d cores (%d allowed); %s; Python %s"
          % (cpu_model(), os.cpu_count() or 0, len(cpus), platform.platform(), platform.python_version()))
    if hasattr(os, "getloadavg"):
        print("load average before: %.2f %.2f %.2f (other busy processes skew the numbers)" % os.getloadavg())
    core = args.core if args.core is not None else max(cpus)
    pinned = set_process_affinity({core})
    print("single-core rows: %s" % ("pinned to core %d" % core if pinned else "not pinned (no sched_setaffinity)"))
    return cpus


def load_text(args):
    """(vocab path, do_lower_case, lines, UTF-8 bytes) of the run, printed with the packages' versions."""
    root = testing.shared_data()
    if root is None:
        sys.exit("../shared/data not found (set WPTK_SHARED_DATA)")
    vocab, lower = resolve_vocab(args.vocab)
    if args.do_lower_case is not None:
        lower = args.do_lower_case
    lines = load_sample(root, args.mb)
    nbytes = sum(len(line.encode("utf-8")) for line in lines)
    print("text: %d lines, %d UTF-8 bytes (%.2f MB) from %s; vocab %s, do_lower_case=%s"
          % (len(lines), nbytes, nbytes / MB, "+".join(CORPORA), vocab.name, lower))
    versions = []
    for mod in ("tokenizers", "tensorflow", "tensorflow_text", "wptk"):
        try:
            versions.append("%s %s" % (mod, getattr(__import__(mod), "__version__", "?")))
        except ImportError:
            versions.append("%s missing" % mod)
    print("versions: %s" % ", ".join(versions))
    print()
    return vocab, lower, lines, nbytes


def measure(table, args, tf, vocab, lower, lines, cpus):
    """Times every tokenizer into `table`; returns the reference's tokens, wptk's tokens and ids (None if not run)."""
    ref_tokens = None
    if args.no_reference:
        table.add("reference", "reference bert.tokenization .tokenize", note="skipped (--no-reference)")
    else:
        ref_tokens = bench_reference(table, vocab, lower, lines, args.reference_repeats)
    bench_hf(table, vocab, lower, lines, args.batch, args.repeats)
    bench_tf_text(table, tf, vocab, lower, lines, args.batch, args.repeats)
    make = load_wptk(vocab, lower)
    wptk_tokens = parts = None
    if make is not None:
        wptk_tokens, parts = bench_wptk(table, make, lines, args.batch, args.repeats)
        set_process_affinity(cpus)  # every allowed core again, for both rows of the thread comparison
        bench_wptk_threads(table, make, lines, args.batch, args.repeats, args.min_time)
    else:
        for key, label in [("wptk_tokenize", "wptk .tokenize"), ("wptk_ids", "wptk .encode_batch (ids)")]:
            table.add(key, label, note="skipped (wptk not built)")
    return ref_tokens, wptk_tokens, parts


def print_goals(m, exact):
    """The speed goals from the table's MB/s `m`, then the exactness verdicts."""
    if "tf" in m or "tf_tensor" in m:
        m["tf_best"] = max(m.get("tf", 0.0), m.get("tf_tensor", 0.0))  # the faster TF row: the harder goal
    print("\ngoals:")
    for label, num, den, goal in GOALS:
        if num in m and den in m:
            ratio = m[num] / m[den]
            print("  %-48s %8.2fx  goal >= %-5g %s" % (label, ratio, goal, "PASS" if ratio >= goal else "FAIL"))
        else:
            print("  %-48s %8s   goal >= %-5g n/a (a side was skipped)" % (label, "-", goal))
    for label, ok, note in exact:
        print("  %-48s %s (%s)" % (label, "PASS" if ok else "FAIL", note))


def main(argv=None):
    args = parse_args(argv)
    global WAIT_IDLE
    WAIT_IDLE = args.wait_idle
    cpus = pin_to_one_core(args)
    tf = configure_tensorflow()  # before anything starts TensorFlow's runtime (bert.tokenization imports it)
    vocab, lower, lines, nbytes = load_text(args)
    table = Table(nbytes)
    ref_tokens, wptk_tokens, parts = measure(table, args, tf, vocab, lower, lines, cpus)
    table.print()

    exit_code, exact = 0, []
    if ref_tokens is not None and wptk_tokens is not None:
        print("\nexactness vs the reference (%d lines):" % len(lines))
        bad_tokens, bad_ids = check_exactness(lines, ref_tokens, wptk_tokens, parts, vocab, args.show)
        print("  token mismatches: %d lines; id mismatches: %d lines" % (bad_tokens, bad_ids))
        exact = [("wptk tokens == reference tokens", bad_tokens == 0, "%d mismatching lines" % bad_tokens),
                 ("wptk ids == vocab line ids of reference tokens", bad_ids == 0, "%d mismatching lines" % bad_ids)]
        exit_code = 0 if bad_tokens == 0 and bad_ids == 0 else 1
    print_goals(table.mbps, exact)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
