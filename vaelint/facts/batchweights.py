"""Importance weights normalised across the batch: ``torch.logsumexp(log_w, dim=0)`` of a B x K
``log_w`` (one log weight per data point and importance sample), where the bound of each data point
is the logsumexp over its own K samples (dim=1). The wrong dim gives no error and no odd shape (K
values, then a mean): each "bound" mixes the batch's data points, every sample's gradient depends on
the others, and the objective is no bound on log p(x) (helper B's IWAE probe: exit 0, the same
output as the right dim).

Read from the shapes: a logsumexp or (log-)softmax whose reduced dim is the batch's (B), of a tensor
with one batch dim beside a dim of fixed size (the samples), that reads the decoder's output and the
sample (a log weight: log p(x|z) + log p(z) - log q(z|x)). An MMD or a total-correlation estimator
(no decoder output; pairs of samples B x B, one B kept) is left alone."""

from __future__ import annotations

from dataclasses import dataclass

import torch.fx as fx

_NORMALISING = {"logsumexp", "log_softmax", "softmax"}


@dataclass(frozen=True)
class BatchWeights:
    node: fx.Node  # the logsumexp
    source: fx.Node  # the log weights it reduces
    dim: int  # the batch's dim, reduced
    samples: int  # the dim of fixed size beside it: each data point's samples


def weights_over_the_batch(ctx) -> list[BatchWeights]:
    roles, view = ctx.roles, ctx.view
    if roles.recon is None or not roles.reparams:
        return []
    samples = [r.z for r in roles.reparams if isinstance(r.z, fx.Node)]
    out = []
    for node in ctx.nodes_by_op(*_NORMALISING):
        source = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        fact = ctx.shape(source) if source is not None else None
        if fact is None or not fact.dims or len(fact.dims) < 2:
            continue
        dim = _dim_arg(node, len(fact.dims))
        batch = [i for i, d in enumerate(fact.dims) if d.coef == 1 and d.const == 0]
        fixed = [i for i, d in enumerate(fact.dims) if d.coef == 0 and d.const > 1]
        if dim is None or batch != [dim] or not fixed:
            continue
        if not view.depends_on(source, roles.recon) or not any(view.depends_on(source, z) for z in samples):
            continue
        out.append(BatchWeights(node, source, dim, fixed[0]))
    return out


def _dim_arg(node: fx.Node, rank: int) -> int | None:
    dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
    if isinstance(dim, (tuple, list)):
        dim = dim[0] if len(dim) == 1 else None
    if not isinstance(dim, int):
        return None
    return dim + rank if dim < 0 else dim
