"""Errors that end the analysis of one target with a message for people (exit 2)."""

from __future__ import annotations

import re


class VaelintError(Exception):
    """A target could not be analysed, or the command line was wrong.

    ``kind`` is one of the report's error kinds: load, input, trace, loss,
    timeout, exit, killed, internal (plus ``usage`` for command-line mistakes).
    The message names the cause and the fix in one paragraph.
    """

    def __init__(self, kind: str, message: str | None = None):
        if message is None:
            # rebuilt by a library with one argument, its text around ours (Keras: type(e)(text)
            # for an error raised in a layer's call): ours, as a load error
            kind, message = "load", _inner(kind)
        message = elide_tensors(message)
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __reduce__(self):  # pickled from the worker process to the parent
        return (type(self), (self.kind, self.message), dict(self.__dict__))


def elide_tensors(text: str, longest: int = 80) -> str:
    """A tensor's repr over ``longest`` characters cut to ``tensor(...)`` (an error that formats the
    batch into a file name printed kilobytes of it): what is wrong and where stay readable."""
    out, start = [], 0
    while (at := text.find("tensor(", start)) >= 0:
        depth, end = 0, at + len("tensor")
        while end < len(text):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
            if depth == 0:
                break
        out.append(text[start:at] + (text[at:end] if end - at <= longest else "tensor(...)"))
        start = end
    return "".join(out) + text[start:]


_WRAPPINGS = (
    # Keras, an error in a layer's call: "Exception encountered when calling Sampling.call().\n\nOURS\n\nArguments received by ..."
    r"Exception encountered when calling [^\n]*\n\n(.*?)(?:\n\nArguments received by|\Z)",
    # Keras, building a functional model: "Could not automatically infer the output shape ... Error encountered:\n\nOURS"
    r"Could not automatically infer the output shape.*?Error encountered:\s*\n\n(.*)\Z",
)


def error_text(e: BaseException) -> str:
    """``TypeError: what it said``, or the type alone when it said nothing."""
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _inner(text: str) -> str:
    """Our message out of a library's wrapping of it."""
    for wrapping in _WRAPPINGS:
        match = re.search(wrapping, text, re.S)
        if match:
            return _inner(match.group(1).strip())
    return text


class ForwardHasLoss(BaseException):
    """The forward returns its own ``loss`` (pythae's ModelOutput): a loss found by
    name is what the forward already called, so the analysis goes on without it.
    A BaseException, so that no capture route takes it for a model that fails."""


class ChoosesCuda(Exception):
    """The code put tensors on this machine's GPU by itself while vaelint's stages ran on the CPU
    (``DEVICE = "cuda" if torch.cuda.is_available() else "cpu"`` in a model file, a script's
    ``model.to(device)``), or its training step met a tensor of another device there (a label
    left on the CPU): the target is checked again with CUDA hidden, as on a machine without a GPU,
    where VAE012's simulated GPU says which tensor is on which device (vaelint/analyze.py).
    Raised by the capture's roles stage and by the training front end's run."""
