"""Errors a user can cause; the CLI prints them as one line and exits non-zero."""
import os


class WptkError(ValueError):
    """A problem with the user's input (vocab, text, flags), described in one line."""


class UsageError(WptkError):
    """A command line that cannot be run as given (an argument no flag takes): exit status 2, as argparse's."""


def naming(error, path):
    """`error` (an OSError) as the same error about `path`, when it names no file (a failed write() or flush()
    does not say which file) or names a temporary file that stands for `path`."""
    if error.errno is None:
        return error
    renamed = type(error)(error.errno, error.strerror, os.fspath(path))
    renamed.__cause__ = error
    return renamed


def os_error_text(error):
    """An OSError in one line: the file (when known) and the system's reason, without the errno."""
    where = f"{error.filename}: " if error.filename is not None else ""
    return f"{where}{error.strerror or error}"
