"""A per-element mask applied to a reconstruction loss already reduced to one number.

``nn.CrossEntropyLoss()`` (reduction ``mean``) hands back a scalar; ``(crit(logits, targets) *
mask).sum() / mask.sum()`` then multiplies that one number by the mask and divides the mask back
out: the mask is a no-op and the padding of every sequence counts in the mean. The loss that
meant to mask needs ``reduction="none"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.fx as fx


@dataclass(frozen=True)
class MaskedAfter:
    loss: fx.Node  # the loss function's call (reduced)
    mul: fx.Node  # where the mask multiplies it
    mask: fx.Node
    reduction: str  # "mean" or "sum"


def masked_after_reduction(ctx) -> list[MaskedAfter]:
    """Each comparison of the reconstruction whose reduced value is multiplied by a tensor with a
    batch dim (a mask of the batch's elements)."""
    out = []
    view = ctx.view
    for cmp in ctx.roles.comparisons:
        if view.op(cmp.node) in ("sub", "rsub"):
            continue  # a difference reduces nothing: (recon - x) * (recon - x) is a square, not a mask
        reduction = _reduction(ctx, cmp.node)
        if reduction == "none":
            continue
        for user in cmp.node.users:
            if view.op(user) != "mul":
                continue
            mask = next((a for a in user.all_input_nodes if a is not cmp.node), None)
            fact = ctx.shape(mask) if mask is not None else None
            if fact is not None and fact.dims and any(d.batch_dependent for d in fact.dims):
                out.append(MaskedAfter(cmp.node, user, mask, reduction))
    return out


def _reduction(ctx, node: fx.Node) -> str:
    """The reduction a loss call applies: its ``reduction=`` keyword, its module's attribute, or
    torch's default (``mean``)."""
    if node.op == "call_module":
        return getattr(ctx.module_of(node), "reduction", "mean")
    value = node.kwargs.get("reduction", "mean")
    return value if isinstance(value, str) else "mean"
