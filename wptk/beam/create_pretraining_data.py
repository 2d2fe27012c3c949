"""BERT pretraining data as an Apache Beam pipeline: ``wptk create-pretraining-data``, bucket by bucket.

    python -m pipelines.create_pretraining_data --input_file=GLOBS --output_dir=DIR --vocab_file=V \\
        [reference flags] [--num_buckets=N] [--gzip] [--split_sentences] [Beam pipeline options]

How the job runs, and what makes its output exact and reproducible:

1. Reading. ``--input_file`` is a comma-separated list of files or glob patterns on any Beam filesystem (local,
   gs://, s3://, hdfs://, ...), matched and opened with ``FileSystems``. Lines are split on "\\n" only and
   decoded as the reference does (wptk.reader) (invalid UTF-8 bytes dropped and counted; ``--errors=strict`` fails instead).
   A document is a run of lines up to a blank line (``str.strip()`` leaves nothing) *or the end of a file* (unlike
   the single-process command, a file boundary ends a document here). Plain files are read by a splittable DoFn
   in byte ranges of ``--input_split_mb``; a range owns the documents whose *key* lies in it, the key being the
   offset of the blank line just before the document (0 for a document starting at offset 0). A reader skips
   the document its range starts inside and reads past its end to finish its last document, so every document
   is read exactly once, whatever the split points (also dynamic splits). Compressed files (by extension) are
   read whole; a truncated or corrupt one is an error (``CompressedInput``). ``--split_sentences`` first splits
   every line (one paragraph per line) into sentences with ``split_sentences``.
2. Bucketing. A document's text is its lines joined by "\\n" (after decoding, and after sentence splitting);
   ``wptk.buckets.document_digest(random_seed, text)`` = blake2b-128 of ``b"%d\\n" % random_seed + UTF-8 text``; its bucket is
   the first 8 digest bytes, big-endian, modulo ``--num_buckets``. Membership depends only on the seed and the
   text: not on file names, file order, compression, splits, worker count or runner. Readers write documents to
   spill files in ``DIR/.wptk-shuffle-<id>/`` and send only (file, offset, length) references through the
   GroupByKey, so no process (a local runner's driver included) holds more than a bucket of text: a worker's
   memory is set by the bucket size (input size / --num_buckets), not by the corpus size.
3. Instances. A bucket's documents are sorted by (digest, UTF-8 text), written as lines with a blank line after
   each document, and given to ``wptk.pretraining.documents_from_lines``, ``create_instances`` and
   ``write_instances``, with ``random_seed = bucket_seed(random_seed, k)`` = the first 8 bytes, big-endian, of
   blake2b-64 of ``b"wptk-bucket-seed:%d:%d" % (random_seed, k)``, shifted right by one bit (0 <= seed < 2**63).
   So bucket k's file holds exactly the bytes ``wptk create-pretraining-data --random_seed=<bucket_seed>`` writes
   for that text file; random next sentences come from the same bucket.
4. Output. ``DIR/train-KKKKK-of-NNNNN.tfrecord`` (``.tfrecord.gz`` with ``--gzip``) for every bucket, empty
   buckets included, each written into the job's hidden directory and moved to its name by the driver once every
   bucket is complete, then ``DIR/summary.json`` (counts and flags) last; the spill files are deleted. A killed
   job leaves only its hidden directory, which the next run removes once the job's driver is gone. A DIR that holds train-* files, a summary.json or spill
   files is refused unless ``--overwrite``, which deletes them first; when the job fails, the files it wrote are
   deleted again. The counts come from each bucket's own count file (exact on every runner) and, for reading
   (invalid UTF-8), from Beam metrics; the printed summary is queried from the PipelineResult's metrics.

Runners: FnApiRunner in this process by default; ``--runner=DirectRunner`` with ``--direct_running_mode=
multi_processing --direct_num_workers=N`` runs N worker processes (on Beam's FnApiRunner: wptk never starts
Prism, which Beam's DirectRunner would download); any other ``--runner`` (DataflowRunner, FlinkRunner,
SparkRunner, PortableRunner) is passed to Beam as is; give it ``--setup_file ./setup.py`` so that workers build
wptk's kernels.
"""
import argparse
import json
import os
import sys
import tempfile
import time
import uuid

from wptk.program import beam_job_command, quiet_grpc_logs  # noqa: E402

if __name__ == "__main__":      # run as `python -m wptk.beam.create_pretraining_data`: gRPC quiet before Beam loads it
    quiet_grpc_logs()

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from wptk import recipe
from wptk.beam import pretraining as job
from wptk.beam.io import is_local, match_text_inputs, read_file_bytes, write_atomic
from wptk.beam.runner import check_beam_flags, job_metrics, make_runner, run_job, runs_here
from wptk.beam.staging import (delete_outputs, existing_outputs, make_staging, prepare_output_dir, publish,
                               remove_created_dirs, remove_staging)
from wptk.buckets import bucket_seed
from wptk.errors import WptkError
from wptk.formats import FORMATS
from wptk.flags import (ArgumentParser, BoolFlag, absl_argv, add_pretraining_flags, is_gzip, output_format,
                        pretraining_config, require_output_unless_plan, tokenizer_options)
from wptk.reader import dropped_bytes_warning

PROG = beam_job_command("create_pretraining_data")
MB = 1 << 20
AUTO_SPLITS, MIN_AUTO_SPLIT, MAX_AUTO_SPLIT = 64, 1 << 20, 64 << 20   # --input_split_mb=0
STAGING_PREFIX = ".wptk-shuffle-"
OUTPUT_PATTERNS = (*(f"train-*-of-*{f.suffix}" for f in FORMATS.values()), ".train-*", "summary.json",
                   ".summary.json.tmp-*", STAGING_PREFIX + "*/*")

DESCRIPTION = """\
Creates BERT pretraining data (TFRecord files of tf.train.Example) from plain text as `wptk
create-pretraining-data` does, for a corpus of any size, with Apache Beam on this machine or a cluster
(Dataflow, Flink, Spark, Dask). Documents go into --num_buckets buckets by a hash of their text; each bucket
becomes one file DIR/train-KKKKK-of-NNNNN.tfrecord, made exactly as the command makes it with the bucket's own
seed (listed in DIR/summary.json): deterministic on every runner and worker count, but not the same bytes as one
run of the command. The reference's flags keep their names and meaning (and --flagfile=FILE works); Beam's
pipeline options (--runner, --direct_num_workers, ...) are accepted too. Always pass --runner.

example:
  python -m pipelines.create_pretraining_data --input_file='corpus/*.txt' --output_dir=out \\
      --vocab_file=vocab.txt --dupe_factor=5 --num_buckets=64 \\
      --runner=DirectRunner --direct_running_mode=multi_processing --direct_num_workers=2
"""
EPILOG = __doc__.split("\n\n", 2)[2]


# ------------------------------------------------------------------------------------------------- flags


def build_parser():
    p = ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG, allow_abbrev=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_pretraining_flags(p, output_file=False)
    g = p.add_argument_group("pipeline flags")
    g.add_argument("--plan_worker_memory_mb", type=float, default=None, metavar="MB",
                   help="with --plan: also print the --num_buckets that keeps a worker under this many MB (10^6 bytes)")
    g.add_argument("--output_dir",
                   help="directory (any Beam filesystem) for train-KKKKK-of-NNNNN.tfrecord[.gz] and summary.json")
    g.add_argument("--num_buckets", type=int, default=16,
                   help="number of buckets = output files; a bucket's documents must fit one worker's memory "
                        "(default 16)")
    g.add_argument("--split_sentences", default=False, action=BoolFlag,
                   help="input has one paragraph per line: split each line into sentences first (default False)")
    g.add_argument("--overwrite", default=False, action=BoolFlag,
                   help="delete train-* files and summary.json of an earlier run in --output_dir first "
                        "(default: refuse to write into such a directory)")
    g.add_argument("--max_document_mb", type=float, default=256.0,
                   help="a document (lines up to a blank line) larger than this many MiB is an error "
                        "(default 256)")
    g.add_argument("--input_split_mb", type=float, default=0.0,
                   help="plain input files are read in parallel in byte ranges of this many MiB (default 0: the "
                        "total input size / 64, between 1 and 64 MiB)")
    g.add_argument("--check_text", default=True, action=BoolFlag,
                   help="refuse input files whose first 64 KiB look binary: more than 1%% NUL bytes or more than "
                        "10%% invalid UTF-8 (default True)")
    # Flags of the command that mean nothing here: a clear error rather than a silently ignored flag.
    p.add_argument("--output_file", help=argparse.SUPPRESS)
    p.add_argument("--log_examples", help=argparse.SUPPRESS)
    return p


def parse_args(argv, parser=None):
    """(args, config, beam_argv) by `parser` (build_parser's); WptkError for bad values, SystemExit(2) for
    unparseable ones."""
    parser = parser or build_parser()
    argv = absl_argv(argv)
    require_output_unless_plan(parser, argv, "--output_dir")
    args, beam_argv = parser.parse_known_args(argv)
    if args.output_file is not None:
        raise WptkError("--output_file is not a flag of the pipeline: it writes one file per bucket into "
                        "--output_dir")
    if args.log_examples is not None:
        raise WptkError("--log_examples is not supported by the pipeline (use wptk create-pretraining-data)")
    config = pretraining_config(args)
    if not 1 <= args.num_buckets <= 99999:
        raise WptkError(f"--num_buckets must be between 1 and 99999, got {args.num_buckets}")
    if not args.max_document_mb > 0:
        raise WptkError(f"--max_document_mb must be positive, got {args.max_document_mb}")
    if not args.input_split_mb >= 0:
        raise WptkError(f"--input_split_mb must be positive (or 0 for automatic), got {args.input_split_mb}")
    return args, config, beam_argv


# ------------------------------------------------------------------------------------------------- the job


def run(argv):
    """The job; returns the summary dict. Raises WptkError for anything the user can fix."""
    parser = build_parser()
    args, config, beam_argv = parse_args(argv, parser)
    options = PipelineOptions(beam_argv)
    runner, runner_text = make_runner(options)
    check_beam_flags(parser, beam_argv)   # after make_runner: its runner's options count
    vocab_bytes = read_file_bytes(args.vocab_file, "vocab file")
    tokenizer = check_vocab(args, vocab_bytes)
    inputs = match_text_inputs(args.input_file, args.check_text,
                               empty="the input has no documents: every input file is empty")
    if args.plan:
        return plan_job(args, inputs, tokenizer, config)
    output_dir = args.output_dir.rstrip("/") or "/"
    created = prepare_output_dir(output_dir, args.overwrite,
                                 [p for p in [path for path, _ in inputs] + [args.vocab_file] if is_local(p)],
                                 OUTPUT_PATTERNS, STAGING_PREFIX)
    settings = job_settings(args, config, inputs, vocab_bytes, output_dir)
    start = time.perf_counter()
    try:
        counts, metrics = run_buckets(args, inputs, settings, runner, options)
    except BaseException:
        delete_outputs(existing_outputs(output_dir, OUTPUT_PATTERNS), STAGING_PREFIX)
        remove_created_dirs(created)
        raise
    summary = write_summary(args, config, inputs, settings, counts, metrics, runner_text)
    summary["seconds"] = time.perf_counter() - start
    report(args, config, summary)
    return summary


def check_vocab(args, vocab_bytes):
    """The driver's tokenizer, made once here so that a vocab that cannot be used (or does not suit the case
    flags: a warning) is told before the job starts."""
    from wptk.pretraining import VocabIds
    from wptk.flags import case_flags
    from wptk.program import setup_warnings
    from wptk.tokenization import FullTokenizer
    setup_warnings(PROG, case_flags(args))
    with tempfile.TemporaryDirectory() as tmp:
        local_vocab = args.vocab_file
        if not is_local(local_vocab):
            local_vocab = os.path.join(tmp, args.vocab_file.rstrip("/").rsplit("/", 1)[-1] or "vocab.txt")
            with open(local_vocab, "wb") as f:
                f.write(vocab_bytes)
        tokenizer = FullTokenizer(local_vocab, **tokenizer_options(args))   # may warn about the case, once
        VocabIds.from_vocab(tokenizer.vocab, args.vocab_file)
    return tokenizer


def job_settings(args, config, inputs, vocab_bytes, output_dir):
    total = sum(size for _, size in inputs)
    split_bytes = (int(args.input_split_mb * MB) if args.input_split_mb else
                   min(max(total // AUTO_SPLITS, MIN_AUTO_SPLIT), MAX_AUTO_SPLIT))
    return job.JobSettings(
        config=config, num_buckets=args.num_buckets, split_bytes=max(1, split_bytes),
        max_document_bytes=max(1, int(args.max_document_mb * MB)), split_sentences=args.split_sentences,
        strict=args.errors == "strict", vocab_bytes=vocab_bytes, tokenizer_options=tokenizer_options(args),
        output_dir=output_dir, output_format=output_format(args), staging=FileSystems.join(output_dir, STAGING_PREFIX + uuid.uuid4().hex))


def run_buckets(args, inputs, settings, runner, options):
    """Runs the Beam job into the staging directory and publishes its files; returns (counts, metrics)."""
    import contextlib
    from wptk.program import beam_log_aside
    from wptk.progress import Ticker
    # A local job's Beam log lines would bury the summary (a progress line stands in for them); a remote job's
    # progress is in them.
    local = runs_here(runner) and is_local(settings.staging)
    total = sum(size for _, size in inputs)
    ticker = Ticker(PROG, lambda: local_progress(settings.staging, total, args.num_buckets),
                    enabled=False if args.quiet or not local else None)
    make_staging(settings.staging)
    with beam_log_aside(PROG) if local else contextlib.nullcontext(), ticker:
        result = run_job(runner, options, lambda p: p | job.CreatePretrainingData(inputs, settings))
    metrics = query_metrics(result)
    counts = job.job_counts(job.collect_bucket_stats(settings.staging, args.num_buckets), metrics)
    if counts["documents"] == 0:
        raise WptkError("the input has no documents: every line is blank or has no tokens")
    names = [job.output_name(k, args.num_buckets, settings.output_format) for k in range(args.num_buckets)]
    publish([FileSystems.join(settings.staging, n) for n in names],
            [FileSystems.join(settings.output_dir, n) for n in names])
    return counts, metrics


def query_metrics(result):
    """{name: value} of the job's counters and distributions ({min, max, mean, count}); None without metrics."""
    found = job_metrics(result)
    if found is None:
        return None
    counters, distributions = found
    out = {name: 0 for name in job.BUCKET_COUNTS + job.READ_COUNTS}
    out.update(counters)
    for name, value in distributions.items():
        out[name] = {"min": value.min, "max": value.max, "mean": round(value.mean, 1), "count": value.count}
    return out


def write_summary(args, config, inputs, settings, counts, metrics, runner_text):
    """Writes output_dir/summary.json (last: the output is complete when it exists), removes the staging
    directory, and returns the summary."""
    summary = {
        "counts": counts,
        "metrics": metrics,
        "input": {"files": len(inputs), "bytes": sum(size for _, size in inputs)},
        "bucket_seeds": [bucket_seed(config.random_seed, k) for k in range(args.num_buckets)],
        "output_files": [job.output_name(k, args.num_buckets, settings.output_format) for k in range(args.num_buckets)],
        "profile": recipe.figures({**counts, **counts["recipe"]}, config),
        "flags": flags_used(args),
        "runner": runner_text,
    }
    write_atomic(FileSystems.join(settings.output_dir, "summary.json"),
                 [json.dumps(summary, indent=2, sort_keys=False).encode("utf-8") + b"\n"])
    remove_staging(settings.staging)      # a kill before this leaves it to the next run (its owner is gone)
    summary["output_dir"] = settings.output_dir
    return summary


def report(args, config, summary):
    """The summary and the warnings on the terminal."""
    counts = summary["counts"]
    if not args.quiet:
        print(summary_text(summary))
    for line in recipe.warnings({**counts, **counts["recipe"]}, config) + empty_bucket_warnings(counts, args):
        print(f"{PROG}: warning: {line}", file=sys.stderr)
    if counts["dropped_utf8_bytes"]:
        print(dropped_bytes_warning(PROG, counts["dropped_utf8_bytes"], counts["dropped_utf8_lines"]),
              file=sys.stderr)


def empty_bucket_warnings(counts, args):
    """A warning when buckets came out empty: their files exist (every bucket has one, so that a set is complete
    by its names) but hold no record."""
    empty = counts["empty_buckets"]
    if not empty:
        return []
    return [f"{empty} of {args.num_buckets} buckets hold no instances (their files are empty, so that the set "
            f"stays complete): {counts['documents']:,} document(s) are too few for --num_buckets={args.num_buckets}; "
            "use fewer buckets"]


def plan_job(args, inputs, tokenizer, config):
    """--plan: the prediction for this job, printed; nothing is written. Reads local files only."""
    from wptk.plan import plan, plan_text
    from wptk.sentences import split_sentences
    remote = [path for path, _ in inputs if not is_local(path)]
    if remote:
        raise WptkError(f"--plan reads local files only ({remote[0]}): copy a part of the corpus here to plan")
    result = plan([path for path, _ in inputs], tokenizer, config, gzip=is_gzip(output_format(args)), num_buckets=args.num_buckets,
                  batch_size=args.plan_batch_size,
                  worker_memory=args.plan_worker_memory_mb * 1e6 if args.plan_worker_memory_mb else None,
                  split_sentences=split_sentences if args.split_sentences else None)
    print(json.dumps(result) if args.json else plan_text(result, PROG))
    return result


def local_progress(staging, total_bytes, num_buckets):
    """How far a job is, from its local staging directory: the text its readers have spilled (about the input's
    size when all is read) and the buckets whose stats file exists (written last, when a bucket is complete)."""
    spilled = done = 0
    try:
        for entry in os.scandir(staging):
            if entry.name.endswith(".docs"):
                spilled += entry.stat().st_size
            done += entry.name.startswith("stats-")
    except OSError:         # not made yet, or a file went away while looking
        return ""
    return (f"read {min(spilled, total_bytes) / 1e6:,.1f} of {total_bytes / 1e6:,.1f} MB, "
            f"{done:,} of {num_buckets:,} buckets written")


def flags_used(args):
    names = ("input_file", "output_dir", "vocab_file", "do_lower_case", "do_whole_word_mask", "max_seq_length",
             "max_predictions_per_seq", "random_seed", "dupe_factor", "masked_lm_prob", "short_seq_prob", "gzip",
             "errors", "num_buckets", "split_sentences", "max_document_mb", "input_split_mb", "check_text",
             "masking", "sentence_pair", "output_format")
    return {name: getattr(args, name) for name in names + ("multilingual",) if hasattr(args, name)}


def summary_text(summary):
    """The lines printed when the job ends: counts from the Beam metrics queried from the PipelineResult (from the
    buckets' own counts for a runner without metrics), bucket sizes, and where the output is."""
    metrics, counts = summary["metrics"], summary["counts"]
    c = metrics if metrics is not None else counts
    size = counts["bucket_documents"]
    lines = [f"{c['documents']:,} documents, {c['sentences']:,} sentences, {c['tokens']:,} tokens "
             f"({c['unk_tokens']:,} [UNK]) -> {c['instances']:,} instances ({c['masked_tokens']:,} masked tokens, "
             f"{c['random_next']:,} random next, {c['truncated']:,} truncated pairs)",
             f"{summary['input']['files']:,} input file(s), {summary['input']['bytes'] / 1e6:,.1f} MB; "
             f"{len(summary['output_files'])} bucket(s) of {size['min']:,}..{size['max']:,} documents "
             f"(mean {size['mean']:,})",
             f"{100 * summary['profile']['masked_share']:.1f}% of real tokens masked, "
             f"{100 * summary['profile']['random_next_share']:.0f}% random next, "
             f"{100 * summary['profile']['padding_share']:.0f}% padding"]
    if metrics is None:
        lines.append("this runner reports no Beam metrics: counts are the buckets' own; invalid UTF-8 not counted")
    elif any(metrics[name] != counts[name] for name in job.BUCKET_COUNTS):
        lines.append("warning: the Beam metrics differ from the buckets' own counts (summary.json has the "
                     "latter): did the runner count retried bundles twice?")
    if counts["dropped_utf8_bytes"]:
        lines.append(f"dropped {counts['dropped_utf8_bytes']:,} invalid UTF-8 byte(s) in "
                     f"{counts['dropped_utf8_lines']:,} line(s)")
    first, last = summary["output_files"][0], summary["output_files"][-1]
    lines.append(f"wrote {summary['output_dir']}/{{{first} .. {last}, summary.json}} in "
                 f"{summary['seconds']:.1f} s on {summary['runner']}")
    return "\n".join(f"{PROG}: {line}" if i == 0 else f"  {line}" for i, line in enumerate(lines))


def main(argv=None):
    from wptk.program import run_guarded
    return run_guarded(PROG, run, sys.argv[1:] if argv is None else list(argv))


if __name__ == "__main__":
    from wptk.program import run_beam_program
    run_beam_program("create_pretraining_data")
