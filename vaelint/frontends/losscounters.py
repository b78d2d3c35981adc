"""A loss that takes a training counter (``def vae_loss(self, recon, x, mu, logvar, epoch)``, its
KL weight ``beta = min(1, epoch / self.total_epochs)``), checked with the model and no training
code to hand it one: it is checked at the counter's first value, 0, as a first step is, and the
weights it computes from the counter are read at later values as a training step's schedules are
(:mod:`vaelint.frontends.training.calleeschedules`). Before, the binding asked for
``--loss-kwarg epoch=VALUE``, and any value given was judged as the weight for good."""

from __future__ import annotations

import inspect
import os

# parameter names that count a training's progress
COUNTER_NAMES = frozenset(
    {
        "epoch",
        "epochs_done",
        "cur_epoch",
        "current_epoch",
        "i_epoch",
        "epoch_idx",
        "step",
        "global_step",
        "n_iter",
        "iteration",
        "iter_num",
        "it",
    }
)


def counted_from_the_start(program) -> None:
    """Bind each counter parameter of the program's loss no --loss-kwarg names to 0, and read the
    weights the loss computes from it at later values (``program.schedules``)."""
    plan = program.loss
    if plan is None:
        return
    try:
        params = inspect.signature(plan.fn).parameters.values()
    except (TypeError, ValueError):
        return
    named = [p.name for p in params if p.name in COUNTER_NAMES and p.default is p.empty]
    given = {n: plan.kwargs[n] for n in named if isinstance(plan.kwargs.get(n), (int, float))}
    counters = [n for n in named if n not in plan.kwargs]
    if not counters and not given:
        return
    from vaelint.frontends.training.calleeschedules import parameter_schedules
    from vaelint.frontends.training.sandbox import Sandbox

    plan.kwargs = {**plan.kwargs, **dict.fromkeys(counters, 0)}
    plan.counters = tuple(counters)
    owner = getattr(plan.fn, "__self__", None)
    path = os.path.realpath(getattr(program, "path", "") or ".")
    found = parameter_schedules(plan.fn, {c: c for c in [*counters, *given]}, Sandbox(path), owner, given)
    program.schedules = [*program.schedules, *found]
    if not counters:
        return  # the user's own value: the schedules go on from it
    said = ", ".join(counters)
    program.notes.append(
        f"the loss {plan.name} takes the training counter {said}: it is checked at {said} = 0, the first step, "
        + (
            "and the weights it computes from it are read at later values"
            if found
            else "and nothing it computes from it weighs a term (give --loss-kwarg to check another step)"
        )
    )
