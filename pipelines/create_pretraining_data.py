"""BERT pretraining data as an Apache Beam pipeline: ``wptk create-pretraining-data``, bucket by bucket.

    python -m pipelines.create_pretraining_data --input_file=GLOBS --output_dir=DIR --vocab_file=V \\
        [reference flags] [--num_buckets=N] [--gzip] [--split_sentences] [Beam pipeline options]

How the job runs, and what makes its output exact and reproducible:

1. Reading. ``--input_file`` is a comma-separated list of files or glob patterns on any Beam filesystem (local,
   gs://, s3://, hdfs://, ...), matched and opened with ``FileSystems``. Lines are split on "\\n" only and
   decoded as the reference does (invalid UTF-8 bytes dropped and counted; ``--errors=strict`` fails instead).
   A document is a run of lines up to a blank line (``str.strip()`` leaves nothing) *or the end of a file* (unlike
   the single-process command, a file boundary ends a document here). Plain files are read by a splittable DoFn
   in byte ranges of ``--input_split_mb``; a range owns the documents whose *key* lies in it, the key being the
   offset of the blank line just before the document (0 for a document starting at offset 0). A reader skips
   the document its range starts inside and reads past its end to finish its last document, so every document
   is read exactly once, whatever the split points (also dynamic splits). Compressed files (by extension) are
   read whole; a truncated or corrupt one is an error (``CompressedInput``). ``--split_sentences`` first splits
   every line (one paragraph per line) into sentences with ``split_sentences``.
2. Bucketing. A document's text is its lines joined by "\\n" (after decoding, and after sentence splitting);
   ``document_digest(random_seed, text)`` = blake2b-128 of ``b"%d\\n" % random_seed + UTF-8 text``; its bucket is
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
import contextlib
import dataclasses
import fnmatch
import gzip as gzip_module
import hashlib
import itertools
import json
import logging
import os
import re
import struct
import sys
import tempfile
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor


class _QuietBeamImport(logging.Filter):
    """Drops the one warning `import apache_beam` logs about optional GCP client libraries."""

    def filter(self, record):
        return "apitools not found" not in str(record.msg)


logging.getLogger().addFilter(_QuietBeamImport())
if __name__ == "__main__":
    from wptk.cli_support import quiet_grpc_logs
    quiet_grpc_logs()           # as a program only, before Beam imports gRPC

import apache_beam as beam  # noqa: E402
from apache_beam.io.filesystem import CompressionTypes  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.io.restriction_trackers import (  # noqa: E402
    OffsetRange, OffsetRestrictionTracker, UnsplittableRestrictionTracker)
from apache_beam.metrics import Metrics  # noqa: E402
from apache_beam.metrics.metric import MetricsFilter  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions  # noqa: E402

from pipelines.process_costs import (  # noqa: E402
    exit_program, fast_worker_exit, local_runner, prepare_local_workers, skip_ipython_probe)
from wptk import cmd_pretraining  # noqa: E402
from wptk._native.lines import blank_lines  # noqa: E402
from wptk import pretraining as pt  # noqa: E402
from wptk import recipe  # noqa: E402
from wptk.cli_support import ArgumentParser, BoolFlag, absl_argv, with_suggestions  # noqa: E402
from wptk.errors import UsageError, WptkError  # noqa: E402
from wptk.textio import READ_ERRORS, check_input, decompressor, dropped_bytes_warning  # noqa: E402

PROG = "python -m pipelines.create_pretraining_data"
NAMESPACE = "wptk"
MB = 1 << 20
TEXT_CHECK_BYTES = 64 * 1024
READ_CHUNK = 1 << 20
AUTO_SPLITS, MIN_AUTO_SPLIT, MAX_AUTO_SPLIT = 64, 1 << 20, 64 << 20   # --input_split_mb=0
SPILL_BYTES = 16 << 20          # a reader writes its documents to a spill file whenever it holds this much
SHUFFLE_PREFIX = ".wptk-shuffle-"
LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner")
OUTPUT_PATTERNS = ("train-*-of-*.tfrecord", "train-*-of-*.tfrecord.gz", ".train-*", "summary.json",
                   ".summary.json.tmp-*", SHUFFLE_PREFIX + "*/*")

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

fast_worker_exit()      # in a local worker process: no interpreter teardown after the job (process_costs)


# ------------------------------------------------------------------------------------------------- flags


class _Without:
    """Passes `wptk create-pretraining-data`'s flag definitions to our parser, leaving out the few that the
    pipeline replaces, so names, defaults, types and help stay the command's own."""

    def __init__(self, target, skip):
        self.target, self.skip = target, skip

    def add_argument_group(self, *args, **kwargs):
        return _Without(self.target.add_argument_group(*args, **kwargs), self.skip)

    def add_argument(self, *names, **kwargs):
        if names[0].lstrip("-") in self.skip:
            return None
        return self.target.add_argument(*names, **kwargs)


def build_parser():
    p = ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG, allow_abbrev=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd_pretraining.add_arguments(_Without(p, {"output_file", "log_examples", "max_line_mb"}))
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
    cmd_pretraining.require_output_unless_plan(parser, argv, "--output_dir")
    args, beam_argv = parser.parse_known_args(argv)
    if args.output_file is not None:
        raise WptkError("--output_file is not a flag of the pipeline: it writes one file per bucket into "
                        "--output_dir")
    if args.log_examples is not None:
        raise WptkError("--log_examples is not supported by the pipeline (use wptk create-pretraining-data)")
    config = pt.PretrainingConfig(
        max_seq_length=args.max_seq_length, max_predictions_per_seq=args.max_predictions_per_seq,
        random_seed=args.random_seed, dupe_factor=args.dupe_factor, masked_lm_prob=args.masked_lm_prob,
        short_seq_prob=args.short_seq_prob, do_whole_word_mask=args.do_whole_word_mask)
    config.validate()
    cmd_pretraining.check_plan_flags(args)
    if not 1 <= args.num_buckets <= 99999:
        raise WptkError(f"--num_buckets must be between 1 and 99999, got {args.num_buckets}")
    if not args.max_document_mb > 0:
        raise WptkError(f"--max_document_mb must be positive, got {args.max_document_mb}")
    if not args.input_split_mb >= 0:
        raise WptkError(f"--input_split_mb must be positive (or 0 for automatic), got {args.input_split_mb}")
    return args, config, beam_argv


def check_beam_flags(parser, beam_argv):
    """UsageError for arguments that neither a pipeline's `parser` nor Beam (with the chosen runner's options)
    takes: Beam would only log and drop them. A misspelt flag would silently keep its default (it is named with
    the nearest flag of either, if one is near); a stray path, most often from a glob the shell expanded
    (--input_file dir/*.txt), would silently drop every file but the first."""
    unknown, positional = unrecognized_beam_args(beam_argv)
    if unknown:
        known = parser.option_strings() + [f"--{name}" for name in PipelineOptions([]).get_all_options()]
        raise UsageError(f"unknown flag(s): {with_suggestions(unknown, known)} (neither a flag of this pipeline "
                         "nor a Beam pipeline option)")
    if positional:
        shown = " ".join(positional[:3]) + (f" ... ({len(positional)} in all)" if len(positional) > 3 else "")
        raise UsageError(f"unrecognized arguments: {shown}: this program takes no positional arguments; if the "
                         "shell expanded an unquoted glob into these paths, quote the glob "
                         "(--input_file='dir/*.txt')")


def unrecognized_beam_args(beam_argv):
    """(flags that no Beam PipelineOptions class defines, positional arguments) of `beam_argv`: Beam would only
    log and drop both."""
    options = PipelineOptions(beam_argv)
    log = logging.getLogger("apache_beam.options.pipeline_options")
    level = log.level
    log.setLevel(logging.ERROR)
    beam_parser = []
    try:
        known = set(options.get_all_options(add_extra_args_fn=beam_parser.append))
        retained = set(options.get_all_options(retain_unknown_options=True))
    finally:
        log.setLevel(level)
    names = retained - known
    unknown = [a for a in beam_argv if a.startswith("-") and a.lstrip("-").split("=", 1)[0] in names]
    _, rest = beam_parser[0].parse_known_args(beam_argv)
    return unknown or sorted(names), [a for a in rest if not a.startswith("-")]


# ------------------------------------------------------------------------------------------------- inputs


def is_compressed(path):
    return CompressionTypes.detect_compression_type(path) != CompressionTypes.UNCOMPRESSED


def match_inputs(patterns):
    """[(path, size)] for comma-separated files or glob patterns on any Beam filesystem, each pattern's matches
    sorted; a pattern that matches nothing is an error."""
    files = []
    for pattern in [p.strip() for p in patterns.split(",") if p.strip()]:
        try:
            results = FileSystems.match([pattern])
        except Exception as e:  # BeamIOError, or a filesystem that is not installed
            raise WptkError(f"cannot match input {pattern}: {_one_line(e)}") from None
        matches = []
        for metadata in results[0].metadata_list if results else []:
            if is_local(metadata.path) and os.path.isdir(metadata.path):
                continue
            if is_local(metadata.path) and not os.path.isfile(metadata.path):
                raise WptkError(f"input {metadata.path} is not a regular file (a pipe or device): the pipeline reads "
                                "files by size and offset; save it to a file, or use wptk create-pretraining-data")
            matches.append((metadata.path, int(metadata.size_in_bytes)))
        if not matches and is_local(pattern) and os.path.isdir(pattern):
            check_input(pattern, "--input_file")
        if not matches:
            raise WptkError(f"input file not found: {pattern}")
        files.extend(sorted(matches))
    if not files:
        raise WptkError("--input_file names no file")
    return files


def text_problem(sample):
    """Why `sample` (the first bytes of a file) does not look like UTF-8 text, or None."""
    if not sample:
        return None
    nul = sample.count(b"\0")
    if nul * 100 > len(sample):
        return f"{nul} NUL bytes in its first {len(sample):,} bytes (binary, or UTF-16 text?)"
    cut = sample[:sample.rfind(b"\n") + 1] or sample[:-3] or sample    # no character cut at the end
    invalid = len(cut) - len(cut.decode("utf-8", "ignore").encode("utf-8"))
    if invalid * 10 > len(cut):
        return f"{100 * invalid / len(cut):.0f}% of its first {len(cut):,} bytes are invalid UTF-8"
    return None


def check_text_file(path):
    """WptkError when `path` cannot be opened or its first 64 KiB (decompressed) do not look like text."""
    try:
        with CompressedInput(path) if is_compressed(path) else FileSystems.open(path) as f:
            sample = f.read(TEXT_CHECK_BYTES)
    except WptkError:
        raise
    except Exception as e:
        raise WptkError(f"cannot read {path}: {_one_line(e)}") from None
    problem = text_problem(sample)
    if problem:
        raise WptkError(f"{path} does not look like UTF-8 text: {problem}; remove it from --input_file "
                        "(or pass --check_text=false to read it anyway, dropping invalid bytes)")


def read_file_bytes(path, what):
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            return f.read()
    except Exception as e:
        raise WptkError(f"cannot read {what} {path}: {_one_line(e)}") from None


# ------------------------------------------------------------------------------------------------- reading


def iter_line_blocks(f, start, path="", max_line=None):
    """(offset, block) for the lines of binary file `f` from its current position, taken to be `start`: each
    block holds whole lines, each with its "\\n" (but a last line without one), a read chunk at a time. A line
    longer than `max_line` bytes is an error."""
    pending, pending_len, offset = [], 0, start
    while True:
        chunk = f.read(READ_CHUNK)
        if not chunk:
            break
        cut = chunk.rfind(b"\n") + 1
        if cut:
            block = b"".join(pending + [chunk[:cut]]) if pending else chunk[:cut]
            pending, pending_len = [], 0
            yield offset, block
            offset += len(block)
        if cut < len(chunk):
            pending.append(chunk[cut:])
            pending_len += len(chunk) - cut
            if max_line is not None and pending_len > max_line:
                raise _too_large(path, offset, max_line)
    if pending:
        yield offset, b"".join(pending)


def _too_large(path, offset, limit):
    return WptkError(f"{path}: the document at byte {offset:,} is larger than --max_document_mb="
                     f"{limit / MB:g} (no blank line for that long): split it, or raise the limit")


def first_line_start(f, start):
    """The offset of the first line that starts at or after `start` (None if there is none); leaves `f` there."""
    if start == 0:
        f.seek(0)
        return 0
    f.seek(start - 1)
    position = start - 1
    while True:
        chunk = f.read(64 * 1024)
        if not chunk:
            return None
        newline = chunk.find(b"\n")
        if newline >= 0:
            position += newline + 1
            f.seek(position)
            return position
        position += len(chunk)


def read_raw_documents(f, start, stop, claim, path="", max_document_bytes=None, seekable=True, decoder=None):
    """(key, text) for the documents that the byte range [start, stop) of file `f` owns; text is the document's
    raw lines joined by "\\n".

    A document is a run of lines ended by a blank line or the end of the file. Its key is the offset of the
    blank line just before it, or 0 for a document that starts at offset 0; the range that contains the key owns
    the document, and `claim(key)` must return True before it is read (a restriction tracker's try_claim: False
    ends the range). The reader skips the lines of a document that started before its range and reads past
    `stop` to finish its last document. With `seekable=False`, `f` is read from its start (start must be 0).
    Blank lines are found a block of lines at a time, natively (wptk._native.lines). A `decoder` decodes the
    blank lines that start in the range and hold non-ASCII bytes, as the reference decodes every line: it counts
    (or, strict, refuses) their invalid UTF-8 bytes, which no document carries.
    """
    if seekable:
        position = first_line_start(f, start)
        if position is None:
            return
    else:
        position = 0
    limit = max_document_bytes
    prev_blank = None       # offset of the blank line just before the current line, if this reader saw it
    key, parts, size = None, None, 0    # the document being read: its key, pieces (runs of lines), bytes
    foreign = False         # inside a document that an earlier range owns
    for base, block in iter_line_blocks(f, position, path, limit):
        cursor = 0
        end = len(block) - (1 if block.endswith(b"\n") else 0)
        for a, b in itertools.chain(blank_lines(block), [(None, None)]):
            run_end = end if a is None else a - 1
            if cursor < run_end or (a is None and cursor == run_end and cursor < len(block)):
                # lines block[cursor:run_end]: a document's lines
                if parts is None and not foreign:
                    if base + cursor == 0:
                        key = 0
                    elif prev_blank is not None:
                        key = prev_blank
                    else:
                        foreign = True
                    if not foreign:
                        if not claim(key):
                            return
                        parts, size = [], 0
                if parts is not None:
                    parts.append(block[cursor:run_end])
                    size += run_end - cursor + 1
                    if limit is not None and size > limit:
                        raise _too_large(path, key, limit)
            if a is None:
                break
            if parts is not None:
                yield key, b"\n".join(parts)
                parts = None
            foreign = False
            if base + a >= stop:
                return
            if decoder is not None and not block[a:b].isascii():
                decoder.decode(block[a:b], f"{path}: the blank line at byte {base + a:,}")
            prev_blank = base + a
            cursor = b + 1
    if parts is not None:
        yield key, b"\n".join(parts)


def decode_lines(text, decoder, path, key):
    """The lines of the document at byte `key` of `path` (its raw text, lines joined by "\\n") decoded as the
    reference decodes them (via `decoder`, which counts or refuses invalid UTF-8)."""
    try:
        return text.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        where = f"{path}: the document at byte {key:,}"
        return [decoder.decode(raw, where) for raw in text.split(b"\n")]


def document_text(text, decoder, path, key, sentences=False):
    """The UTF-8 text of the document at byte `key` of `path` (from its raw text, lines joined by "\\n"): its
    decoded lines joined by "\\n" (after sentence splitting, with `sentences`). Valid UTF-8 without sentence
    splitting is returned as read."""
    if not sentences:
        if text.isascii():
            return text
        try:
            text.decode("utf-8")
            return text
        except UnicodeDecodeError:
            pass
    lines = decode_lines(text, decoder, path, key)
    if sentences:
        lines = [s for line in lines for s in split_sentences(line)]
    return "\n".join(lines).encode("utf-8")


def read_documents(f, start, stop, claim, decoder, path="", max_document_bytes=None, seekable=True):
    """(key, decoded lines) for the documents that the byte range [start, stop) of `f` owns: read_raw_documents
    with the lines decoded."""
    for key, raw in read_raw_documents(f, start, stop, claim, path, max_document_bytes, seekable):
        yield key, decode_lines(raw, decoder, path, key)


# ------------------------------------------------------------------------------------------------- sentences

# Sentence ends: a run of terminal punctuation (Unicode Sentence_Break STerm/ATerm: . ! ? and their full-width,
# CJK, Devanagari, Arabic, Ethiopic, ... forms, plus the ellipsis), optional closing quotes/brackets, then
# whitespace; CJK full-width stops need no space after them.
_SENTENCE_END = None
ABBREVIATIONS = frozenset("""
mr mrs ms dr prof sr jr st mt ft vs etc cf al approx dept est fig figs vol vols no nos pp p ch sec ed eds
inc ltd co corp bros gen col capt lt sgt rev hon gov sen rep pres jan feb mar apr jun jul aug sep sept oct nov dec
""".split())


def _sentence_end():
    global _SENTENCE_END
    if _SENTENCE_END is None:
        import regex
        _SENTENCE_END = regex.compile(
            r"(?P<cjk>[。！？｡]+[\p{SB=Close}]*\s*)"
            r"|(?P<term>[\p{SB=STerm}\p{SB=ATerm}\u2026]+)(?P<close>[\p{SB=Close}]*)\s+(?=\S)")
    return _SENTENCE_END


def split_sentences(paragraph):
    """Sentences of one paragraph, stripped, in order; rule-based and Unicode-aware, deliberately simple.

    A sentence ends after terminal punctuation (Unicode Sentence_Break STerm or ATerm, e.g. . ! ? 。 ！ ？ । ॥ ؟
    ። and the ellipsis …), optionally followed by closing quotes or brackets, when whitespace follows; after the
    CJK full-width stops 。！？｡ also without whitespace. Not after a single "." that ends a known abbreviation
    (Mr. Dr. etc. e.g. i.e. ...: ABBREVIATIONS, or any word with an inner ".", like U.S.) or a single letter
    (initials: J. R. R. Tolkien), and never before a lowercase letter.
    """
    pieces, begin = [], 0
    for m in _sentence_end().finditer(paragraph):
        end = m.end()
        if m.group("term") is not None:
            term = m.group("term")
            following = paragraph[end:end + 1]
            if following and following.islower():
                continue
            if term == "." and not m.group("close"):
                word = paragraph[begin:m.start()].rsplit(None, 1)[-1] if paragraph[begin:m.start()].strip() else ""
                word = word.lstrip("\"'([{“‘«")
                if "." in word or len(word) == 1 and word.isalpha() or word.lower() in ABBREVIATIONS:
                    continue
        piece = paragraph[begin:end].strip()
        if piece:
            pieces.append(piece)
        begin = end
    piece = paragraph[begin:].strip()
    if piece:
        pieces.append(piece)
    return pieces


# ------------------------------------------------------------------------------------------------- bucketing


def document_digest(random_seed, text_bytes):
    """blake2b-128 of b"%d\\n" % random_seed + the document's UTF-8 text: its bucket and its place in it."""
    return document_digester(random_seed)(text_bytes)


def document_digester(random_seed):
    """document_digest for one seed, as a function of the text alone: the seed's part of the hash is done once,
    for a reader's many documents."""
    seeded = hashlib.blake2b(b"%d\n" % random_seed, digest_size=16)

    def digest(text_bytes):
        h = seeded.copy()
        h.update(text_bytes)
        return h.digest()
    return digest


def bucket_of(digest, num_buckets):
    return int.from_bytes(digest[:8], "big") % num_buckets


def bucket_seed(random_seed, bucket):
    """The random_seed bucket `bucket` is built with: blake2b-64 of b"wptk-bucket-seed:%d:%d", >> 1."""
    digest = hashlib.blake2b(b"wptk-bucket-seed:%d:%d" % (random_seed, bucket), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


_RECORD_HEAD = struct.Struct("<16sI")


def pack_documents(items):
    """One bytes batch of (digest, UTF-8 text) items: 16-byte digest, uint32 LE length, text; repeated."""
    return b"".join(_RECORD_HEAD.pack(d, len(t)) + t for d, t in items)


def unpack_documents(blob):
    out, pos, n = [], 0, len(blob)
    while pos < n:
        digest, length = _RECORD_HEAD.unpack_from(blob, pos)
        pos += _RECORD_HEAD.size
        out.append((digest, blob[pos:pos + length]))
        pos += length
    return out


def read_spilled(refs):
    """The packed document batches that (file, offset, length) references point to, one open per file."""
    by_file = {}
    for path, offset, length in refs:
        if length:
            by_file.setdefault(path, []).append((offset, length))
    for path in sorted(by_file):
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            for offset, length in sorted(by_file[path]):
                f.seek(offset)
                blob = f.read(length)
                if len(blob) != length:
                    raise IOError(f"{path}: spill file is shorter than expected ({offset} + {length})")
                yield blob


def bucket_lines(documents):
    """The text lines of (digest, text) documents in canonical order: sorted by (digest, text), each document's
    lines followed by one blank line. Exactly the lines of the text file that reproduces a bucket."""
    texts = [text for _, text in sorted(documents)]
    return (b"\n\n".join(texts) + b"\n").decode("utf-8").split("\n") if texts else []


# ------------------------------------------------------------------------------------------------- output files


def output_name(bucket, num_buckets, gzip):
    return f"train-{bucket:05d}-of-{num_buckets:05d}.tfrecord" + (".gz" if gzip else "")


def is_local(path):
    """A path of the local filesystem (no scheme): written with wptk's own atomic writer, os.path applies."""
    return FileSystems.get_scheme(path) is None


@contextlib.contextmanager
def writing(path):
    """An OSError while writing `path` (a full disk, say) as a WptkError naming it, so that one in a worker
    reaches the user as one line."""
    try:
        yield
    except OSError as e:
        raise WptkError(f"cannot write {path}: {e.strerror or _one_line(e)}") from None


def write_atomic(path, chunks, gzip=False, shown=None):
    """Writes byte chunks to `path` on any Beam filesystem under a temporary name, renamed when complete; GZIP
    exactly as wptk.tfrecord.RecordWriter writes it (level 6, mtime 0, no name), so the bytes do not depend on
    the filesystem. An error names `shown` (default `path`)."""
    with writing(shown or path):
        _write_atomic(path, chunks, gzip)


def _write_atomic(path, chunks, gzip):
    directory, name = os.path.split(path) if is_local(path) else path.rsplit("/", 1)
    tmp = FileSystems.join(directory, f".{name}.tmp-{uuid.uuid4().hex}")
    raw = FileSystems.create(tmp, compression_type=CompressionTypes.UNCOMPRESSED)
    try:
        out = (gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
               if gzip else raw)
        for chunk in chunks:
            out.write(chunk)
        if out is not raw:
            out.close()
        raw.close()
    except BaseException:
        try:
            raw.close()
        finally:
            _delete_quietly([tmp])
        raise
    try:
        FileSystems.rename([tmp], [path])
    except Exception:
        if not FileSystems.exists(path):        # some filesystems refuse to rename over an existing file
            _delete_quietly([tmp])
            raise
        FileSystems.delete([path])
        FileSystems.rename([tmp], [path])


def _delete_quietly(paths):
    try:
        if paths:
            FileSystems.delete(paths)
    except Exception:
        pass
    _remove_shuffle_dirs(paths)


def _remove_shuffle_dirs(paths):
    """Local spill directories of deleted spill files (object stores have no directories)."""
    for directory in {p.rsplit("/", 1)[0] for p in paths if SHUFFLE_PREFIX in p and is_local(p)}:
        try:
            os.rmdir(directory)
        except OSError:
            pass


def existing_outputs(output_dir):
    """Paths in `output_dir` that some run of this pipeline writes: train-* files, temporaries, summary.json."""
    patterns = [FileSystems.join(output_dir, p) for p in OUTPUT_PATTERNS]
    try:
        results = FileSystems.match(patterns)
    except Exception:
        results = []
        for pattern in patterns:
            try:
                results.extend(FileSystems.match([pattern]))
            except Exception:
                pass
    return sorted({m.path for r in results for m in r.metadata_list})


OWNER = "owner.json"


def make_staging(path):
    """Starts the job's hidden staging directory `path` (spill files, finished buckets, their counts) with an
    owner file naming this host (wptk.textio.host_tag) and this driver process, so that a later run can tell
    the leftovers of a killed job from a live job's files."""
    from wptk.textio import host_tag
    write_atomic(FileSystems.join(path, OWNER), [json.dumps({"host": host_tag(), "pid": os.getpid()}).encode()])


def staging_dirs(pattern):
    """{staging directory: True (its driver runs on this host), False (it ran on this host and is gone), or None
    (another host's, or no owner file: unknown)} for the directories matching `pattern` that hold files."""
    from wptk.textio import host_tag, pid_alive
    try:
        files = [m.path for r in FileSystems.match([FileSystems.join(pattern, "*")]) for m in r.metadata_list]
    except Exception:
        return {}
    found = {}
    for path in files:
        directory = path.rsplit("/", 1)[0]
        if directory in found:
            continue
        try:
            with FileSystems.open(FileSystems.join(directory, OWNER),
                                  compression_type=CompressionTypes.UNCOMPRESSED) as f:
                owner = json.loads(f.read().decode("utf-8"))
            found[directory] = pid_alive(int(owner["pid"])) if owner["host"] == host_tag() else None
        except Exception:
            found[directory] = None
    return found


def remove_dead_staging(pattern, what):
    """Deletes the staging directories matching `pattern` whose driver (on this host) is gone: the leftovers of
    a killed job of this kind. WptkError when a live job's staging is there: two jobs must not write one output
    (`what`, to name it)."""
    for directory, alive in staging_dirs(pattern).items():
        if alive:
            raise WptkError(f"another run is writing into {what} right now ({directory}); wait for it, or "
                            "choose another output")
        if alive is False:
            remove_shuffle(directory)


def publish(staged, final):
    """Renames the staged files onto their final names, all after every one is complete: a reader never sees
    part of a set (a kill before this leaves only hidden staging files, which the next run removes)."""
    try:
        FileSystems.rename(staged, final)
    except Exception as e:
        raise WptkError(f"cannot move the finished files into place ({final[0].rsplit('/', 1)[0]}): "
                        f"{_one_line(e)}") from None


def prepare_output_dir(output_dir, overwrite, inputs):
    """Makes `output_dir` (local) and deletes an earlier run's output in it with `overwrite` (else refuses to
    write there); refuses to write or delete a file of `inputs` (local paths; the vocab too). Returns the
    directories it created, deepest first, for remove_created_dirs."""
    created = []
    remove_dead_staging(FileSystems.join(output_dir, SHUFFLE_PREFIX + "*"), f"--output_dir {output_dir}")
    if is_local(output_dir):
        if os.path.exists(output_dir) and not os.path.isdir(output_dir):
            raise WptkError(f"--output_dir is not a directory: {output_dir}")
        missing = os.path.abspath(output_dir)
        while not os.path.exists(missing):
            created.append(missing)
            missing = os.path.dirname(missing)
        try:
            os.makedirs(output_dir, exist_ok=True)
        except OSError as e:
            raise WptkError(f"cannot create --output_dir {output_dir}: {e.strerror or e}") from None
    try:
        _clear_output_dir(output_dir, overwrite, inputs)
    except BaseException:
        remove_created_dirs(created)
        raise
    return created


def remove_created_dirs(created):
    """Removes the directories prepare_output_dir created, where they are still empty."""
    for directory in created:
        try:
            os.rmdir(directory)
        except OSError:
            return


def _clear_output_dir(output_dir, overwrite, inputs):
    for path in inputs if is_local(output_dir) else ():
        real = os.path.realpath(path)
        if os.path.dirname(real) == os.path.realpath(output_dir) and \
                any(fnmatch.fnmatch(os.path.basename(real), p.split("/")[-1]) for p in OUTPUT_PATTERNS):
            raise WptkError(f"input {path} is a file this pipeline writes or deletes in --output_dir "
                            f"{output_dir}: move it, or choose another directory")
    old = existing_outputs(output_dir)
    if old and not overwrite:
        names = ", ".join(p.rsplit("/", 1)[-1] for p in old[:3]) + (", ..." if len(old) > 3 else "")
        raise WptkError(f"--output_dir {output_dir} already holds the output of another run ({len(old)} file(s): "
                        f"{names}); pass --overwrite to delete it first, or choose another directory")
    if old:
        try:
            FileSystems.delete(old)
        except Exception as e:
            raise WptkError(f"--overwrite: cannot delete the earlier output in {output_dir}: {_one_line(e)}") \
                from None
        _remove_shuffle_dirs(old)


# ------------------------------------------------------------------------------------------------- DoFns


class WholeFile(OffsetRange):
    """The restriction of a compressed file: its compressed byte range, read whole, never split."""


class ReadDocumentsFn(beam.DoFn, beam.transforms.core.RestrictionProvider):
    """(path, size) -> (bucket, (spill file, offset, length)) references to the packed (digest, text) documents
    that the element's byte range owns, written to spill files in `shuffle_dir`.

    A splittable DoFn and its own restriction provider: plain files are split in byte ranges of `split_bytes` (and
    may be split further while read), compressed files are read whole. Documents travel to their bucket through
    spill files, and only small references through the GroupByKey, so that no process (a local runner's driver
    included) ever holds more than one bucket's text; a worker's memory is set by the bucket size."""

    def __init__(self, random_seed, num_buckets, split_bytes, max_document_bytes, split_sentences, strict,
                 shuffle_dir):
        self.random_seed, self.num_buckets, self.shuffle_dir = random_seed, num_buckets, shuffle_dir
        self.split_bytes, self.max_document_bytes = split_bytes, max_document_bytes
        self.sentences, self.strict = split_sentences, strict
        self.documents_read = Metrics.counter(NAMESPACE, "documents_read")
        self.dropped_bytes = Metrics.counter(NAMESPACE, "dropped_utf8_bytes")
        self.dropped_lines = Metrics.counter(NAMESPACE, "dropped_utf8_lines")

    # -- restrictions
    def initial_restriction(self, element):
        path, size = element
        return WholeFile(0, size) if is_compressed(path) else OffsetRange(0, size)

    def create_tracker(self, restriction):
        tracker = OffsetRestrictionTracker(restriction)
        return UnsplittableRestrictionTracker(tracker) if isinstance(restriction, WholeFile) else tracker

    def split(self, element, restriction):
        if isinstance(restriction, WholeFile):
            yield restriction
        else:
            yield from restriction.split(self.split_bytes, max(1, self.split_bytes // 4))

    def restriction_size(self, element, restriction):
        return restriction.size()

    def spill(self, buffers):
        """Writes the buffered documents, bucket after bucket, to a new spill file; yields a (bucket, (file,
        offset, length)) reference per bucket. A file is complete before it is referenced; the files of a failed
        attempt are never referenced and go with the shuffle directory at the end of the job."""
        if not buffers:
            return
        path = FileSystems.join(self.shuffle_dir, f"{uuid.uuid4().hex}.docs")
        refs, offset = [], 0
        with writing(path):
            f = FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)
            try:
                for bucket in sorted(buffers):
                    blob = pack_documents(buffers[bucket])
                    f.write(blob)
                    refs.append((bucket, (path, offset, len(blob))))
                    offset += len(blob)
            finally:
                f.close()
        yield from refs

    # -- reading
    def process(self, element, tracker=beam.DoFn.RestrictionParam()):
        from wptk.textio import Utf8Decoder
        path, size = element
        restriction = tracker.current_restriction()
        decoder = Utf8Decoder(strict=self.strict)
        if isinstance(restriction, WholeFile):
            if not tracker.try_claim(restriction.start):
                return
            f = CompressedInput(path)
            documents = read_raw_documents(f, 0, float("inf"), lambda key: True, path, self.max_document_bytes,
                                           seekable=False, decoder=decoder)
        else:
            f = open_input(path, CompressionTypes.UNCOMPRESSED)
            documents = read_raw_documents(f, restriction.start, restriction.stop, tracker.try_claim, path,
                                           self.max_document_bytes, decoder=decoder)
        buffers, buffered, n = {}, 0, 0
        digest_of = document_digester(self.random_seed)
        try:
            for key, raw in documents:
                text = document_text(raw, decoder, path, key, self.sentences)
                digest = digest_of(text)
                buffers.setdefault(bucket_of(digest, self.num_buckets), []).append((digest, text))
                buffered += len(text) + _RECORD_HEAD.size
                n += 1
                if buffered >= SPILL_BYTES:
                    yield from self.spill(buffers)
                    buffers, buffered = {}, 0
        finally:
            f.close()
        yield from self.spill(buffers)
        tracker.try_claim(size)     # at or past the end of the range: marks the range done
        self.documents_read.inc(n)
        self.dropped_bytes.inc(decoder.dropped_bytes)
        self.dropped_lines.inc(decoder.bad_lines)


def open_input(path, compression):
    """`path` opened with Beam's FileSystems; a WptkError naming it when that fails."""
    try:
        return FileSystems.open(path, compression_type=compression)
    except Exception as e:
        raise WptkError(f"cannot read {path}: {_one_line(e)}") from None


class CompressedInput:
    """A compressed input file (by its extension) on any Beam filesystem, read whole. .gz, .bz2, .xz and .lzma
    are decompressed as `wptk create-pretraining-data` does (wptk.textio.decompressor), failing on a truncated or
    corrupt file where Beam's CompressedFile just ends early (silently losing the rest); other types by Beam.
    Reading errors are WptkErrors naming the file."""

    def __init__(self, path):
        self.path = path
        decompress = decompressor(path)
        self.raw = open_input(path, CompressionTypes.UNCOMPRESSED if decompress else CompressionTypes.AUTO)
        self.file = decompress(self.raw) if decompress else self.raw

    def read(self, size=-1):
        try:
            return self.file.read(size)
        except READ_ERRORS as e:
            raise WptkError(f"cannot read {self.path}: {_one_line(e)}") from None

    def close(self):
        try:
            self.file.close()
        finally:
            self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WriteBucketFn(beam.DoFn):
    """(bucket, spill references) -> the bucket's TFRecord file, built with wptk.pretraining's functions."""

    def __init__(self, vocab_bytes, tokenizer_options, config, num_buckets, output_dir, gzip, shuffle_dir):
        self.vocab_bytes, self.tokenizer_options = vocab_bytes, tokenizer_options
        self.config, self.num_buckets, self.output_dir, self.gzip = config, num_buckets, output_dir, gzip
        self.shuffle_dir = shuffle_dir
        self.counters = {name: Metrics.counter(NAMESPACE, name) for name in BUCKET_COUNTS}
        self.bucket_documents = Metrics.distribution(NAMESPACE, "bucket_documents")
        self.bucket_bytes = Metrics.distribution(NAMESPACE, "bucket_bytes")

    def setup(self):
        self.tokenizer, self.vocab_ids = load_tokenizer(self.vocab_bytes, self.tokenizer_options)
        self.unk_id = self.tokenizer.vocab.get("[UNK]", -1)

    def process(self, element):
        bucket, refs = element
        documents = [d for blob in read_spilled(refs) for d in unpack_documents(blob)]
        n_text, text_bytes = len(documents), sum(len(t) for _, t in documents)
        docs = pt.documents_from_lines(bucket_lines(documents), self.tokenizer)
        del documents
        # As the command does after tokenizing: free the word cache, which would otherwise grow with every bucket
        # this worker tokenizes (up to ~40 MB), so that a worker's memory is set by its bucket alone.
        self.tokenizer.release_memory()
        config = dataclasses.replace(self.config, random_seed=bucket_seed(self.config.random_seed, bucket))
        # Into the staging directory: the driver moves every bucket into output_dir once all are complete. An
        # error names the file the user asked for.
        name = output_name(bucket, self.num_buckets, self.gzip)
        path, final = FileSystems.join(self.shuffle_dir, name), FileSystems.join(self.output_dir, name)
        instances = pt.create_instances(docs, self.vocab_ids, config) if docs.n_documents else None
        if is_local(path):
            with writing(final):
                pt.write_instances(docs, instances or _NO_INSTANCES, [path], self.vocab_ids, config,
                                   gzip=self.gzip)
        else:
            write_atomic(path, _framed_chunks(docs, instances, self.vocab_ids, config), gzip=self.gzip, shown=final)
        stats = {**recipe.counts(docs, instances, config), "bucket": bucket, "text_documents": n_text,
                 "text_bytes": text_bytes,
                 "documents": docs.n_documents, "sentences": docs.n_sentences, "tokens": len(docs.tokens),
                 "unk_tokens": int((docs.tokens == self.unk_id).sum()),
                 "instances": len(instances) if instances is not None else 0,
                 "masked_tokens": instances.n_masked_total if instances is not None else 0,
                 "random_next": instances.n_random_next if instances is not None else 0,
                 "truncated": instances.n_truncated if instances is not None else 0}
        # The bucket's counts, also as a file: exact on any runner (with or without metrics, retries included),
        # and the driver's proof that every bucket completed.
        write_atomic(FileSystems.join(self.shuffle_dir, f"stats-{bucket:05d}.json"),
                     [json.dumps(stats).encode("utf-8")])
        for name in BUCKET_COUNTS:
            self.counters[name].inc(stats[name])
        self.bucket_documents.update(n_text)
        self.bucket_bytes.update(text_bytes)


class _NoInstances:
    order = ()

    def __len__(self):
        return 0


_NO_INSTANCES = _NoInstances()


def _framed_chunks(docs, instances, vocab_ids, config):
    """The bytes write_instances writes into a single output file, in chunks."""
    if instances is None:
        return
    for start in range(0, len(instances), pt.INSTANCES_PER_BATCH):
        rows = instances.order[start:start + pt.INSTANCES_PER_BATCH]
        yield pt.serialize(docs, instances, rows, vocab_ids, config)


def tokenizer_options(args):
    """FullTokenizer's options from the command's flags, as `wptk create-pretraining-data` sets them."""
    multilingual = bool(getattr(args, "multilingual", False))
    options = {"do_lower_case": args.do_lower_case and not multilingual}
    if multilingual:
        options["multilingual"] = True
    return options


def load_tokenizer(vocab_bytes, options, vocab_name="vocab"):
    """FullTokenizer and VocabIds from the vocab file's bytes (workers may not see the driver's files)."""
    from wptk.tokenization import FullTokenizer
    fd, tmp = tempfile.mkstemp(suffix=".vocab.txt")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(vocab_bytes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # the case check warned once on the driver
            tokenizer = FullTokenizer(tmp, **options)
    finally:
        os.unlink(tmp)
    return tokenizer, pt.VocabIds.from_vocab(tokenizer.vocab, vocab_name)


# ------------------------------------------------------------------------------------------------- the job


def build_pipeline(p, inputs, settings):
    """Adds the job's transforms to pipeline `p`: inputs [(path, size)] -> one file per bucket."""
    s = settings
    read = ReadDocumentsFn(s["random_seed"], s["num_buckets"], s["split_bytes"], s["max_document_bytes"],
                           s["split_sentences"], s["strict"], s["shuffle_dir"])
    ref_type = tuple[int, tuple[str, int, int]]
    refs = (p | "InputFiles" >> beam.Create(inputs)
            | "ReadDocuments" >> beam.ParDo(read).with_output_types(ref_type))
    every_bucket = (p | "EveryBucket" >> beam.Create([(k, ("", 0, 0)) for k in range(s["num_buckets"])])
                    .with_output_types(ref_type))
    return ((refs, every_bucket) | "Flatten" >> beam.Flatten()
            | "GroupByBucket" >> beam.GroupByKey()
            | "WriteBuckets" >> beam.ParDo(WriteBucketFn(s["vocab_bytes"], s["tokenizer_options"], s["config"],
                                                          s["num_buckets"], s["output_dir"], s["gzip"],
                                                          s["shuffle_dir"])))


def make_runner(options):
    """(runner, description). No --runner, FnApiRunner or DirectRunner: Beam's FnApiRunner, which honours
    --direct_running_mode and --direct_num_workers (Beam's DirectRunner would first try to download Prism).
    Another runner is created by name, which also registers its pipeline options (e.g. DaskRunner's)."""
    from apache_beam.runners.runner import create_runner
    name = options.view_as(StandardOptions).runner
    if name is None or name.split(".")[-1] in LOCAL_RUNNERS:
        from apache_beam.options.pipeline_options import DirectOptions
        direct = options.view_as(DirectOptions)
        mode = direct.direct_running_mode or "in_memory"
        workers = direct.direct_num_workers
        prepare_local_workers(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        return local_runner(), f"FnApiRunner ({mode}, {workers or 1} worker{'s' if workers != 1 else ''})"
    try:
        return create_runner(name), name
    except ImportError as e:
        raise WptkError(f"--runner={name} is not available: {_one_line(e)}") from None
    except Exception as e:
        raise WptkError(f"--runner={name}: {_one_line(e)}") from None


BUCKET_COUNTS = ("text_documents", "text_bytes", "documents", "sentences", "tokens", "unk_tokens", "instances",
                 "masked_tokens", "random_next", "truncated")
READ_COUNTS = ("documents_read", "dropped_utf8_bytes", "dropped_utf8_lines")
RECIPE_COUNTS = ("single_sentence_documents", "real_tokens", "capped")   # besides those above: wptk.recipe.counts


def job_metrics(result, namespace):
    """(counters, distributions) of a finished job's Beam metrics in `namespace`, as {name: int} and
    {name: DistributionResult} (committed values where the runner has them, else attempted); None for a runner
    that reports no metrics (e.g. DaskRunner)."""
    try:
        metrics = result.metrics().query(MetricsFilter().with_namespace(namespace))
    except Exception:
        return None
    if not metrics.get("counters"):
        return None
    counters, distributions = {}, {}
    for r in metrics["counters"]:
        value = r.committed if r.committed is not None else r.attempted
        counters[r.key.metric.name] = counters.get(r.key.metric.name, 0) + int(value or 0)
    for r in metrics.get("distributions", []):
        value = r.committed if r.committed is not None else r.attempted
        if value is not None and value.count:
            distributions[r.key.metric.name] = value
    return counters, distributions


def query_metrics(result):
    """{name: value} of the job's counters and distributions ({min, max, mean, count}); None without metrics."""
    found = job_metrics(result, NAMESPACE)
    if found is None:
        return None
    counters, distributions = found
    out = {name: 0 for name in BUCKET_COUNTS + READ_COUNTS}
    out.update(counters)
    for name, value in distributions.items():
        out[name] = {"min": value.min, "max": value.max, "mean": round(value.mean, 1), "count": value.count}
    return out


def collect_bucket_stats(shuffle_dir, num_buckets):
    """The per-bucket counts the buckets wrote; WptkError naming a bucket that did not complete."""
    stats = []
    for k in range(num_buckets):
        path = FileSystems.join(shuffle_dir, f"stats-{k:05d}.json")
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                stats.append(json.loads(f.read().decode("utf-8")))
        except Exception:
            raise WptkError(f"bucket {k} did not complete (no {path}), although the runner reported success") \
                from None
    return stats


def job_counts(stats, metrics):
    """The summary's counts: sums of the per-bucket counts (exact on every runner), bucket sizes, and the
    reading counts that only Beam metrics carry (None where the runner has no metrics)."""
    counts = {name: sum(s[name] for s in stats) for name in BUCKET_COUNTS}
    counts["recipe"] = {name: sum(s[name] for s in stats) for name in RECIPE_COUNTS}
    counts["empty_buckets"] = sum(1 for s in stats if s["instances"] == 0)
    for name in ("text_documents", "text_bytes"):
        values = [s[name] for s in stats]
        counts["bucket_" + name.split("_")[1]] = {"min": min(values), "max": max(values),
                                                  "mean": round(sum(values) / len(values), 1)}
    for name in READ_COUNTS:
        counts[name] = metrics[name] if metrics else None
    return counts


def run(argv):
    """The job; returns the summary dict. Raises WptkError for anything the user can fix."""
    parser = build_parser()
    args, config, beam_argv = parse_args(argv, parser)
    options = PipelineOptions(beam_argv)
    runner, runner_text = make_runner(options)
    check_beam_flags(parser, beam_argv)   # after make_runner: its runner's options count
    vocab_bytes = read_file_bytes(args.vocab_file, "vocab file")
    from wptk.cli_support import case_flags, setup_warnings
    from wptk.tokenization import FullTokenizer
    setup_warnings(PROG, case_flags(args))
    with tempfile.TemporaryDirectory() as tmp:
        local_vocab = args.vocab_file
        if not is_local(local_vocab):
            local_vocab = os.path.join(tmp, args.vocab_file.rstrip("/").rsplit("/", 1)[-1] or "vocab.txt")
            with open(local_vocab, "wb") as f:
                f.write(vocab_bytes)
        tokenizer = FullTokenizer(local_vocab, **tokenizer_options(args))   # may warn about the case, once
        pt.VocabIds.from_vocab(tokenizer.vocab, args.vocab_file)
    inputs = match_inputs(args.input_file)
    if args.check_text:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(check_text_file, [path for path, _ in inputs]))
    if sum(size for _, size in inputs) == 0:
        raise WptkError("the input has no documents: every input file is empty")
    if args.plan:
        return plan_job(args, inputs, tokenizer, config)
    output_dir = args.output_dir.rstrip("/") or "/"
    created = prepare_output_dir(output_dir, args.overwrite,
                                 [p for p in [path for path, _ in inputs] + [args.vocab_file] if is_local(p)])

    total = sum(size for _, size in inputs)
    split_bytes = (int(args.input_split_mb * MB) if args.input_split_mb else
                   min(max(total // AUTO_SPLITS, MIN_AUTO_SPLIT), MAX_AUTO_SPLIT))
    settings = dict(random_seed=config.random_seed, num_buckets=args.num_buckets, split_bytes=max(1, split_bytes),
                    max_document_bytes=max(1, int(args.max_document_mb * MB)), split_sentences=args.split_sentences,
                    strict=args.errors == "strict", vocab_bytes=vocab_bytes, tokenizer_options=tokenizer_options(args),
                    config=config, output_dir=output_dir, gzip=args.gzip,
                    shuffle_dir=FileSystems.join(output_dir, SHUFFLE_PREFIX + uuid.uuid4().hex))
    files = [FileSystems.join(output_dir, output_name(k, args.num_buckets, args.gzip))
             for k in range(args.num_buckets)]
    start = time.perf_counter()
    from wptk.cli_support import Ticker, beam_log_aside
    # A local job's Beam log lines would bury the summary (a progress line stands in for them); a remote job's
    # progress is in them.
    local = type(runner).__name__ in LOCAL_RUNNERS and is_local(settings["shuffle_dir"])
    ticker = Ticker(PROG, lambda: local_progress(settings["shuffle_dir"], total, args.num_buckets),
                    enabled=False if args.quiet or not local else None)
    try:
        make_staging(settings["shuffle_dir"])
        with beam_log_aside(PROG) if local else contextlib.nullcontext(), worker_errors_as_user_errors(), ticker:
            p = beam.Pipeline(runner=runner, options=options)
            build_pipeline(p, inputs, settings)
            result = p.run()
            try:
                state = result.wait_until_finish()
            finally:
                client = getattr(result, "client", None)    # DaskRunner leaves its dask client open
                if client is not None and hasattr(client, "close"):
                    client.close()
        if state is not None and str(state).split(".")[-1] not in ("DONE", "UNKNOWN"):
            raise RuntimeError(f"the pipeline ended in state {state}")
        metrics = query_metrics(result)
        counts = job_counts(collect_bucket_stats(settings["shuffle_dir"], args.num_buckets), metrics)
        if counts["documents"] == 0:
            raise WptkError("the input has no documents: every line is blank or has no tokens")
        publish([FileSystems.join(settings["shuffle_dir"], f.rsplit("/", 1)[-1]) for f in files], files)
    except BaseException:
        _delete_quietly(existing_outputs(output_dir))
        remove_created_dirs(created)
        raise
    seconds = time.perf_counter() - start
    summary = {
        "counts": counts,
        "metrics": metrics,
        "input": {"files": len(inputs), "bytes": sum(size for _, size in inputs)},
        "bucket_seeds": [bucket_seed(config.random_seed, k) for k in range(args.num_buckets)],
        "output_files": [f.rsplit("/", 1)[-1] for f in files],
        "profile": recipe.figures({**counts, **counts["recipe"]}, config),
        "flags": flags_used(args),
        "runner": runner_text,
    }
    write_atomic(FileSystems.join(output_dir, "summary.json"),
                 [json.dumps(summary, indent=2, sort_keys=False).encode("utf-8") + b"\n"])
    remove_shuffle(settings["shuffle_dir"])      # a kill before this leaves it to the next run (its owner is gone)
    summary["seconds"] = seconds
    summary["output_dir"] = output_dir
    if not args.quiet:
        print(summary_text(summary))
    for line in recipe.warnings({**counts, **counts["recipe"]}, config) + empty_bucket_warnings(counts, args):
        print(f"{PROG}: warning: {line}", file=sys.stderr)
    if counts["dropped_utf8_bytes"]:
        print(dropped_bytes_warning(PROG, counts["dropped_utf8_bytes"], counts["dropped_utf8_lines"]),
              file=sys.stderr)
    return summary


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
    remote = [path for path, _ in inputs if not is_local(path)]
    if remote:
        raise WptkError(f"--plan reads local files only ({remote[0]}): copy a part of the corpus here to plan")
    result = plan([path for path, _ in inputs], tokenizer, config, gzip=args.gzip, num_buckets=args.num_buckets,
                  batch_size=args.plan_batch_size,
                  worker_memory=args.plan_worker_memory_mb * 1e6 if args.plan_worker_memory_mb else None,
                  split_sentences=split_sentences if args.split_sentences else None)
    print(json.dumps(result) if args.json else plan_text(result, PROG))
    return result


def local_progress(shuffle_dir, total_bytes, num_buckets):
    """How far a job is, from its local shuffle directory: the text its readers have spilled (about the input's
    size when all is read) and the buckets whose stats file exists (written last, when a bucket is complete)."""
    spilled = done = 0
    try:
        for entry in os.scandir(shuffle_dir):
            if entry.name.endswith(".docs"):
                spilled += entry.stat().st_size
            done += entry.name.startswith("stats-")
    except OSError:         # not made yet, or a file went away while looking
        return ""
    return (f"read {min(spilled, total_bytes) / 1e6:,.1f} of {total_bytes / 1e6:,.1f} MB, "
            f"{done:,} of {num_buckets:,} buckets written")


def remove_shuffle(shuffle_dir):
    """Deletes the job's spill files and (locally) their directory."""
    try:
        files = [m.path for r in FileSystems.match([FileSystems.join(shuffle_dir, "*")]) for m in r.metadata_list]
    except Exception:
        files = []
    _delete_quietly(files)
    if is_local(shuffle_dir):
        try:
            os.rmdir(shuffle_dir)
        except OSError:
            pass


def flags_used(args):
    names = ("input_file", "output_dir", "vocab_file", "do_lower_case", "do_whole_word_mask", "max_seq_length",
             "max_predictions_per_seq", "random_seed", "dupe_factor", "masked_lm_prob", "short_seq_prob", "gzip",
             "errors", "num_buckets", "split_sentences", "max_document_mb", "input_split_mb", "check_text")
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
    elif any(metrics[name] != counts[name] for name in BUCKET_COUNTS):
        lines.append("warning: the Beam metrics differ from the buckets' own counts (summary.json has the "
                     "latter): did the runner count retried bundles twice?")
    if counts["dropped_utf8_bytes"]:
        lines.append(f"dropped {counts['dropped_utf8_bytes']:,} invalid UTF-8 byte(s) in "
                     f"{counts['dropped_utf8_lines']:,} line(s)")
    first, last = summary["output_files"][0], summary["output_files"][-1]
    lines.append(f"wrote {summary['output_dir']}/{{{first} .. {last}, summary.json}} in "
                 f"{summary['seconds']:.1f} s on {summary['runner']}")
    return "\n".join(f"{PROG}: {line}" if i == 0 else f"  {line}" for i, line in enumerate(lines))


_WPTK_ERROR = re.compile(r"WptkError: (.+?)(?: \[while running [^\]]*\])*\s*$", re.MULTILINE)


@contextlib.contextmanager
def worker_errors_as_user_errors():
    """A runner's exception that carries a WptkError raised in a worker (as traceback text, or as the error
    itself with Beam's " [while running ...]" added) becomes that WptkError, in one line."""
    try:
        yield
    except Exception as e:
        message = wptk_error_message(e)
        if message:
            raise WptkError(message) from None
        raise


def wptk_error_message(exc):
    """The message of a WptkError raised inside a worker, from the runner's exception (which carries the
    worker's traceback as text), or None."""
    import traceback
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, WptkError):
            return re.sub(r"(?: \[while running [^\]]*\])+$", "", str(exc))
        text = "".join(traceback.format_exception_only(type(exc), exc))
        found = _WPTK_ERROR.findall(text)
        if found:
            return found[-1].strip()
        exc = exc.__cause__ or exc.__context__
    return None


def _one_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def main(argv=None):
    from wptk.cli_support import run_guarded
    return run_guarded(PROG, run, sys.argv[1:] if argv is None else list(argv))


if __name__ == "__main__":
    # Run through the importable module, so that Beam pickles the DoFns by reference to it.
    from pipelines.create_pretraining_data import main as _main
    skip_ipython_probe()
    exit_program(_main())
