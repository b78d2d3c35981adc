"""When the machine has a GPU and the model's own code reaches for it.

vaelint's stages run on the CPU and confirm on the device. Two things differ on
a machine with a GPU (scripts/gpu_checks.py found them): a model whose code
puts tensors on the GPU by itself meets those CPU stages (it is checked again
with CUDA hidden, as on a machine without one: vaelint/analyze.py), and an
error that is an exception on the CPU can be a device-side assert on CUDA,
after which the process has no usable GPU (such a model is confirmed on the CPU).
"""

from __future__ import annotations

import contextlib
import re
import sys

import torch

from vaelint.errors import ChoosesCuda
from vaelint.source.cells import where
from vaelint.source.modulefiles import file_of

__all__ = ["ChoosesCuda", "asserts_on_cuda", "cuda_hidden", "cuda_kept_said", "forget_device_choices"]


# errors that CUDA kernels report as device-side asserts (the process's GPU is then unusable)
_DEVICE_ASSERTS = re.compile(
    r"between 0 and 1|out of bounds|index .*out of range|out of range in self|multinomial|probability tensor", re.I
)


def asserts_on_cuda(error) -> bool:
    return bool(_DEVICE_ASSERTS.search(str(error)))


@contextlib.contextmanager
def cuda_hidden():
    """``torch.cuda.is_available()`` answers False, as on a machine without a GPU."""
    saved = torch.cuda.is_available, torch.cuda.device_count
    torch.cuda.is_available, torch.cuda.device_count = (lambda: False), (lambda: 0)
    try:
        yield
    finally:
        torch.cuda.is_available, torch.cuda.device_count = saved


def forget_device_choices(imported_before: set) -> None:
    """The device choices the first load made: the user's modules it imported (a
    config module that chose the device; none the caller had), so that the next
    load runs them again, and accelerate's process-wide state (its device), when
    the real one is loaded."""
    from vaelint.source.frames import is_user_file

    for name in set(sys.modules) - imported_before:
        origin = file_of(sys.modules[name])
        if origin and is_user_file(origin):
            del sys.modules[name]
    state = sys.modules.get("accelerate.state")
    for name in ("AcceleratorState", "PartialState"):
        reset = getattr(getattr(state, name, None), "_reset_state", None)
        if reset is not None:
            try:
                reset()
            except Exception:  # noqa: BLE001 - an accelerate without it: the retry says what happens
                pass


@contextlib.contextmanager
def cuda_kept_said(notes: list):
    """On a machine without CUDA, the model's own moves to it (``self.to("cuda")`` in its
    constructor, ``torch.randn(..., device="cuda")`` in forward) stay on the CPU, said in a note;
    VAE012 is still decided by the simulated GPU (vaelint/confirm/simdevice.py)."""
    if torch.cuda.is_available():
        yield
        return
    from types import SimpleNamespace

    from vaelint.frontends.training.livecuda import cuda_kept_on_cpu

    record = SimpleNamespace(moves=[])
    try:
        with cuda_kept_on_cpu(record):
            yield
    finally:
        _say_kept_moves(record.moves, notes)


def _say_kept_moves(moves: list, notes: list) -> None:
    """The moves the stages' runs kept on the CPU, those the training front end has not said."""
    from vaelint.frontends.training.program import step_move_note

    moves = [(what, path, line) for _phase, what, path, line in moves]
    training = any("this machine has no CUDA" in n for n in notes)  # the training front end said its own
    moves = [m for m in dict.fromkeys(moves) if not any((where(m[1], m[2]) if m[1] else m[0]) in n for n in notes)]
    if training:
        notes.extend(step_move_note(what, path, line) for what, path, line in moves if path)
    elif moves:
        said = ", ".join(f"{what} at {where(path, line)}" if path else what for what, path, line in moves[:3])
        notes.insert(
            0,
            f"the code's {said} stayed on the CPU: this machine has no CUDA (the check runs on the CPU; "
            "VAE012 is decided on a simulated GPU)",
        )
