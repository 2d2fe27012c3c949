"""Flags shared by several commands, defined once: the reference's create_pretraining_data.py flag set with its
absl spellings, flags -> PretrainingConfig and tokenizer options, the word-counting flags of `wptk vocab` and its
pipeline, and the names of Beam's local runners. `wptk`'s commands and the Beam jobs' entry points use them."""
import argparse
import os

from wptk.errors import UsageError, WptkError

LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner")


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a usage error on one line, `PROG: error: MESSAGE; see PROG --help`, and exit status 2,
    instead of the usage block and then the message. Subcommands' parsers are of this class too."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")

    def option_strings(self):
        return [option for action in self._actions for option in action.option_strings]

    def reject_unknown(self, args):
        """The usage error for arguments that no argument of this parser takes."""
        self.error(f"unrecognized arguments: {with_suggestions(args, self.option_strings())}")


def with_suggestions(args, known):
    """`args` joined by ", ", each flag followed by the `known` flag nearest to its name, if one is near."""
    import difflib      # only on this error path: every command imports this module at start-up
    named = []
    for arg in args:
        near = difflib.get_close_matches(arg.split("=", 1)[0], known, n=1) if arg.startswith("--") else []
        named.append(f"{arg} (did you mean {near[0]}?)" if near else arg)
    return ", ".join(named)


def parse_bool(text):
    """absl's boolean values: true/false, t/f, 1/0, yes/no, in any case."""
    value = text.strip().lower()
    if value in ("true", "t", "1", "yes"):
        return True
    if value in ("false", "f", "0", "no"):
        return False
    raise ValueError(text)


parse_bool.__name__ = "boolean"  # argparse names the type in its error message


class BoolFlag(argparse.Action):
    """An absl boolean flag: --flag, --flag=BOOL, --flag BOOL and --noflag. How it was given is kept in the
    namespace's `spelled` dict (e.g. {"multilingual": "--multilingual=yes"}), so that messages can quote it."""

    def __init__(self, option_strings, dest, default=False, help=None, **kwargs):
        self.negated = ["--no" + o[2:] for o in option_strings if o.startswith("--")]
        super().__init__(option_strings + self.negated, dest, nargs="?", default=default, metavar="BOOL",
                         help=help)

    def __call__(self, parser, namespace, value, option_string=None):
        if option_string in self.negated:
            if value is not None:
                parser.error(f"{option_string} takes no value")
            flag = False
        else:
            try:
                flag = True if value is None else parse_bool(value)
            except ValueError:
                parser.error(f"argument {option_string}: invalid boolean value: {value!r}")
        setattr(namespace, self.dest, flag)
        spelled = dict(getattr(namespace, "spelled", None) or {})
        spelled[self.dest] = option_string if value is None else f"{option_string}={value}"
        namespace.spelled = spelled

    def format_usage(self):
        return self.option_strings[0]


def absl_argv(argv):
    """absl's command-line forms that argparse lacks: --flagfile=FILE (one flag per line; blank lines and lines
    starting with # or // skipped; flagfiles may name flagfiles) and long flags with one dash (-max_seq_length=64).
    A flagfile that cannot be read, a loop of flagfiles or a line that is not a flag is a UsageError."""
    return _absl_argv(argv, ())


def _absl_argv(argv, reading):
    out = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            out += [arg, *args]
            break
        if arg.startswith("-") and arg[1:2].isalpha() and len(arg) > 2:
            arg = "-" + arg
        if arg == "--flagfile":
            arg = f"--flagfile={next(args, '')}"
        if not arg.startswith("--flagfile="):
            out.append(arg)
            continue
        path = arg.split("=", 1)[1]
        if os.path.abspath(path) in reading:
            raise UsageError(f"--flagfile={path} names itself, through {' -> '.join(reading)}")
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read --flagfile={path}: {getattr(e, 'strerror', None) or e}") from None
        flags = []
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith(("#", "//")):
                continue
            if not line.startswith("-"):
                raise UsageError(f"--flagfile={path}, line {number}: not a flag: {line!r} (one --flag=value per line)")
            flags.append(line)
        out += _absl_argv(flags, reading + (os.path.abspath(path),))
    return out


# ------------------------------------------------------------------------------------------------- pretraining


def add_pretraining_flags(p, output_file=True):
    """The flags of `wptk create-pretraining-data` that the Beam pipeline shares: the reference's (same names,
    defaults and meaning; `output_file` adds --output_file, which the pipeline replaces with --output_dir), wptk's
    extras, and --plan."""
    ref = p.add_argument_group("flags of the reference create_pretraining_data.py (same names and defaults)")
    ref.add_argument("--input_file", required=True,
                     help="input raw text file(s): comma-separated list of files or glob patterns")
    if output_file:
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
    from wptk.formats import FORMATS
    from wptk.pretraining import MASKINGS, SENTENCE_PAIRS
    extra = p.add_argument_group("wptk extras (off by default, so the default output is the reference's)")
    extra.add_argument("--masking", choices=MASKINGS, default=None,
                       help="masking strategy: token (the reference's default) or whole_word (what "
                            "--do_whole_word_mask asks for)")
    extra.add_argument("--sentence_pair", choices=SENTENCE_PAIRS, default="nsp",
                       help="the pair objective: nsp, the reference's next-sentence prediction (default)")
    extra.add_argument("--multilingual", action=BoolFlag,
                       help="tokenize in multilingual mode (docs/multilingual.md; --do_lower_case is then ignored)")
    extra.add_argument("--output_format", choices=list(FORMATS), default=None,
                       help="record files: tfrecord (default) or tfrecord_gzip (what --gzip asks for)")
    extra.add_argument("--gzip", action=BoolFlag,
                       help='write GZIP-compressed TFRecords (read with compression_type="GZIP"): '
                            "--output_format=tfrecord_gzip")
    extra.add_argument("--errors", choices=("ignore", "strict"), default="ignore",
                       help="invalid UTF-8 in the input: 'ignore' drops the bytes as the reference does and "
                            "reports the count (default); 'strict' stops with the file and line")
    extra.add_argument("--quiet", action="store_true", help="no progress display and no summary")
    plan = p.add_argument_group("planning (wptk extras): predict a run from a sample of its input")
    plan.add_argument("--plan", action="store_true",
                      help="write nothing: read a sample of the input (about 1%%, or all of a small input), run the "
                           "real kernels on it and print the documents, instances, output bytes (plain and GZIP), "
                           "peak memory, time on one core and training steps per epoch the run would have")
    plan.add_argument("--plan_batch_size", type=int, default=256, metavar="N",
                      help="the training batch size for --plan's steps per epoch (default 256)")
    plan.add_argument("--json", action="store_true", help="with --plan: print one JSON object")
    return extra


def pretraining_config(args):
    """The validated PretrainingConfig of the pretraining flags; WptkError for a value out of range, UsageError
    for flags that contradict each other."""
    from wptk.pretraining import PretrainingConfig
    masking = args.masking or ("whole_word" if args.do_whole_word_mask else "token")
    if args.do_whole_word_mask and masking != "whole_word":
        raise UsageError(f"--do_whole_word_mask asks for --masking=whole_word, not --masking={masking}: give one")
    config = PretrainingConfig(
        max_seq_length=args.max_seq_length, max_predictions_per_seq=args.max_predictions_per_seq,
        random_seed=args.random_seed, dupe_factor=args.dupe_factor, masked_lm_prob=args.masked_lm_prob,
        short_seq_prob=args.short_seq_prob, masking=masking, sentence_pair=args.sentence_pair)
    config.validate()
    args.masking, args.output_format = masking, output_format(args)      # as resolved, for summaries
    check_plan_flags(args)
    return config


def output_format(args):
    """The name of the records' format (wptk.formats) from --output_format and --gzip; UsageError when they
    contradict each other."""
    name = args.output_format or ("tfrecord_gzip" if args.gzip else "tfrecord")
    if args.gzip and name != "tfrecord_gzip":
        raise UsageError(f"--gzip asks for --output_format=tfrecord_gzip, not --output_format={name}: give one")
    return name


def is_gzip(name):
    """Whether records of the format `name` are GZIP-compressed (for size predictions and name checks)."""
    from wptk.formats import get
    return get(name).suffix.endswith(".gz")


def tokenizer_options(args):
    """FullTokenizer's keyword arguments from --do_lower_case and --multilingual (which never lowercases)."""
    multilingual = bool(getattr(args, "multilingual", False))
    options = {"do_lower_case": args.do_lower_case and not multilingual}
    if multilingual:
        options["multilingual"] = True
    return options


def case_flags(args):
    """setup_warnings' case_flags for commands with the reference's --do_lower_case and wptk's --multilingual."""
    return ("--do_lower_case=True", "--do_lower_case=False",
            (getattr(args, "spelled", None) or {}).get("multilingual", "--multilingual"))


def require_output_unless_plan(parser, argv, output_flag):
    """Makes `parser`'s output flag required, unless `argv` asks for --plan (which writes nothing)."""
    if not any(arg == "--plan" for arg in argv):
        parser._option_string_actions[output_flag].required = True


def check_plan_flags(args):
    """UsageError for planning flags that cannot be honoured."""
    if args.json and not args.plan:
        raise UsageError("--json prints the plan: give it with --plan")
    if args.plan_batch_size < 1:
        raise UsageError(f"--plan_batch_size must be >= 1, got {args.plan_batch_size}")


# ------------------------------------------------------------------------------------------------- word counting


def add_case_flags(p):
    """--lower / --no-lower and --multilingual: which BasicTokenizer splits the text into words (wptk tokenize,
    wptk vocab and the word-count pipeline); resolve_case reads them."""
    case = p.add_mutually_exclusive_group()
    case.add_argument("--lower", dest="lower", action="store_true", default=None,
                      help="lowercase and strip accents, for uncased models (default)")
    case.add_argument("--no-lower", "--no_lower", dest="lower", action="store_false",
                      help="keep case and accents, for cased models")
    p.add_argument("--multilingual", action="store_true",
                   help="the multilingual pre-tokenizer (docs/multilingual.md): no lowercasing or normalization, Thai "
                        "word segmentation, joiners and selectors kept, Mongolian suffixes split, lossless offsets; "
                        "implies --no-lower")


def resolve_case(args):
    """do_lower_case from --lower / --no-lower / --multilingual (the multilingual mode never lowercases)."""
    if args.multilingual and args.lower:
        raise WptkError("--multilingual keeps case (it does no normalization at all): drop --lower")
    return False if args.multilingual else args.lower is not False


def add_count_flags(p):
    """The word-counting pipeline's flags (`wptk vocab` and python -m pipelines.word_count)."""
    p.add_argument("--num_shards", type=int, default=16,
                   help="word-count shards, summed in parallel (default 16)")
    p.add_argument("--input_split_mb", type=float, default=16.0, metavar="MB",
                   help="plain input files are counted in byte ranges of this many MiB, in parallel (default 16)")
    p.add_argument("--check_text", action=BoolFlag, default=True,
                   help="refuse input files whose first 64 KiB look binary (default True)")
    p.add_argument("--max_line_mb", type=float, default=64, metavar="MB",
                   help="a line longer than this many MiB is an error naming the file and the line's byte offset "
                        "(default 64)")


def check_count_flags(args):
    """WptkError for a word-counting flag out of range."""
    from wptk.reader import max_line_bytes
    if not 1 <= args.num_shards <= 99999:
        raise WptkError(f"--num_shards must be between 1 and 99999, got {args.num_shards}")
    if not args.input_split_mb > 0:
        raise WptkError(f"--input_split_mb must be positive, got {args.input_split_mb}")
    max_line_bytes(args.max_line_mb)


def is_local_runner(name):
    """Whether a --runner value (None: none given) names one of Beam's local runners, which wptk runs on
    FnApiRunner."""
    return name is None or name.split(".")[-1] in LOCAL_RUNNERS
