"""A batch the step draws for itself (``x2 = next(iter(loader))``: a FactorVAE's permuted batch, a
pair loss), made of --input at the size the step is run with now."""

from __future__ import annotations

from vaelint.inputs import same_kind


def at_batch(making, size, made: int | None):
    """A batch the step draws for itself (``x2 = next(iter(loader))``), made ``made`` rows deep
    from --input, at the size of the batch the step is run with now: a second batch of a FactorVAE
    meets the first, which the check runs at several sizes."""
    import torch

    traced = torch.fx._symbolic_trace
    # torch 2.13 warns on is_fx_tracing() (true under torch.export too); is_fx_symbolic_tracing() is fx alone
    if getattr(traced, "is_fx_symbolic_tracing", traced.is_fx_tracing)():
        # traced symbolically, the batch would be a constant of `made` rows in the graph: the
        # capture records concrete runs instead, each drawing at its own size
        raise RuntimeError("the step draws a batch of its own, which a symbolic trace would fix at one size")
    # made outside the recorded run: a batch vaelint makes of --input is data, as a real loader's
    # is, not a torch.rand of the step's with the batch size written down (a false VAE005)
    with torch._C.DisableTorchFunction():
        return _resized(making(), size, made)


def _resized(batch, size, made: int | None):
    import torch

    if not isinstance(size, int) or not made or size == made:
        return batch
    if isinstance(batch, torch.Tensor):
        if not batch.dim() or batch.shape[0] != made:
            return batch
        return torch.cat([batch] * (size // made + 1))[:size] if size > made else batch[:size]
    if isinstance(batch, (list, tuple)):
        return same_kind(batch, (_resized(b, size, made) for b in batch))
    if isinstance(batch, dict):
        return {k: _resized(v, size, made) for k, v in batch.items()}
    return batch
