"""Noise the model draws with NumPy: ``torch.FloatTensor(np.random.normal(0, 1, size=std.size()))``
(BCQ's and BEAR's VAEs, many RL codebases), ``torch.from_numpy(np.random.randn(B, Z))``.

No ``TorchFunctionMode`` sees such a draw: the tensor reaches the recording as a constant, and
the sample ``mean + std * eps`` it makes was not a reparameterisation (VAE001, VAE007, VAE009
skipped; a silent exit 0). While a run is recorded, NumPy's Gaussian draws are remembered; a
tensor made of one (by a torch factory given the array, or by a legacy constructor, which copies
it) is recorded as a draw, :func:`standard_normal`, which the rules read as noise and a later
run's replay can set."""

from __future__ import annotations

import contextlib
import sys

import torch

# NumPy's Gaussian draws (numpy.random's module functions; a Generator's methods cannot be patched)
_DRAWS = ("normal", "randn", "standard_normal")
# torch functions that make a tensor of an array
FROM_ARRAY = frozenset({"from_numpy", "tensor", "as_tensor", "asarray", "Tensor", "FloatTensor", "DoubleTensor"})


def standard_normal(*shape, dtype=None):
    """What a NumPy-drawn noise tensor is in the recorded graph: a Gaussian draw of its shape
    (the name is a random op's: :data:`vaelint.capture.ops.RANDOM_OPS`)."""
    return torch.randn(shape, dtype=dtype)


class NumpyDraws:
    """The arrays NumPy drew during one recorded run (held, so their ids stay theirs)."""

    def __init__(self):
        self.arrays: list = []

    def add(self, drawn):
        if getattr(drawn, "ndim", 0) and getattr(drawn, "size", 0):
            self.arrays.append(drawn)
        return drawn

    def is_draw(self, a) -> bool:
        return any(a is d for d in self.arrays)

    def made_of_draw(self, t: torch.Tensor) -> bool:
        """Is ``t`` (a tensor the recording meets as a constant) a copy of a drawn array (a legacy
        constructor's, ``torch.FloatTensor(arr)``): the same shape and the same values?"""
        if not self.arrays or t.is_sparse or not t.is_floating_point() or t.requires_grad:
            return False
        try:  # compared in NumPy: a torch call here would be traced (torch.as_tensor is a creation op)
            values = t.detach().cpu().numpy()
        except (RuntimeError, TypeError):
            return False
        for d in reversed(self.arrays):
            if tuple(d.shape) != tuple(values.shape) or d.dtype.kind != "f":
                continue
            if (d.astype(values.dtype) == values).all():
                return True
        return False


@contextlib.contextmanager
def numpy_draws_seen():
    """While inside, numpy.random's Gaussian draws are remembered (when the user's code has NumPy:
    it is never imported here). Yields the :class:`NumpyDraws`."""
    seen = NumpyDraws()
    numpy = sys.modules.get("numpy")
    saved = []
    if numpy is not None:
        for name in _DRAWS:
            real = getattr(numpy.random, name, None)
            if real is None:
                continue
            saved.append((name, real))
            setattr(numpy.random, name, lambda *a, _real=real, **k: seen.add(_real(*a, **k)))
    try:
        yield seen
    finally:
        for name, real in saved:
            setattr(numpy.random, name, real)


def replace_with_replay(t: torch.Tensor, replay_value) -> None:
    """A later run's NumPy draw takes the first run's values (as a replayed torch draw does)."""
    if isinstance(replay_value, torch.Tensor) and replay_value.shape == t.shape:
        with torch.no_grad():
            t.copy_(replay_value.to(t.device, t.dtype))
