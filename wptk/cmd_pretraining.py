"""`wptk create-pretraining-data` (placeholder until the pretraining issue lands)."""
HELP = "BERT's create_pretraining_data.py: same flags, same records"
DESCRIPTION = HELP


def normalize_absl_argv(argv):
    return argv


def add_arguments(p):
    pass


def run(args):
    from wptk.errors import WptkError
    raise WptkError("not available yet")
