"""Small helpers shared by the CLI commands and the pipelines' entry points."""
import sys
import warnings

from wptk.errors import WptkError


def run_guarded(prog, fn, *args):
    """Runs fn(*args) as a command, returning its exit status: 0 on success; a user error is one line on stderr
    and status 1, never a traceback."""
    try:
        fn(*args)
        return 0
    except WptkError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0


def setup_warnings(command):
    """Shows library warnings (e.g. a case mismatch) as one readable line on stderr, once each."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"wptk {command}: warning: {message}", file=sys.stderr)
    warnings.showwarning = show
    warnings.simplefilter("once", UserWarning)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
