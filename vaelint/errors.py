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
        message = clipped(elide_tensors(message))
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __reduce__(self):  # pickled from the worker process to the parent
        return (type(self), (self.kind, self.message), dict(self.__dict__))


def clipped(text: str, most: int = 3000) -> str:
    """A text over ``most`` characters cut in its middle (a library's error that prints the stand-in
    batch as a list of its numbers: an 8 MB report), its start and end, where what and why are, kept."""
    if len(text) <= most:
        return text
    head, tail = most * 2 // 3, most // 4
    return f"{text[:head]} ... [{len(text) - head - tail} characters cut] ... {text[-tail:]}"


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
    """``TypeError: what it said``, or the type alone when it said nothing; an attribute a library
    or Python removed since the code was written is said with its replacement (``removed_api``)."""
    text = clipped(f"{type(e).__name__}: {e}", 1200) if str(e) else type(e).__name__
    hint = removed_api(str(e)) if isinstance(e, AttributeError) else None
    return f"{text} ({hint})" if hint else text


# attributes removed from a library or Python that older research code still calls: what replaces
# each (helpers A2, C2, W: np.product, time.clock, ... stopped runs with no fix said)
_REMOVED = {
    ("numpy", "product"): "np.product was removed in NumPy 2.0: write np.prod, or install numpy<2",
    ("numpy", "cumproduct"): "np.cumproduct was removed in NumPy 2.0: write np.cumprod, or install numpy<2",
    ("numpy", "sometrue"): "np.sometrue was removed in NumPy 2.0: write np.any, or install numpy<2",
    ("numpy", "asscalar"): "np.asscalar was removed in NumPy 1.23: write a.item()",
    ("numpy", "float_"): "np.float_ was removed in NumPy 2.0: write np.float64",
    ("numpy", "complex_"): "np.complex_ was removed in NumPy 2.0: write np.complex128",
    ("numpy", "NaN"): "np.NaN was removed in NumPy 2.0: write np.nan",
    ("numpy", "Inf"): "np.Inf was removed in NumPy 2.0: write np.inf",
    ("numpy", "round_"): "np.round_ was removed in NumPy 2.0: write np.round",
    ("numpy", "string_"): "np.string_ was removed in NumPy 2.0: write np.bytes_",
    ("numpy", "unicode_"): "np.unicode_ was removed in NumPy 2.0: write np.str_",
    ("time", "clock"): "time.clock was removed in Python 3.8: write time.perf_counter",
    ("torch", "_six"): "torch._six was removed in torch 2.0: write str for string_classes, math.inf for inf",
    ("scipy.misc", "imread"): "scipy.misc.imread was removed in SciPy 1.2: read images with imageio or PIL",
    ("scipy.misc", "imresize"): "scipy.misc.imresize was removed in SciPy 1.3: resize with PIL",
}
_ABC = ("Iterable", "Mapping", "MutableMapping", "Sequence", "Callable", "Hashable", "Set", "Container")


def removed_api(message: str) -> str | None:
    """What replaces a removed module attribute an AttributeError names (``module 'time' has no
    attribute 'clock'``), or None."""
    found = re.match(r"module '([\w.]+)' has no attribute '(\w+)'", message)
    if found is None:
        return None
    module, name = found.groups()
    if module == "collections" and name in _ABC:
        return f"collections.{name} moved to collections.abc in Python 3.10: import it from collections.abc"
    return _REMOVED.get((module, name))


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
