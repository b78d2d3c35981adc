"""CUDA on a machine without it, while training code runs (:mod:`.live`, :mod:`.liverun`):
``x.cuda()``, ``x.to("cuda")``, ``model.cuda()`` keep the object on the CPU, and each move is
remembered with its line and whether the setup or the step made it."""

from __future__ import annotations

import contextlib
import sys

from vaelint.frames import is_user_file


@contextlib.contextmanager
def cuda_kept_on_cpu(record):
    """``x.cuda()``, ``x.to('cuda')``, ``model.cuda()`` in the code (its model's forward too)
    keep the object on the CPU where this machine has no CUDA (VAE012's simulated GPU, which
    reports CUDA as available, still sees the moves); ``record.moves`` lists them."""
    import torch

    from vaelint.frontends.training.runtime import _without_cuda

    moves = getattr(record, "moves", None)
    if moves is None:
        record.moves = moves = []
    saved = []

    def asks(*a, **k):
        """A device named by the code itself (not a library's): the code places its tensors."""
        if is_user_file(sys._getframe(2).f_code.co_filename):
            record.device_aware = True

    def is_available(real=torch.cuda.is_available):
        asks()
        return real()

    def wrap(owner, name):
        real = getattr(owner, name)

        def fn(self, *a, **k):
            if name == "cuda" or "device" in k or any(isinstance(v, (str, torch.device)) for v in a[:1]):
                asks()
            kept = _without_cuda(self, lambda *x, **y: real(self, *x, **y), name, a, k)
            if kept is None:
                return real(self, *a, **k)
            from vaelint.frames import user_frame

            loc = user_frame()
            # before the batch is taken it is the setup's move (the model's), after it the step's
            phase = "step" if getattr(record, "taken", None) is not None else "setup"
            entry = (phase, kept[1] if phase == "step" else f"{type(self).__name__}{kept[1]}", loc.path if loc else "", loc.line if loc else 0)
            if entry not in moves:
                moves.append(entry)
            return kept[0]

        fn.__name__ = fn.__qualname__ = name  # torch function modes (the simulated GPU) dispatch on it
        saved.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, fn)

    for owner in (torch.Tensor, torch.nn.Module):
        for name in ("cuda", "to"):
            wrap(owner, name)
    saved.append((torch.cuda, "is_available", torch.cuda.is_available))
    torch.cuda.is_available = is_available
    try:
        yield
    finally:
        for owner, name, own in reversed(saved):
            if own is None and isinstance(owner, type):
                delattr(owner, name)
            else:
                setattr(owner, name, own)
