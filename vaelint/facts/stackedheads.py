"""The heads of several samplers stacked into one tensor each, the way a recurrent VAE keeps them
(VRNN, SRNN, a DKF: ``torch.stack(mus, 1)``, ``torch.stack(logvars, 1)``, one per time step) and
its KL reads them: one stochastic layer per step, joined. The KL element then is B x T x Z while
each step's heads are B x Z, and reading it against one step's heads tells nothing. Read against
the stacks instead, the KL formula is a function of heads of its own shape again, whatever prior
(N(0, 1), or p(z_t | h_t-1) a network makes) the steps are compared with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.fx as fx
from torch import Tensor

from vaelint.facts.gaussian_kl import LOG_VAR_READINGS, sampler_reading

_JOINS = ("stack", "cat")


@dataclass(frozen=True)
class StackedLayer:
    """The joined heads of several samplers, read as one stochastic layer (``kl_element`` reads
    ``mu``, ``logvar``, ``std``, ``z`` off a layer); the std is made from the scale head as each
    step's sampler makes it (``std_of_head``), since no node of the graph holds the joined std."""

    mu: fx.Node
    logvar: fx.Node
    std_of_head: Callable[[Tensor], Tensor]
    reading: str  # how each step's std is made of its scale head (a LOG_VAR_READINGS key)
    std: None = None
    z: None = None


def stacked_layers(ctx, element: fx.Node) -> list[StackedLayer]:
    """The joins of the samplers' means and scale heads an element reads, matched step for step
    (the same join, the same dim, the heads of the same samplers in the same order)."""
    view, reparams = ctx.view, ctx.roles.reparams
    if len(reparams) < 2 or element is None:
        return []
    means = {r.mu: r for r in reparams if isinstance(r.mu, fx.Node)}
    joins = [n for n in view.ancestors(element) | {element} if view.op(n) in _JOINS and n.args]
    found = []
    for join in joins:
        layers = _joined(join, means)
        if layers is None:
            continue
        scales = [n for n in joins if view.op(n) == view.op(join) and _same_dim(n, join) and _parts(n) == [r.logvar for r in layers]]
        reading = _reading(ctx, layers)
        if len(scales) == 1 and reading is not None:
            found.append(StackedLayer(join, scales[0], LOG_VAR_READINGS[reading][1], reading))
    return found


def _parts(join: fx.Node) -> list | None:
    parts = join.args[0]
    return list(parts) if isinstance(parts, (list, tuple)) else None


def _same_dim(a: fx.Node, b: fx.Node) -> bool:
    return a.args[1:] == b.args[1:] and a.kwargs == b.kwargs


def _joined(join: fx.Node, means: dict) -> list | None:
    """The samplers whose means this join holds, in order: two or more, each once, nothing else."""
    parts = _parts(join)
    if not parts or len(parts) < 2 or any(p not in means for p in parts) or len(set(parts)) != len(parts):
        return None
    return [means[p] for p in parts]


def _reading(ctx, layers) -> str | None:
    """How every one of these samplers makes its std from its scale head, read off the run's
    values (``std = exp(0.5 * logvar)``: "log-variance"), where one reading fits them all."""
    tensors = ctx.runs.runs[ctx.runs.batch].tensors
    found = set()
    for r in layers:
        head, std = tensors.get(r.logvar), tensors.get(r.std)
        if not isinstance(head, Tensor) or not isinstance(std, Tensor) or head.shape != std.shape:
            return None
        found.add(sampler_reading(head.detach().cpu(), std.detach().cpu()))
    return found.pop() if len(found) == 1 else None
