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

The shards are written into a hidden staging directory beside PREFIX and moved to their names only when every
shard is complete; then the summary, which records each shard's lines, sum of counts and SHA-256, so that
``read_counts`` refuses a shard that was cut short or changed. A killed job leaves only the staging directory,
which the next job for PREFIX on this host removes.

Runners are chosen as for ``python -m pipelines.create_pretraining_data`` (wptk.beam.runner): FnApiRunner in this process by default;
``--runner=DirectRunner --direct_running_mode=multi_processing --direct_num_workers=N`` for N local worker
processes (never Beam's Prism download); any other runner is passed to Beam as is.
"""
import argparse
import collections
import functools
import hashlib
import json
import os
import sys
import time
import uuid
import zlib

from wptk.program import beam_job_command, quiet_grpc_logs  # noqa: E402

if __name__ == "__main__":      # run as `python -m wptk.beam.word_count`: gRPC quiet before Beam loads it
    quiet_grpc_logs()

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from wptk import vocab_learner
from wptk.beam.io import PLAIN, is_compressed, is_local, match_text_inputs, open_input, read_json, write_atomic
from wptk.beam import NAMESPACE
from wptk.beam.runner import check_beam_flags, job_metrics, make_runner, run_job
from wptk.beam.staging import make_staging, publish, remove_dead_staging, remove_staging
from wptk.beam.workers import fast_worker_exit
from wptk.errors import WptkError
from wptk.flags import ArgumentParser, add_case_flags, add_count_flags, check_count_flags, resolve_case
from wptk.reader import Utf8Decoder, line_blocks, max_line_bytes

fast_worker_exit()      # in a local worker process: no interpreter teardown after the job (wptk.beam.workers)

PROG = beam_job_command("word_count")
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


def read_range(path, start, stop, compressed, max_line=None):
    """Blocks of whole lines (bytes) of the lines that start in [start, stop) of `path` (all of a compressed
    file), by wptk.reader.line_blocks. A line longer than `max_line` bytes is an error naming the file and the
    line's byte offset."""
    def too_long(offset, number):
        return WptkError(f"{path}: the line at byte {offset:,} is longer than --max_line_mb={max_line / MB:g} MiB: "
                         "split it, or raise the limit")
    with open_input(path) as f:
        for _, block in line_blocks(f, 0 if compressed else start, None if compressed else stop, max_line, too_long,
                                    chunk_size=READ_CHUNK):
            yield block


@functools.lru_cache(maxsize=None)
def basic_tokenizer(lower, multilingual):
    """The pre-tokenizer of `wptk vocab` (one per process and setting)."""
    import wptk
    if multilingual:
        return wptk.BasicTokenizer(do_lower_case=False, multilingual=True)
    return wptk.BasicTokenizer(do_lower_case=lower)


def shard_of(word, num_shards):
    return zlib.crc32(word.encode("utf-8", "surrogatepass")) % num_shards


def count_range(element, lower, multilingual, num_shards, max_line=None):
    """(path, start, stop, compressed) -> (shard, {word: count}) for every shard the range's words fall in."""
    started = time.time()
    path, start, stop, compressed = element
    tokenizer = basic_tokenizer(lower, multilingual)
    counts = collections.Counter()
    decoder = Utf8Decoder()         # the reference drops invalid bytes
    size = 0
    for data in read_range(path, start, stop, compressed, max_line):
        vocab_learner.count_words(decoder.decode(data, path), tokenizer, counts)
        size += len(data)
        bytes_counted[0] += len(data)
    Metrics.counter(NAMESPACE, "bytes").inc(size)
    Metrics.counter(NAMESPACE, "words").inc(sum(counts.values()))
    Metrics.counter(NAMESPACE, "dropped_utf8_bytes").inc(decoder.dropped_bytes)
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


def staging_name(prefix, job):
    """The hidden staging directory of a job writing `prefix` ("*" for a pattern matching any job's)."""
    directory, base = os.path.split(prefix) if is_local(prefix) else prefix.rsplit("/", 1)
    return FileSystems.join(directory or ".", f".{base}.wptk-staging-{job}")


def shard_totals(data):
    """What the summary records of a shard's bytes to verify it: lines, sum of counts, SHA-256."""
    return {"lines": data.count(b"\n"), "count_sum": sum(int(line.rpartition(b"\t")[2])
                                                         for line in data.split(b"\n")[:-1]),
            "sha256": hashlib.sha256(data).hexdigest()}


def write_shard(element, staging, base, num_shards):
    """Writes one shard's counts as `word<TAB>count` lines sorted by word into the staging directory
    (atomically), and its totals (shard_totals) beside it; returns the number of words."""
    shard, counts = element
    data = "".join(f"{word}\t{n}\n" for word, n in sorted(counts.items())).encode("utf-8", "surrogatepass")
    write_atomic(FileSystems.join(staging, shard_name(base, shard, num_shards)), [data])
    write_atomic(FileSystems.join(staging, f"totals-{shard:05d}.json"), [json.dumps(shard_totals(data)).encode()])
    return len(counts)


class CountWords(beam.PTransform):
    """Input files [(path, size)] -> (shard, {word: count}) for every shard 0 .. num_shards - 1 (empty ones too)."""

    def __init__(self, inputs, lower=True, multilingual=False, split_bytes=16 * MB, num_shards=16, max_line=None):
        super().__init__()
        self.ranges = split_ranges(inputs, split_bytes)
        self.lower, self.multilingual, self.num_shards, self.max_line = lower, multilingual, num_shards, max_line

    def expand(self, pbegin):
        counted = (pbegin
                   | "Ranges" >> beam.Create(self.ranges)
                   | "CountRanges" >> beam.FlatMap(count_range, self.lower, self.multilingual, self.num_shards,
                                                          self.max_line))
        every_shard = pbegin | "EveryShard" >> beam.Create([(k, {}) for k in range(self.num_shards)])
        return ((counted, every_shard) | "Flatten" >> beam.Flatten()
                | "SumShards" >> beam.CombinePerKey(vocab_learner.merge_counts))


def build_pipeline(p, inputs, staging, base, lower=True, multilingual=False, split_bytes=16 * MB, num_shards=16,
                   max_line=None):
    """Adds the job to pipeline `p`: inputs [(path, size)] -> the count files named `base`... in `staging`."""
    return (p | "CountWords" >> CountWords(inputs, lower, multilingual, split_bytes, num_shards, max_line)
            | "WriteShards" >> beam.Map(write_shard, staging, base, num_shards))


def query_counts(result):
    """{counter: value} of the job, plus `count_stage_seconds` (first range started to last range ended, over
    all workers); None for a runner that reports no metrics."""
    found = job_metrics(result)
    if found is None:
        return None
    counters, span = found
    counts = dict.fromkeys(COUNTERS, 0)
    counts.update(counters)
    if "range_start_ms" in span and "range_end_ms" in span:
        counts["count_stage_seconds"] = (span["range_end_ms"].max - span["range_start_ms"].min) / 1000
    return counts


def count_words(inputs, prefix, beam_argv, lower=True, multilingual=False, split_bytes=16 * MB, num_shards=16,
                max_line=None):
    """Runs the job with Beam's flags `beam_argv`; writes the count files and the summary of `prefix`, and returns
    the summary (a dict). The
    shards get their names only when all are complete, the summary last; a killed job's staging directory
    is removed by the next job for `prefix` on this host."""
    options = PipelineOptions(beam_argv)
    runner, runner_text = make_runner(options)
    start = time.perf_counter()
    remove_dead_staging(staging_name(prefix, "*"), prefix)
    staging = staging_name(prefix, uuid.uuid4().hex)
    base = prefix.rstrip("/").rsplit("/", 1)[-1] if not is_local(prefix) else os.path.basename(prefix)
    try:
        make_staging(staging)
        result = run_job(runner, options, lambda p: build_pipeline(p, inputs, staging, base, lower, multilingual,
                                                                   split_bytes, num_shards, max_line))
        totals = [_read_json(FileSystems.join(staging, f"totals-{k:05d}.json"), f"shard {k} did not complete")
                  for k in range(num_shards)]
        publish([FileSystems.join(staging, shard_name(base, k, num_shards)) for k in range(num_shards)],
                [shard_name(prefix, k, num_shards) for k in range(num_shards)])
        summary = {"counts": query_counts(result), "num_shards": num_shards, "lower": lower and not multilingual,
                   "multilingual": multilingual, "input": {"files": len(inputs), "bytes": sum(s for _, s in inputs)},
                   "runner": runner_text, "seconds": round(time.perf_counter() - start, 3), "shards": totals}
        write_atomic(summary_name(prefix), [json.dumps(summary, indent=2).encode("utf-8") + b"\n"])
    finally:
        remove_staging(staging)
    return summary


def _read_json(path, problem):
    try:
        return read_json(path)
    except Exception:
        raise WptkError(f"{problem} (no {path}), although the runner reported success") from None


MAX_COUNT = (1 << 63) - 1


def read_counts(prefix):
    """({word: count}, summary) from the files of `prefix` (as written by this pipeline), each shard checked
    against the totals the summary records: a shard cut short, changed or replaced is an error naming it."""
    try:
        with FileSystems.open(summary_name(prefix), compression_type=PLAIN) as f:
            summary = json.loads(f.read().decode("utf-8"))
        num_shards = int(summary["num_shards"])
    except Exception:
        raise WptkError(f"no word counts at {prefix}: {summary_name(prefix)} is missing or unreadable (write "
                        f"them with {PROG} --output={prefix})") from None
    totals = summary.get("shards")
    if not isinstance(totals, list) or len(totals) != num_shards:
        raise WptkError(f"{summary_name(prefix)} records no totals to check the shards with (written by an older "
                        f"wptk?): count again with {PROG} --output={prefix}")
    counts = {}
    for shard in range(num_shards):
        name = shard_name(prefix, shard, num_shards)
        try:
            with FileSystems.open(name, compression_type=PLAIN) as f:
                raw = f.read()
        except Exception:
            raise WptkError(f"word counts incomplete: cannot read {name}") from None
        expected = totals[shard]
        if hashlib.sha256(raw).hexdigest() != expected.get("sha256"):
            lines = raw.count(b"\n")
            how = (f"{lines:,} lines where {summary_name(prefix)} records {expected.get('lines', '?'):,}"
                   if lines != expected.get("lines") else "its SHA-256 differs from the summary's")
            raise WptkError(f"{name} is not the shard that was written ({how}: cut short or changed); count again "
                            f"with {PROG} --output={prefix}")
        data = raw.decode("utf-8", "surrogatepass")
        for number, line in enumerate(data.split("\n")[:-1], 1):
            word, tab, n = line.rpartition("\t")
            if not tab or not n.isdigit() or int(n) > MAX_COUNT:
                raise WptkError(f"{name}:{number}: expected word<TAB>count (a count below 2^63)")
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
    add_case_flags(p)
    add_count_flags(p)
    return p


def run(argv):
    parser = build_parser()
    args, beam_argv = parser.parse_known_args(argv)
    lower = resolve_case(args)
    check_count_flags(args)
    check_beam_flags(parser, beam_argv)
    inputs = match_text_inputs(args.input_file, args.check_text)
    summary = count_words(inputs, args.output, beam_argv, lower, args.multilingual,
                          max(1, int(args.input_split_mb * MB)), args.num_shards, max_line_bytes(args.max_line_mb))
    c = summary["counts"]
    words = f"{c['words']:,} words in {c['bytes'] / 1e6:,.1f} MB" if c else "counts not reported by the runner"
    print(f"{PROG}: {words}; wrote {shard_name(args.output, 0, args.num_shards)} .. "
          f"{shard_name(args.output, args.num_shards - 1, args.num_shards)} and {summary_name(args.output)} in "
          f"{summary['seconds']:.1f} s on {summary['runner']}")
    return summary


def main(argv=None):
    from wptk.program import run_guarded
    return run_guarded(PROG, run, sys.argv[1:] if argv is None else list(argv))


if __name__ == "__main__":
    from wptk.program import run_beam_program
    run_beam_program("word_count")
