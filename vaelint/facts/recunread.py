"""Reconstruction terms whose weight against the KL is no beta to read: a mask on a loss already
reduced to one number, or one norm over the whole batch (``torch.linalg.norm(recon - x)``)."""

from __future__ import annotations

import torch.fx as fx


def why_rec_unread(ctx, term) -> str | None:
    """Why the reconstruction term's weight is not read: a mask on a loss already one number, or one
    norm over the whole batch (no per-sample likelihood either way); None where it is read."""
    from vaelint.facts.maskedafter import masked_after_reduction

    if any(ctx.view.depends_on(term, m.mul) for m in masked_after_reduction(ctx)):
        return "the reconstruction term masks a loss already reduced to one number (VAE003): its reduction is not what it means"
    norm = _norm_over_the_batch(ctx, term)
    if norm is not None:
        return (
            f"the reconstruction is one norm over the whole batch ({norm}, no dim=): the square root of a sum over every "
            "sample's values, no per-sample likelihood, so its weight against the KL is no beta (a norm per sample, "
            "dim=1, or ((recon - x) ** 2).sum(1).mean() is one)"
        )
    return None


_NORMS = frozenset({"norm", "linalg_norm", "linalg_vector_norm", "frobenius_norm", "dist"})


def _norm_over_the_batch(ctx, term) -> str | None:
    """``torch.linalg.norm(recon - x)`` or ``(recon - x).norm()`` with no ``dim`` under the term, of
    a tensor with a batch dim: where it is (the op and its line); None else."""
    from vaelint.facts.context import loc_of

    view, todo, seen = ctx.view, [term], set()
    outputs = set(ctx.roles.forward_outputs.values())  # the loss's own ops only, not the model's
    while todo and len(seen) < 60:
        node = todo.pop()
        if node in seen or not isinstance(node, fx.Node) or node in outputs:
            continue
        seen.add(node)
        if view.op(node) in _NORMS:
            dim = node.kwargs.get("dim", node.args[2] if view.op(node) == "norm" and len(node.args) > 2 else None)
            source = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
            fact = ctx.shape(source) if source is not None else None
            batched = fact is not None and fact.dims is not None and any(d.batch_dependent for d in fact.dims)
            if dim is None and batched:
                loc = loc_of(node)
                return f"{view.op(node)} at {loc.where()}" if loc else view.op(node)
            continue
        todo.extend(node.all_input_nodes)
    return None
