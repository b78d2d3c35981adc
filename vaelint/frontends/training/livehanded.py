"""A batch a library's loop took from the loader and handed to a function of the user's as an
argument: a LightningModule's ``training_step(self, batch, batch_idx)`` run by a real Trainer,
an ignite engine's ``step(engine, batch)``. No user frame took it from the loader (the loop is the
library's), so :func:`.livestep.step_from` found the batch as what the model was given last: after
a critic's backward (FactorVAE's), the critic's input ``z``, and the step was checked from ``z``
on ("no reparameterisation found"). The function's parameter that holds the taken batch (the
same tensors, in a collection the library may have rebuilt on its way to the device) is the batch,
and the function's body up to the backward is the step. Where no loader gave it (an index loop),
the batch is the variable the model's input is, or is a view of (``model(x.squeeze(-1))``)."""

from __future__ import annotations


def handed_in(usable, taken):
    """(the frame, its LiveStep) of the innermost user function whose parameter holds the batch the
    loader gave, or None."""
    from vaelint.frontends.training.livestep import LiveStep, _region_for_names

    wanted = _tensors(taken.value)
    if not wanted:
        return None
    import torch

    for frame, _line, values, file, scope, place in reversed(usable):
        if place is None or scope.is_module:
            continue
        code = frame.f_code
        params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        name = next((p for p in params if p in values and _same(_tensors(values[p]), wanted, torch)), None)
        if name is None:
            continue
        region, kind, source = _region_for_names(scope, place, [name])
        if region is None or kind != "param":
            continue
        step = LiveStep(
            file, scope, place, kind, source, None, [name], region, values, False, None,
            batch_value=(values[name],), module_globals=frame.f_globals,
        )  # fmt: skip
        return frame, step
    return None


def _tensors(value) -> tuple:
    """The tensors a batch holds, in order (a tensor, or a tuple, list or dict of them)."""
    import torch

    if isinstance(value, torch.Tensor):
        return (value,)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return tuple(v for v in value if isinstance(v, torch.Tensor))
    return ()


def _same(held: tuple, taken: tuple, torch) -> bool:
    """The same batch: the same tensors, or copies of them (moved to the device, a collection
    rebuilt by the library's transfer), equal in shape and values."""
    if len(held) != len(taken):
        return False
    for a, b in zip(held, taken):
        if a is b:
            continue
        if a.shape != b.shape or a.dtype != b.dtype or not torch.equal(a.detach().cpu(), b.detach().cpu()):
            return False
    return True


def a_view_of(v, t) -> bool:
    """Is ``t`` the tensor ``v`` seen in another shape (the same elements of the same storage)?"""
    import torch

    if not (isinstance(v, torch.Tensor) and isinstance(t, torch.Tensor)) or v.numel() != t.numel() or v.dim() == 0:
        return False
    return v.untyped_storage().data_ptr() == t.untyped_storage().data_ptr() and v.storage_offset() == t.storage_offset()
