"""Errors a user can cause; the CLI prints them as one line and exits non-zero."""


class WptkError(ValueError):
    """A problem with the user's input (vocab, text, flags), described in one line."""
