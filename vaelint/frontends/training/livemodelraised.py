"""A training step that raised a shape error inside its model: the model is checked on the batch
the step gave it, so VAE013 explains the error at the user's line (with the symbolic shapes and the
line that fixed the size), as ``check train.py:Model --input SPEC`` would. Before, the training
script's own command stopped with the raw RuntimeError ("mat1 and mat2 shapes cannot be
multiplied"), exit 2 (helper-found, JackWang0318/ECE285-cvae)."""

from __future__ import annotations


def model_that_raised(frontend, ref, request, home, runtime, watch):
    """The Program of the model the step called when it raised a shape error; None otherwise."""
    import torch

    from vaelint.errorkinds import kind_of
    from vaelint.frontends.base import Program
    from vaelint.frontends.training.batchspecs import _spec_of
    from vaelint.frontends.training.livehints import in_a_module
    from vaelint.frontends.training.program import _Namespace
    from vaelint.vocab import ErrorKind

    if not runtime.stops or watch.taken is None or len(watch.model_calls) != 1 or request.inputs:
        return None
    where, error = runtime.stops[0]
    if not in_a_module(error) or kind_of(error) is not ErrorKind.SHAPE:
        return None
    module, args = watch.model_calls[0]
    if not isinstance(module, torch.nn.Module) or not args or not all(isinstance(a, torch.Tensor) and a.dim() for a in args):
        return None
    specs = [_spec_of(a, args[0].shape[0]) for a in args]
    if any(s is None for s in specs):
        return None
    name = type(module).__name__
    globals_ = _user_globals(error, home.path)
    program = Program(frontend, ref, home.path, _Namespace(globals_), module, name=name, inputs=specs)
    shapes = ", ".join("x".join(str(d) for d in a.shape) for a in args)
    program.inputs_origin = f"the batch the training step gave {name} ({shapes}) when it raised"
    program.notes.append(
        f"the training step raised inside {name} ({where}: {type(error).__name__}): {name} is checked on the batch "
        f"the step gave it, {shapes}"
    )
    return program


def _user_globals(error, path: str) -> dict:
    """The globals of the user's file the error passed through (the script's names), else none."""
    import os

    tb, found = getattr(error, "__traceback__", None), {}
    while tb is not None:
        if os.path.realpath(tb.tb_frame.f_code.co_filename) == os.path.realpath(path):
            found = tb.tb_frame.f_globals
        tb = tb.tb_next
    return found
