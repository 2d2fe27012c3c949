"""`wptk create-pretraining-data`: google-research/bert's create_pretraining_data.py, same flags, same records."""
import json
import os
import sys
import warnings

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
    from wptk.flags import add_pretraining_flags
    extra = add_pretraining_flags(p)
    extra.add_argument("--log_examples", type=int, default=0, metavar="N",
                       help="print the first N instances as readable tokens on stderr (the reference logs 20)")
    extra.add_argument("--max_line_mb", type=float, default=64, metavar="MB",
                       help="a line longer than this many MiB is an error naming the file and line (an endless "
                            "line such as /dev/zero's would take all memory); default 64")


def run(args):
    from wptk import recipe
    from wptk.flags import case_flags, is_gzip, output_format, pretraining_config, tokenizer_options
    from wptk.pretraining import create_pretraining_data, estimated_memory, expand_inputs
    from wptk.program import available_memory, setup_warnings
    from wptk.progress import format_bytes
    from wptk.reader import Utf8Decoder, max_line_bytes
    from wptk.tokenization import FullTokenizer
    from wptk.vocab import CLS, MASK, SEP, UNK, require_tokens

    setup_warnings("wptk create-pretraining-data", case_flags(args))
    config = pretraining_config(args)
    if args.log_examples < 0:
        raise WptkError(f"--log_examples must be >= 0, got {args.log_examples}")
    max_line = max_line_bytes(args.max_line_mb)
    inputs = expand_inputs(args.input_file)
    need, available = estimated_memory(inputs, config), available_memory()
    if available is not None and need > available:
        warnings.warn(f"this input needs about {format_bytes(need)} of memory in one process, more than the "
                      f"{format_bytes(available)} available: the Beam pipeline (python -m pipelines.create_pretraining_data) "
                      "makes the same kind of records with memory per bucket", UserWarning)
    outputs = [] if args.plan else _outputs(args, inputs)
    tokenizer = FullTokenizer(args.vocab_file, **tokenizer_options(args))
    require_tokens(tokenizer.vocab, [CLS, SEP, MASK, UNK], args.vocab_file)   # before reading any input
    if args.plan:
        from wptk.plan import plan, plan_text
        result = plan(inputs, tokenizer, config, gzip=is_gzip(output_format(args)), batch_size=args.plan_batch_size)
        print(json.dumps(result) if args.json else plan_text(result, "wptk create-pretraining-data"))
        return 0
    decoder = Utf8Decoder(strict=args.errors == "strict")
    show = None if not args.quiet else False
    summary = create_pretraining_data(inputs, outputs, tokenizer, config, output_format=output_format(args),
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


def _outputs(args, inputs):
    """The output files of --output_file, checked before any work: their directories exist, none is a
    directory or an input, none is named twice; a .gz name without --gzip is warned about."""
    from wptk.files import check_outputs
    from wptk.flags import is_gzip, output_format
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
        if path.lower().endswith(".gz") and not is_gzip(output_format(args)):
            warnings.warn(f"--output_file {path} ends in .gz but --gzip is off: its records are not compressed "
                          "(pass --gzip=true to compress them)", UserWarning)
    return outputs
