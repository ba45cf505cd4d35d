"""Errors of the local stack, each with a message that says what to do."""


class StackError(RuntimeError):
    """A service could not be installed, started or checked; the message says why and what to do."""
