"""Small helpers shared by the CLI commands."""
import sys
import warnings


def setup_warnings(command):
    """Shows library warnings (e.g. a case mismatch) as one readable line on stderr, once each."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"wptk {command}: warning: {message}", file=sys.stderr)
    warnings.showwarning = show
    warnings.simplefilter("once", UserWarning)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
