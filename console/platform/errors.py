"""Errors the CLI and HTTP layer turn into a clear message instead of a traceback."""


class UserError(Exception):
    """A mistake in what the user asked for: shown as one line, exit code 2."""


class NotAuthorised(UserError):
    """The acting user may not do this (or the token is not valid)."""
