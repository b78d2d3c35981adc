"""What a run's error is about, decided in one place: the rules that explain a
failure (VAE003, VAE010, VAE012, VAE013) and the hints for one no rule explains
all read this."""

from __future__ import annotations

import re

from vaelint.vocab import ErrorKind

_SHAPE_WORDS = re.compile(
    r"shape|size|dimension|mat1|mat2|must match|expected input|channels|broadcast|"
    r"input\.size|out of range|number of elements|to have|\b\d-D\b",  # 3-D input, hx and cx should be 3-D
    re.I,
)
_KINDS = (  # checked in order: the first that matches names the error
    (ErrorKind.RANGE, re.compile(r"between 0 and 1", re.I)),  # binary_cross_entropy on values outside [0, 1]
    (ErrorKind.SUPPORT, re.compile(r"support", re.I)),  # a distribution's support
    # a distribution's parameter outside its constraint (its message names the tensor's shape too)
    (ErrorKind.CONSTRAINT, re.compile(r"to satisfy the constraint", re.I)),
    # torch.LongTensor(a GPU tensor), a CPU type: "expected TensorOptions(..., device=cpu, ...) (got
    # TensorOptions(..., device=cuda:0, ...))" (torch 2.11 on an H100)
    (ErrorKind.DEVICE, re.compile(r"TensorOptions\([^)]*device=cpu\b.*got TensorOptions\([^)]*device=cuda", re.I)),
    # torch.DoubleTensor(a float32 tensor): "expected TensorOptions(dtype=double, device=cpu, ...)"
    (ErrorKind.DTYPE, re.compile(r"TensorOptions\(dtype=", re.I)),
    (ErrorKind.MEMORY, re.compile(r"overflow|out of memory|not enough memory|can't allocate|DefaultCPUAllocator", re.I)),
    (ErrorKind.DEVICE, re.compile(r"device|accelerator|cuda", re.I)),
    (ErrorKind.DTYPE, re.compile(r"dtype|scalar type", re.I)),
)


# a Python call given the wrong arguments: its message quotes parameter names ('device', 'size')
_ARGUMENTS = re.compile(
    r"missing \d+ required (positional|keyword-only) argument|got an unexpected keyword argument|takes \d+ positional argument|got multiple values for argument"
)


def kind_of(error: BaseException | None) -> ErrorKind:
    """What the error is about: the first kind whose words it holds; a shape when
    a RuntimeError, ValueError or IndexError speaks of sizes; else OTHER."""
    if error is None:
        return ErrorKind.OTHER
    text = str(error)
    if isinstance(error, TypeError) and _ARGUMENTS.search(text):
        return ErrorKind.OTHER  # a call's arguments (forward(x, max_len, device) given x alone): no word of it is a kind
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    if isinstance(error, (RuntimeError, ValueError, IndexError)) and _SHAPE_WORDS.search(text):
        return ErrorKind.SHAPE
    return ErrorKind.OTHER


# what to write for an error of ErrorKind.CONSTRAINT (said by the capture's and the training run's messages)
CONSTRAINT_HINT = (
    "A distribution was given a parameter outside what it allows (probs outside [0, 1], a scale that is "
    "not positive): with torch's argument validation (on by default) this fails on any input. A scale "
    "made of a log-variance or log-std head is its exp (Normal(mu, torch.exp(0.5 * logvar))); a probability "
    "is torch.sigmoid of the output, or give it as logits=."
)


def arguments_hint(error: BaseException | None) -> str:
    """What to write when the model (or its loss) was called without parameters it needs; "" else."""
    text = str(error) if isinstance(error, TypeError) else ""
    missing = re.search(r"([\w.]+)\(\) missing \d+ required (?:positional|keyword-only) arguments?: (.+)$", text)
    if missing is None:
        return ""
    names = missing.group(2).replace(" and ", ", ")
    return (
        f"{missing.group(1)} takes parameters the check did not give ({names}): each --input is one tensor, in order or "
        "as NAME=SPEC; a parameter that is no tensor (a length, a device, a weight) has no --input: check the "
        "training script that calls the model (`vaelint check train.py`), or give the parameter a default."
    )
