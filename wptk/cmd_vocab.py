"""`wptk vocab`: count words with a Beam pipeline, learn a WordPiece vocabulary, write it in BERT's layout."""
import os
import sys
import tempfile
import time

from wptk.errors import WptkError

HELP = "learn a BERT WordPiece vocabulary from a corpus"
DESCRIPTION = """\
Learns a WordPiece vocabulary for BERT from plain text: the words are those of the same BasicTokenizer that
will tokenize with it (lowercased by default; --no-lower for cased models; --multilingual for the multilingual
pre-tokenizer), counted by an Apache Beam pipeline (wptk/beam/word_count.py) on a local runner; the pieces are
chosen to need the fewest WordPiece tokens for the counted words (see wptk/vocab_learner.py).

The file has exactly --vocab_size lines in BERT's layout: [PAD], [unused0] .. [unused<M-1>], [UNK], [CLS],
[SEP], [MASK] (with the default M = 99 these are ids 0, 1-99, 100, 101, 102, 103, as in bert-base-uncased), then
every character seen at least --min_count times (as a word start and as a ## piece), then the learned pieces,
most used first. The same corpus and flags give the same file, whatever the runner or the number of workers.

examples:
  wptk vocab --input_file='corpus/*.txt' --output=vocab.txt --vocab_size=30522
  wptk vocab --input_file=wiki.txt,books.txt --output=cased.txt --vocab_size=28996 --no-lower \\
      --runner=DirectRunner --direct_running_mode=multi_processing --direct_num_workers=8
  python -m pipelines.word_count --input_file='gs://bucket/corpus/*' --output=gs://bucket/counts/en \\
      --runner=DataflowRunner ...            # count on a cluster, then learn here:
  wptk vocab --word_counts=gs://bucket/counts/en --output=vocab.txt --vocab_size=30522
"""
def add_arguments(p):
    from wptk.flags import add_case_flags, add_count_flags
    source = p.add_argument_group("input (one of)")
    inputs = source.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--input_file", metavar="GLOBS",
                        help="comma-separated text files or glob patterns (plain, or compressed: .gz, .bz2, .xz, "
                             ".lzma); lines are split on \"\\n\"; invalid UTF-8 bytes are dropped as the reference does")
    inputs.add_argument("--word_counts", metavar="PREFIX",
                        help="learn from word counts written by `python -m pipelines.word_count --output=PREFIX`")
    out = p.add_argument_group("vocabulary")
    out.add_argument("-o", "--output", required=True, metavar="FILE",
                     help="the vocab file to write (atomically: complete or absent)")
    out.add_argument("--vocab_size", type=int, required=True, metavar="N",
                     help="number of lines of the vocab file, special tokens included (BERT: 30522 uncased, "
                          "28996 cased, 119547 multilingual)")
    out.add_argument("--min_count", type=int, default=1, metavar="K",
                     help="characters seen fewer than K times get no token (they become [UNK]); default 1: "
                          "every character seen is covered")
    out.add_argument("--complete_alphabets", type=int, default=None, metavar="N",
                     help="also cover the letters, marks and digits never seen in every range of 128 code points "
                          "(about a Unicode block) where the corpus has N or more of them, so a rare letter of a "
                          "script the corpus uses is not [UNK]; CJK ideographs and Hangul syllables are left to "
                          "the corpus (default: 4 with --multilingual, else 0 = off)")
    out.add_argument("--reserved_unused", type=int, default=99, metavar="M",
                     help="[unused0] .. [unused<M-1>] between [PAD] and [UNK] (default 99, BERT's ids)")
    out.add_argument("--keep_word_counts", metavar="PREFIX",
                     help="also keep the word counts (PREFIX-SSSSS-of-NNNNN.tsv, PREFIX-summary.json), to learn "
                          "other sizes later with --word_counts")
    out.add_argument("--quiet", action="store_true", help="no progress display and no summary")
    add_case_flags(p.add_argument_group("pre-tokenization (as for wptk tokenize)"))
    beam = p.add_argument_group("counting pipeline (Apache Beam, local runners)")
    add_count_flags(beam)
    beam.add_argument("--runner", default=None,
                      help="FnApiRunner (default, in this process) or DirectRunner (runs on FnApiRunner; wptk never "
                           "starts Beam's Prism); for a cluster use python -m pipelines.word_count")
    beam.add_argument("--direct_running_mode", choices=("in_memory", "multi_threading", "multi_processing"),
                      default=None, help="how FnApiRunner runs the workers (default in_memory)")
    beam.add_argument("--direct_num_workers", type=int, default=None, metavar="N",
                      help="number of local workers (with --direct_running_mode=multi_processing: processes)")


MULTILINGUAL_COMPLETE_ALPHABETS = 4   # measured by benchmarks/bench_vocab.py: held-out [UNK] share 10.8% -> 0.7%


def run(args):
    from wptk.files import AtomicFile
    from wptk.flags import check_count_flags, resolve_case
    from wptk.program import setup_warnings
    from wptk.vocab_learner import WordPieceLearner, special_tokens

    setup_warnings("wptk vocab")
    started = time.perf_counter()
    learner = WordPieceLearner(args.vocab_size, reserved_unused=args.reserved_unused, min_count=args.min_count,
                               complete_alphabets=args.complete_alphabets or 0,
                               progress=None if args.quiet else _LearnProgress())
    if args.vocab_size < len(special_tokens(args.reserved_unused)) + 1:
        raise WptkError(f"--vocab_size {args.vocab_size:,} is too small for the "
                        f"{len(special_tokens(args.reserved_unused))} special tokens and any character")
    _check_output(args.output)
    check_count_flags(args)
    lower = resolve_case(args)
    wc = _word_count_module()

    if args.word_counts:
        counts, info = wc.read_counts(args.word_counts)
        lower, multilingual = _counts_case(args, info)
        counted = f"read word counts {args.word_counts}"
    else:
        multilingual = args.multilingual
        counts, info = _count(wc, args, lower)
        c = info["counts"] or {}
        counted = (f"{info['input']['files']:,} file(s), {info['input']['bytes'] / 1e6:,.1f} MB, counted in "
                   f"{info['seconds']:.1f} s on {info['runner']}")
        if c.get("dropped_utf8_bytes"):
            print(f"wptk vocab: warning: dropped {c['dropped_utf8_bytes']:,} invalid UTF-8 byte(s), as the reference "
                  "does", file=sys.stderr)
    if not counts:
        raise WptkError("the input has no words: every line is blank or only has characters the tokenizer "
                        "deletes")

    if args.complete_alphabets is None:
        learner.complete_alphabets = MULTILINGUAL_COMPLETE_ALPHABETS if multilingual else 0
    tokenizer = wc.basic_tokenizer(lower, multilingual)
    try:
        vocab = learner.learn(counts, tokenizer)
    finally:
        if learner.progress is not None:
            learner.progress.close()
    with AtomicFile(args.output, "w") as f:
        vocab.write(f)
    if not args.quiet:
        print(_summary(vocab, counted, args.output, time.perf_counter() - started), file=sys.stderr)
    return 0


def _check_output(path):
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise WptkError(f"output directory does not exist: {directory}")
    if os.path.isdir(path):
        raise WptkError(f"--output is a directory: {path}")


def _word_count_module():
    """wptk.beam.word_count, which needs Apache Beam."""
    try:
        from wptk.beam import word_count
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] == "apache_beam":
            raise WptkError("wptk vocab counts words with Apache Beam: pip install 'wptk[beam]'") from None
        raise
    return word_count


def _beam_argv(args):
    from wptk.flags import is_local_runner
    runner = args.runner or "FnApiRunner"
    if not is_local_runner(runner):
        raise WptkError(f"--runner={runner}: wptk vocab runs the counting on a local runner (FnApiRunner, "
                        "DirectRunner); on a cluster run python -m pipelines.word_count with that runner, then "
                        "wptk vocab --word_counts")
    if args.direct_num_workers is not None and args.direct_num_workers < 1:
        raise WptkError(f"--direct_num_workers must be >= 1, got {args.direct_num_workers}")
    argv = [f"--runner={runner}", "--default_sdk_harness_log_level=ERROR"]
    if args.direct_running_mode:
        argv.append(f"--direct_running_mode={args.direct_running_mode}")
    if args.direct_num_workers is not None:
        argv.append(f"--direct_num_workers={args.direct_num_workers}")
    return argv


def _count(wc, args, lower):
    """({word: count}, job summary) of the input files, counted by the Beam pipeline."""
    import logging
    from wptk.files import check_outputs
    from wptk.program import beam_log_aside
    from wptk.progress import Ticker
    from wptk.reader import max_line_bytes

    beam_argv = _beam_argv(args)
    from wptk.beam.io import match_text_inputs
    inputs = match_text_inputs(args.input_file, args.check_text)
    check_outputs([args.output], [path for path, _ in inputs], "--output")
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    total = sum(s for _, s in inputs)
    ticker = Ticker("counting words", lambda: _counted(wc.bytes_counted[0], total),
                    enabled=False if args.quiet else None)
    with tempfile.TemporaryDirectory(prefix="wptk-vocab-") as tmp, beam_log_aside("wptk vocab"):
        prefix = args.keep_word_counts or os.path.join(tmp, "counts")
        with ticker:
            info = wc.count_words(inputs, prefix, beam_argv, lower, args.multilingual,
                                  max(1, int(args.input_split_mb * (1 << 20))), args.num_shards,
                                  max_line_bytes(args.max_line_mb))
        counts, _ = wc.read_counts(prefix)
    return counts, info


def _counts_case(args, info):
    """(lower, multilingual) of counts made with `info`'s settings, checked against the flags given."""
    lower, multilingual = bool(info.get("lower", True)), bool(info.get("multilingual", False))
    made = "--multilingual" if multilingual else "--lower" if lower else "--no-lower"
    if (args.multilingual and not multilingual) or (args.lower is not None and args.lower != lower):
        raise WptkError(f"the word counts {args.word_counts} were made with {made}: give the same flags "
                        "(or none)")
    return lower, multilingual


def _summary(vocab, counted, output, seconds):
    share = vocab.char_occurrences_covered / max(1, vocab.char_occurrences)
    lines = [
        f"wptk vocab: {vocab.words:,} words ({vocab.distinct_words:,} distinct); {counted}",
        f"  characters: {vocab.characters_seen:,} seen, {vocab.characters_covered:,} covered ({100 * share:.3f}% of "
        f"character occurrences)"
        + (f", {vocab.characters_completed:,} more completing alphabets" if vocab.characters_completed else "")
        + f"; {vocab.unk_words:,} word occurrences will be [UNK]",
        f"  {vocab.n_special} special + {vocab.n_characters:,} character + {vocab.n_learned:,} learned tokens"
        + (f" + {vocab.n_padding:,} [unused] (the corpus had nothing more to learn)" if vocab.n_padding else "")
        + f"; {vocab.tokens_per_word:.4f} tokens per counted word; learned in {vocab.seconds:.1f} s",
        f"  wrote {output} ({len(vocab.tokens):,} tokens) in {seconds:.1f} s",
    ]
    return "\n".join(lines)


def _counted(done, total):
    """Bytes counted so far, known when the counting runs in this process."""
    return f"{done / 1e6:,.1f} of {total / 1e6:,.1f} MB" if done else ""


class _LearnProgress:
    """The learner's progress (grow: pieces added; prune: pieces removed) as a line on a terminal."""

    LABELS = {"grow": "learning: adding pieces", "prune": "learning: pruning pieces"}

    def __init__(self):
        self.stage = self.bar = None

    def __call__(self, stage, done, total):
        from wptk.progress import Progress
        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, Progress(self.LABELS[stage], total=total, unit="pieces")
        self.bar.advance(done - self.bar.done)

    def close(self):
        if self.bar is not None:
            self.bar.close()
        self.stage = self.bar = None
