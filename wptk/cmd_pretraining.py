"""`wptk create-pretraining-data`: google-research/bert's create_pretraining_data.py, same flags, same records."""
import json
import os
import sys
import warnings

from wptk.cli_support import BoolFlag
from wptk.errors import WptkError

HELP = "BERT's create_pretraining_data.py: same flags, same records, much faster"
DESCRIPTION = """\
Creates BERT pretraining examples (next-sentence pairs with masked-LM predictions) as TFRecord files of
tf.train.Example, exactly as google-research/bert's create_pretraining_data.py does: with the same input,
vocab, flags and seed, the same records in the same order. Flags keep the reference's names and defaults,
and its absl spellings work: --flag=value, --flag value, --do_lower_case=False, --nodo_lower_case,
-flag=value, and --flagfile=FILE with one flag per line.

Input: plain text, one sentence per line, a blank line between documents. Lines are split on "\\n" only;
a new input file does not start a new document (as in the reference). Files ending in .gz, .bz2, .xz or
.lzma are decompressed; --input_file=/dev/stdin reads a pipe. The whole corpus is held in memory (about
2-5 MB per input MB); for more than the machine holds, use the Beam pipeline:
python -m pipelines.create_pretraining_data --help.

example:
  wptk create-pretraining-data --input_file='corpus/*.txt' --output_file=out/train.tfrecord \\
      --vocab_file=vocab.txt --do_lower_case=True --max_seq_length=128 --max_predictions_per_seq=20 \\
      --masked_lm_prob=0.15 --random_seed=12345 --dupe_factor=5
"""
def add_arguments(p):
    ref = p.add_argument_group("flags of the reference create_pretraining_data.py (same names and defaults)")
    ref.add_argument("--input_file", required=True,
                     help="input raw text file(s): comma-separated list of files or glob patterns")
    ref.add_argument("--output_file",
                     help="output TFRecord file(s), comma-separated; records go round-robin over them "
                          "(/dev/stdout streams them)")
    ref.add_argument("--vocab_file", required=True, help="the vocabulary file the BERT model was trained on")
    ref.add_argument("--flagfile", metavar="FILE",
                     help="read flags from FILE, one per line (absl's format: # and // start comments)")
    ref.add_argument("--do_lower_case", action=BoolFlag, default=True,
                     help="lowercase and strip accents: True for uncased models, False for cased (default True)")
    ref.add_argument("--do_whole_word_mask", action=BoolFlag,
                     help="mask all WordPieces of a word together (default False)")
    ref.add_argument("--max_seq_length", type=int, default=128, help="maximum sequence length (default 128)")
    ref.add_argument("--max_predictions_per_seq", type=int, default=20,
                     help="maximum number of masked LM predictions per sequence (default 20)")
    ref.add_argument("--random_seed", type=int, default=12345, help="random seed for data generation (default 12345)")
    ref.add_argument("--dupe_factor", type=int, default=10,
                     help="number of times to duplicate the input data, with different masks (default 10)")
    ref.add_argument("--masked_lm_prob", type=float, default=0.15, help="masked LM probability (default 0.15)")
    ref.add_argument("--short_seq_prob", type=float, default=0.1,
                     help="probability of creating sequences shorter than the maximum length (default 0.1)")
    extra = p.add_argument_group("wptk extras (off by default, so the default output is the reference's)")
    extra.add_argument("--multilingual", action=BoolFlag,
                       help="tokenize in multilingual mode (docs/multilingual.md; --do_lower_case is then ignored)")
    extra.add_argument("--gzip", action=BoolFlag,
                       help='write GZIP-compressed TFRecords (read with compression_type="GZIP")')
    extra.add_argument("--log_examples", type=int, default=0, metavar="N",
                       help="print the first N instances as readable tokens on stderr (the reference logs 20)")
    extra.add_argument("--errors", choices=("ignore", "strict"), default="ignore",
                       help="invalid UTF-8 in the input: 'ignore' drops the bytes as the reference does and "
                            "reports the count (default); 'strict' stops with the file and line")
    extra.add_argument("--max_line_mb", type=float, default=64, metavar="MB",
                       help="a line longer than this many MiB is an error naming the file and line (an endless "
                            "line such as /dev/zero's would take all memory); default 64")
    extra.add_argument("--quiet", action="store_true", help="no progress display and no summary")
    plan = p.add_argument_group("planning (wptk extras): predict a run from a sample of its input")
    plan.add_argument("--plan", action="store_true",
                      help="write nothing: read a sample of the input (about 1%%, or all of a small input), run the "
                           "real kernels on it and print the documents, instances, output bytes (plain and GZIP), "
                           "peak memory, time on one core and training steps per epoch the run would have")
    plan.add_argument("--plan_batch_size", type=int, default=256, metavar="N",
                      help="the training batch size for --plan's steps per epoch (default 256)")
    plan.add_argument("--json", action="store_true", help="with --plan: print one JSON object")


def run(args):
    from wptk.cli_support import available_memory, case_flags, format_bytes, setup_warnings
    from wptk import recipe
    from wptk.pretraining import PretrainingConfig, create_pretraining_data, estimated_memory, expand_inputs
    from wptk.textio import Utf8Decoder, max_line_bytes
    from wptk.tokenization import FullTokenizer
    from wptk.vocab import CLS, MASK, SEP, UNK, require_tokens

    setup_warnings("wptk create-pretraining-data", case_flags(args))
    config = PretrainingConfig(
        max_seq_length=args.max_seq_length, max_predictions_per_seq=args.max_predictions_per_seq,
        random_seed=args.random_seed, dupe_factor=args.dupe_factor, masked_lm_prob=args.masked_lm_prob,
        short_seq_prob=args.short_seq_prob, masking="whole_word" if args.do_whole_word_mask else "token")
    config.validate()
    if args.log_examples < 0:
        raise WptkError(f"--log_examples must be >= 0, got {args.log_examples}")
    max_line = max_line_bytes(args.max_line_mb)
    inputs = expand_inputs(args.input_file)
    check_plan_flags(args)
    need, available = estimated_memory(inputs, config), available_memory()
    if available is not None and need > available:
        warnings.warn(f"this input needs about {format_bytes(need)} of memory in one process, more than the "
                      f"{format_bytes(available)} available: the Beam pipeline (python -m pipelines.create_pretraining_data) "
                      "makes the same kind of records with memory per bucket", UserWarning)
    outputs = [] if args.plan else _outputs(args, inputs)
    tokenizer = FullTokenizer(args.vocab_file, do_lower_case=args.do_lower_case and not args.multilingual,
                              multilingual=args.multilingual)
    require_tokens(tokenizer.vocab, [CLS, SEP, MASK, UNK], args.vocab_file)   # before reading any input
    if args.plan:
        from wptk.plan import plan, plan_text
        result = plan(inputs, tokenizer, config, gzip=args.gzip, batch_size=args.plan_batch_size)
        print(json.dumps(result) if args.json else plan_text(result, "wptk create-pretraining-data"))
        return 0
    decoder = Utf8Decoder(strict=args.errors == "strict")
    show = None if not args.quiet else False
    output_format = "tfrecord_gzip" if args.gzip else "tfrecord"
    summary = create_pretraining_data(inputs, outputs, tokenizer, config, output_format=output_format,
                                      log_examples=args.log_examples, decoder=decoder, show_progress=show,
                                      log=lambda text: print(text, file=sys.stderr), max_line=max_line)
    decoder.report("wptk create-pretraining-data")
    if not args.quiet:
        f = recipe.figures(summary.recipe, config)
        print(f"wptk create-pretraining-data: {summary.documents:,} documents, {summary.sentences:,} sentences, "
              f"{summary.tokens:,} tokens -> {summary.instances:,} instances ({summary.masked_tokens:,} masked "
              f"tokens, {100 * f['masked_share']:.1f}% of real tokens; {100 * f['random_next_share']:.0f}% random "
              f"next; {100 * f['padding_share']:.0f}% padding) in {summary.seconds:.1f} s; wrote "
              f"{', '.join(summary.output_files)}", file=sys.stderr)
    for line in recipe.warnings(summary.recipe, config):
        print(f"wptk create-pretraining-data: warning: {line}", file=sys.stderr)
    return 0


def require_output_unless_plan(parser, argv, output_flag):
    """Makes `parser`'s output flag required, unless `argv` asks for --plan (which writes nothing)."""
    if not any(arg == "--plan" for arg in argv):
        parser._option_string_actions[output_flag].required = True


def check_plan_flags(args):
    """UsageError for planning flags that cannot be honoured."""
    from wptk.errors import UsageError
    if args.json and not args.plan:
        raise UsageError("--json prints the plan: give it with --plan")
    if args.plan_batch_size < 1:
        raise UsageError(f"--plan_batch_size must be >= 1, got {args.plan_batch_size}")


def _outputs(args, inputs):
    """The output files of --output_file, checked before any work: their directories exist, none is a
    directory or an input, none is named twice; a .gz name without --gzip is warned about."""
    from wptk.textio import check_outputs
    outputs = [p for p in args.output_file.split(",") if p]
    if not outputs:
        raise WptkError("--output_file names no file")
    for path in outputs:
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            raise WptkError(f"output directory does not exist: {directory}")
        if os.path.isdir(path):
            raise WptkError(f"output file is a directory: {path}")
    check_outputs(outputs, inputs + [args.vocab_file], "--output_file")
    for path in outputs:
        if path.lower().endswith(".gz") and not args.gzip:
            warnings.warn(f"--output_file {path} ends in .gz but --gzip is off: its records are not compressed "
                          "(pass --gzip=true to compress them)", UserWarning)
    return outputs
