"""What a run's error is about, decided in one place: the rules that explain a
failure (VAE003, VAE010, VAE012, VAE013) and the hints for one no rule explains
all read this."""

from __future__ import annotations

import re

_SHAPE_WORDS = re.compile(
    r"shape|size|dimension|mat1|mat2|must match|expected input|channels|broadcast|"
    r"input\.size|out of range|number of elements|to have",
    re.I,
)
_KINDS = (  # checked in order: the first that matches names the error
    ("range", re.compile(r"between 0 and 1", re.I)),  # binary_cross_entropy on values outside [0, 1]
    ("support", re.compile(r"support", re.I)),  # a distribution's support
    ("memory", re.compile(r"overflow|out of memory|not enough memory|can't allocate|DefaultCPUAllocator", re.I)),
    ("device", re.compile(r"device|accelerator|cuda", re.I)),
    ("dtype", re.compile(r"dtype|scalar type", re.I)),
)


def kind_of(error: BaseException | None) -> str:
    """One of: range, support, memory, device, dtype, shape, other."""
    if error is None:
        return "other"
    text = str(error)
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    if isinstance(error, (RuntimeError, ValueError, IndexError)) and _SHAPE_WORDS.search(text):
        return "shape"
    return "other"
