"""Errors that end the analysis of one target with a message for people (exit 2)."""

from __future__ import annotations


class VaelintError(Exception):
    """A target could not be analysed, or the command line was wrong.

    ``kind`` is one of the report's error kinds: load, input, trace, loss,
    timeout, exit, killed, internal (plus ``usage`` for command-line mistakes).
    The message names the cause and the fix in one paragraph.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __reduce__(self):  # pickled from the worker process to the parent
        return (type(self), (self.kind, self.message), dict(self.__dict__))


class ForwardHasLoss(BaseException):
    """The forward returns its own ``loss`` (pythae's ModelOutput): a loss found by
    name is what the forward already called, so the analysis goes on without it.
    A BaseException, so that no capture route takes it for a model that fails."""
