"""Stage 1, load: each front end turns one way of writing VAE code into a Program
(vaelint/frontends/base.py), with the helpers they share here (load.py, build.py,
statements.py, placeholders.py, lossfind.py, overlay.py, sourcemap.py; importroots.py: where a
file's imports resolve from).

Imports: the top-level vocabulary; discover.py also the settings and the
jaxtyping dims of contracts/dimnames.py. Nothing after capture: the pipeline reads
only the Program.
"""

from __future__ import annotations

import contextlib
import functools

from vaelint.errors import VaelintError
from vaelint.frontends.base import Frontend, LoadRequest, Program, TargetRef, parse_ref


def frontends() -> list[Frontend]:
    """The front ends in the order they are asked; the first that detects a target gets it."""
    from vaelint.frontends.inmemory import InMemoryFrontend
    from vaelint.frontends.keras import KerasFrontend
    from vaelint.frontends.lightning import LightningFrontend
    from vaelint.frontends.notebook import NotebookFrontend
    from vaelint.frontends.plain import PlainFrontend
    from vaelint.frontends.training import TrainingFrontend

    return [InMemoryFrontend(), NotebookFrontend(), KerasFrontend(), LightningFrontend(), TrainingFrontend(), PlainFrontend()]


def choose(ref: TargetRef) -> Frontend:
    for frontend in frontends():
        if frontend.detect(ref):
            return frontend
    from vaelint.frontends.plain import PlainFrontend

    return PlainFrontend()  # it explains what a target must look like


def load_program(spec: str, request: LoadRequest | None = None) -> Program:
    """The Program of a target (``path.py:Name``, ``train.py``, ...)."""
    ref = parse_ref(spec)
    with torchscript_off():
        return choose(ref).load(ref, request or LoadRequest())


@contextlib.contextmanager
def torchscript_off():
    """While the user's code loads (and, for training code, runs), ``@torch.jit.script`` and
    ``torch.jit.script(fn)`` leave functions as Python, as ``PYTORCH_JIT=0`` does: TorchScript
    runs a scripted function where the check's tracers cannot see, so noise drawn in a
    scripted ``sample(mu, logsigma)`` was no sample to them and its tensors seemed made outside
    torch. TorchScript is a subset of Python, so the code computes the same."""
    import torch
    from torch.jit import _state

    was = bool(_state._enabled)
    _state.disable()
    # old-style modules (class Encoder(torch.jit.ScriptModule) with @torch.jit.script_method, RL
    # code of the PlaNet/SLAC era) are plain modules too, as PYTORCH_JIT=0 makes them: the
    # scripting metaclass compiles their submodules even with TorchScript off, and fails
    script_module = torch.jit.ScriptModule
    torch.jit.ScriptModule = _plain_script_module()
    try:
        yield
    finally:
        torch.jit.ScriptModule = script_module
        if was:
            _state.enable()


@functools.cache
def _plain_script_module():
    """What torch defines as ``ScriptModule`` with TorchScript off: a plain module."""
    import torch

    class ScriptModule(torch.nn.Module):
        def __init__(self, arg=None):
            super().__init__()

    return ScriptModule


def warm_up_parent(paths: list[str]) -> None:
    """Let the front ends import, once in the parent process, what every worker
    would otherwise import again."""
    from vaelint.frontends.keras import warm_up_parent as keras_warm_up

    keras_warm_up(paths)


__all__ = ["Frontend", "LoadRequest", "Program", "TargetRef", "VaelintError", "choose", "load_program", "parse_ref"]
