"""The `wptk` command line. Starting it imports neither TensorFlow nor Beam."""
import argparse
import sys


DESCRIPTION = """\
wptk: fast, exact BERT tokenization and pretraining data. Run `wptk COMMAND --help` for a command's flags.

For a corpus larger than one machine's memory, the same pretraining data comes from an Apache Beam pipeline
(pip install "wptk[beam]"), on this machine or a cluster: python -m pipelines.create_pretraining_data --help
"""


def _commands():
    """name -> module with `add_arguments(parser)` and `run(args)`; imported only when used."""
    from wptk import cmd_demo, cmd_inspect, cmd_pretraining, cmd_tokenize, cmd_vocab
    return {"tokenize": cmd_tokenize, "create-pretraining-data": cmd_pretraining, "inspect": cmd_inspect,
            "vocab": cmd_vocab, "demo": cmd_demo}


def build_parser():
    """The `wptk` parser; each command's parser is its `parsers` attribute's entry."""
    from wptk import __version__
    from wptk.flags import ArgumentParser
    parser = ArgumentParser(prog="wptk", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"wptk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.parsers = {}
    for name, module in _commands().items():
        p = parser.parsers[name] = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION,
                                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv=None):
    from wptk.program import quiet_grpc_logs
    quiet_grpc_logs()           # `wptk demo` and `wptk vocab` run Beam jobs in this process
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "create-pretraining-data":
        from wptk.errors import UsageError
        from wptk.flags import absl_argv, require_output_unless_plan
        try:
            argv = [argv[0]] + absl_argv(argv[1:])
        except UsageError as e:
            parser.parsers[argv[0]].error(str(e))
        require_output_unless_plan(parser.parsers[argv[0]], argv, "--output_file")
    args, unknown = parser.parse_known_args(argv)
    if unknown:     # reported by the command they were given to, as argparse would not
        parser.parsers.get(args.command, parser).reject_unknown(unknown)
    if args.command is None:
        parser.print_help()
        return 2
    from wptk.program import run_guarded
    return run_guarded(f"wptk {args.command}", args.run, args)


if __name__ == "__main__":
    sys.exit(main())
