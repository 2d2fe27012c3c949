"""Word counts for ``wptk vocab``, as an Apache Beam pipeline.

    python -m pipelines.word_count --input_file=GLOBS --output=PREFIX [--no-lower] [--multilingual]
        [--num_shards=N] [--input_split_mb=MB] [Beam pipeline options]
    wptk vocab --word_counts=PREFIX --output=vocab.txt --vocab_size=30522      # learn from the counts

``wptk vocab --input_file=...`` runs the same pipeline on a local runner; this entry point runs it anywhere
(e.g. ``--runner=DataflowRunner --setup_file ./setup.py ...``) and keeps the counts.

The chain: input files (any Beam filesystem; matched with ``FileSystems``) -> byte ranges of
``--input_split_mb`` (a range owns the lines that start in it; gzip/bz2 files are one range) -> each range's
text, decoded as the reference does (invalid UTF-8 bytes dropped and counted), split into words by
``wptk.BasicTokenizer`` (the tokenizer the vocabulary is for) and counted with ``wptk.vocab_learner.count_words``
-> the counts split into ``--num_shards`` shards by a hash of the word -> summed per shard
(``wptk.vocab_learner.merge_counts``) -> ``PREFIX-SSSSS-of-NNNNN.tsv`` (``word<TAB>count`` lines, sorted by word;
every shard is written, empty ones too) and ``PREFIX-summary.json`` last. Counts are sums, so the files do not
depend on the runner, the worker count or the order of the work.

Runners are chosen as in ``pipelines.create_pretraining_data``: FnApiRunner in this process by default;
``--runner=DirectRunner --direct_running_mode=multi_processing --direct_num_workers=N`` for N local worker
processes (never Beam's Prism download); any other runner is passed to Beam as is.
"""
import argparse
import collections
import functools
import json
import sys
import time
import zlib

if __name__ == "__main__":
    from wptk.cli_support import quiet_grpc_logs
    quiet_grpc_logs()           # as a program only, before Beam imports gRPC

from pipelines.create_pretraining_data import (  # noqa: E402  (also quiets Beam's import-time warning)
    CompressedInput, check_beam_flags, check_text_file, first_line_start, is_compressed, job_metrics, make_runner,
    match_inputs, open_input, worker_errors_as_user_errors, write_atomic)

import apache_beam as beam  # noqa: E402
from apache_beam.io.filesystem import CompressionTypes  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.metrics import Metrics  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from wptk import vocab_learner  # noqa: E402
from wptk.cli_support import ArgumentParser  # noqa: E402
from wptk.cmd_vocab import add_count_flags, add_tokenizer_flags, check_count_flags, resolve_case  # noqa: E402
from wptk.errors import WptkError  # noqa: E402

PROG = "python -m pipelines.word_count"
NAMESPACE = "wptk"
MB = 1 << 20
READ_CHUNK = 4 << 20             # text handed to the tokenizer at once (whole lines)
COUNTERS = ("bytes", "words", "dropped_utf8_bytes", "ranges")

# Bytes counted so far by ranges running in this process (FnApiRunner in_memory / multi_threading): the
# command line's progress display reads it.
bytes_counted = [0]


# ------------------------------------------------------------------------------------------------- the work


def split_ranges(inputs, split_bytes):
    """(path, start, stop, compressed) byte ranges of [(path, size)]: plain files in pieces of `split_bytes`,
    compressed ones whole; empty files give none."""
    ranges = []
    for path, size in inputs:
        if size == 0:
            continue
        if is_compressed(path):
            ranges.append((path, 0, size, True))
            continue
        for start in range(0, size, split_bytes):
            ranges.append((path, start, min(size, start + split_bytes), False))
    return ranges


def read_range(path, start, stop, compressed):
    """Chunks of whole lines (bytes) of the lines that start in [start, stop) of `path` (all of a compressed
    file): the range reads past `stop` to finish its last line, and skips a line that began before `start`."""
    with CompressedInput(path) if compressed else open_input(path, CompressionTypes.UNCOMPRESSED) as f:
        if compressed:
            remaining = float("inf")
        else:
            position = first_line_start(f, start)
            if position is None or position >= stop:
                return
            remaining = stop - position
        rest = b""
        while remaining > 0:
            chunk = f.read(int(min(READ_CHUNK, remaining)))
            if not chunk:
                break
            remaining -= len(chunk)
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            if cut:
                yield data[:cut]
        while rest and not compressed:              # the last line runs past `stop`: finish it
            chunk = f.read(64 * 1024)
            if not chunk:
                break
            newline = chunk.find(b"\n")
            if newline >= 0:
                rest += chunk[:newline + 1]
                break
            rest += chunk
        if rest:
            yield rest


@functools.lru_cache(maxsize=None)
def basic_tokenizer(lower, multilingual):
    """The pre-tokenizer of `wptk vocab` (one per process and setting)."""
    import wptk
    if multilingual:
        return wptk.BasicTokenizer(do_lower_case=False, multilingual=True)
    return wptk.BasicTokenizer(do_lower_case=lower)


def shard_of(word, num_shards):
    return zlib.crc32(word.encode("utf-8", "surrogatepass")) % num_shards


def count_range(element, lower, multilingual, num_shards):
    """(path, start, stop, compressed) -> (shard, {word: count}) for every shard the range's words fall in."""
    started = time.time()
    path, start, stop, compressed = element
    tokenizer = basic_tokenizer(lower, multilingual)
    counts = collections.Counter()
    dropped = size = 0
    for data in read_range(path, start, stop, compressed):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", "ignore")           # the reference drops invalid bytes
            dropped += len(data) - len(text.encode("utf-8"))
        vocab_learner.count_words(text, tokenizer, counts)
        size += len(data)
        bytes_counted[0] += len(data)
    Metrics.counter(NAMESPACE, "bytes").inc(size)
    Metrics.counter(NAMESPACE, "words").inc(sum(counts.values()))
    Metrics.counter(NAMESPACE, "dropped_utf8_bytes").inc(dropped)
    Metrics.counter(NAMESPACE, "ranges").inc()
    Metrics.distribution(NAMESPACE, "range_start_ms").update(int(started * 1000))
    Metrics.distribution(NAMESPACE, "range_end_ms").update(int(time.time() * 1000))
    shards = {}
    for word, n in counts.items():
        shards.setdefault(shard_of(word, num_shards), {})[word] = n
    return sorted(shards.items())


def shard_name(prefix, shard, num_shards):
    return f"{prefix}-{shard:05d}-of-{num_shards:05d}.tsv"


def summary_name(prefix):
    return f"{prefix}-summary.json"


def write_shard(element, prefix, num_shards):
    """Writes one shard's counts as `word<TAB>count` lines sorted by word (atomically); returns its size."""
    shard, counts = element
    lines = [f"{word}\t{n}\n" for word, n in sorted(counts.items())]
    write_atomic(shard_name(prefix, shard, num_shards), ["".join(lines).encode("utf-8", "surrogatepass")])
    return len(counts)


class CountWords(beam.PTransform):
    """Input files [(path, size)] -> (shard, {word: count}) for every shard 0 .. num_shards - 1 (empty ones too)."""

    def __init__(self, inputs, lower=True, multilingual=False, split_bytes=16 * MB, num_shards=16):
        super().__init__()
        self.ranges = split_ranges(inputs, split_bytes)
        self.lower, self.multilingual, self.num_shards = lower, multilingual, num_shards

    def expand(self, pbegin):
        counted = (pbegin
                   | "Ranges" >> beam.Create(self.ranges)
                   | "CountRanges" >> beam.FlatMap(count_range, self.lower, self.multilingual, self.num_shards))
        every_shard = pbegin | "EveryShard" >> beam.Create([(k, {}) for k in range(self.num_shards)])
        return ((counted, every_shard) | "Flatten" >> beam.Flatten()
                | "SumShards" >> beam.CombinePerKey(vocab_learner.merge_counts))


def build_pipeline(p, inputs, prefix, lower=True, multilingual=False, split_bytes=16 * MB, num_shards=16):
    """Adds the job to pipeline `p`: inputs [(path, size)] -> the count files of `prefix`."""
    return (p | "CountWords" >> CountWords(inputs, lower, multilingual, split_bytes, num_shards)
            | "WriteShards" >> beam.Map(write_shard, prefix, num_shards))


def query_counts(result):
    """{counter: value} of the job, plus `count_stage_seconds` (first range started to last range ended, over
    all workers); None for a runner that reports no metrics."""
    found = job_metrics(result, NAMESPACE)
    if found is None:
        return None
    counters, span = found
    counts = dict.fromkeys(COUNTERS, 0)
    counts.update(counters)
    if "range_start_ms" in span and "range_end_ms" in span:
        counts["count_stage_seconds"] = (span["range_end_ms"].max - span["range_start_ms"].min) / 1000
    return counts


def count_words(inputs, prefix, options, lower=True, multilingual=False, split_bytes=16 * MB, num_shards=16):
    """Runs the job; writes the count files and the summary of `prefix`, and returns the summary (a dict)."""
    runner, runner_text = make_runner(options)
    start = time.perf_counter()
    with worker_errors_as_user_errors():
        p = beam.Pipeline(runner=runner, options=options)
        build_pipeline(p, inputs, prefix, lower, multilingual, split_bytes, num_shards)
        result = p.run()
        state = result.wait_until_finish()
    if state is not None and str(state).split(".")[-1] not in ("DONE", "UNKNOWN"):
        raise RuntimeError(f"the pipeline ended in state {state}")
    summary = {"counts": query_counts(result), "num_shards": num_shards, "lower": lower and not multilingual,
               "multilingual": multilingual, "input": {"files": len(inputs), "bytes": sum(s for _, s in inputs)},
               "runner": runner_text, "seconds": round(time.perf_counter() - start, 3)}
    write_atomic(summary_name(prefix), [json.dumps(summary, indent=2).encode("utf-8") + b"\n"])
    return summary


def read_counts(prefix):
    """({word: count}, summary) from the files of `prefix` (as written by this pipeline)."""
    try:
        with FileSystems.open(summary_name(prefix), compression_type=CompressionTypes.UNCOMPRESSED) as f:
            summary = json.loads(f.read().decode("utf-8"))
        num_shards = int(summary["num_shards"])
    except Exception:
        raise WptkError(f"no word counts at {prefix}: {summary_name(prefix)} is missing or unreadable (write "
                        f"them with {PROG} --output={prefix})") from None
    counts = {}
    for shard in range(num_shards):
        name = shard_name(prefix, shard, num_shards)
        try:
            with FileSystems.open(name, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                data = f.read().decode("utf-8", "surrogatepass")
        except Exception:
            raise WptkError(f"word counts incomplete: cannot read {name}") from None
        for number, line in enumerate(data.split("\n")[:-1], 1):
            word, tab, n = line.rpartition("\t")
            if not tab or not n.isdigit():
                raise WptkError(f"{name}:{number}: expected word<TAB>count")
            counts[word] = counts.get(word, 0) + int(n)
    return counts, summary


# ------------------------------------------------------------------------------------------------- command line


def build_parser():
    p = ArgumentParser(prog=PROG, description=__doc__.split("\n\n", 2)[2], allow_abbrev=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input_file", required=True,
                   help="comma-separated files or glob patterns (any Beam filesystem), plain text or compressed (.gz, .bz2, .xz, .lzma)")
    p.add_argument("--output", required=True,
                   help="prefix of the output files: PREFIX-SSSSS-of-NNNNN.tsv and PREFIX-summary.json")
    add_tokenizer_flags(p)
    add_count_flags(p)
    return p


def match_text_inputs(patterns, check_text=True):
    """[(path, size)] of the input patterns; WptkError when one matches nothing, a file looks binary, or all
    of them are empty."""
    inputs = match_inputs(patterns)
    if check_text:
        for path, _ in inputs:
            check_text_file(path)
    if sum(size for _, size in inputs) == 0:
        raise WptkError("the input is empty: every input file has 0 bytes")
    return inputs


def run(argv):
    parser = build_parser()
    args, beam_argv = parser.parse_known_args(argv)
    lower = resolve_case(args)
    check_count_flags(args)
    check_beam_flags(parser, beam_argv)
    inputs = match_text_inputs(args.input_file, args.check_text)
    summary = count_words(inputs, args.output, PipelineOptions(beam_argv), lower, args.multilingual,
                          max(1, int(args.input_split_mb * MB)), args.num_shards)
    c = summary["counts"]
    words = f"{c['words']:,} words in {c['bytes'] / 1e6:,.1f} MB" if c else "counts not reported by the runner"
    print(f"{PROG}: {words}; wrote {shard_name(args.output, 0, args.num_shards)} .. "
          f"{shard_name(args.output, args.num_shards - 1, args.num_shards)} and {summary_name(args.output)} in "
          f"{summary['seconds']:.1f} s on {summary['runner']}")
    return summary


def main(argv=None):
    from wptk.cli_support import run_guarded
    return run_guarded(PROG, run, sys.argv[1:] if argv is None else list(argv))


if __name__ == "__main__":
    # Run through the importable module, so that Beam pickles the functions by reference to it.
    from pipelines.process_costs import exit_program, skip_ipython_probe
    from pipelines.word_count import main as _main
    skip_ipython_probe()
    exit_program(_main())
