"""`wptk vocab` (being built)."""
HELP = "learn a BERT WordPiece vocabulary from a corpus"
DESCRIPTION = HELP


def add_arguments(p):
    pass


def run(args):
    from wptk.errors import WptkError
    raise WptkError("not available yet")
