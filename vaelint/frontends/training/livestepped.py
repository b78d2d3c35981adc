"""An optimiser step the run leaves out, and a backward that a real run's step would break.

vaelint never steps an optimiser. A step that sits between a loss's forward and that loss's
backward (a FactorVAE's discriminator updated inside the VAE's step, its TC term computed
before) changes weights the later backward needs: PyTorch refuses that backward ("one of the
variables needed for gradient computation has been modified by an inplace operation"), on every
run. Leaving the step out hid that, and the check passed code that cannot train. So the weights
the step would change (those a backward passed over since the batch gave gradients) are marked
changed with their values kept (an in-place multiply by one bumps the version counter autograd
checks), and the VAE's backward is tried for that error before the run stops there."""

from __future__ import annotations


class BrokenByAStep(RuntimeError):
    """The backward a real run raises at: the user's own error, never a stand-in's."""


BrokenByAStep.__name__ = "RuntimeError"  # said as the user's run says it ("RuntimeError: one of the variables ...")


def mark_changed(optimiser, graded: set) -> list:
    """Mark the parameters of ``optimiser`` in ``graded`` (id()s) as changed in place, their values
    as they were; (parameter, the user's line of the step) for each."""
    import torch
    from torch.nn.parameter import is_lazy

    from vaelint.source.frames import user_frame

    where = user_frame()
    changed = []
    for group in getattr(optimiser, "param_groups", []):
        for p in group.get("params", []):
            if id(p) not in graded or not isinstance(p, torch.Tensor) or is_lazy(p) or not p.is_floating_point():
                continue
            try:
                with torch.no_grad():
                    p.mul_(1)  # exact for every value (-0.0, inf and NaN included): only the version moves
            except RuntimeError:  # an inference tensor, a parameter torch will not write in place: left as it is
                continue
            changed.append((p, where))
    return changed


def raise_as_the_backward_would(loss, changed: list) -> None:
    """Where a left-out step changed weights this loss's graph reached, try the backward's own
    check: the RuntimeError a real run raises at this backward, said with the step's line."""
    if not changed:
        return
    import torch

    from vaelint.frontends.training.liveinner import parameters_reached

    reached = parameters_reached([loss])
    if not any(id(p) in reached for p, _where in changed):
        return
    leaves = [p for p, _where in changed if id(p) in reached and p.requires_grad]
    try:
        torch.autograd.grad(loss, leaves, retain_graph=True, allow_unused=True)
    except RuntimeError as e:
        if "modified by an inplace operation" not in str(e):
            return
        steps = sorted({w.where() for _p, w in changed if w is not None})
        at = f" by the optimiser step at {', '.join(steps)}" if steps else ""
        raise BrokenByAStep(
            f"{str(e).split('Hint:')[0].strip()} (the weights this backward needs were changed in place{at}, after the loss "
            "was computed from them: compute the terms that read those weights after that step, or take the step after "
            "this backward)"
        ) from None
