"""A variable-length sequence's padding mask on a loss term (``kl_t * mask[t]``, ``nll_t * mask[t]``):
one 0 or 1 per sample and step, which keeps or drops whole samples' terms alike for every term, so it
is no weight of a term (the reductions walk steps past it, vaelint/facts/reductions.py)."""

from __future__ import annotations

import torch
import torch.fx as fx


def padding_mask(view, values: dict, tensors: list) -> tuple | None:
    """(the mask, the term it multiplies) of a product of two tensors: the operand made of the data
    alone, 0s and 1s on the run, beside one that is not made of the data alone; None where there is none."""
    for mask, other in (tensors, tensors[::-1]):
        value = values.get(mask)
        if value is None or not view.is_data_only(mask) or view.is_data_only(other):
            continue
        if value.numel() and bool(((value == 0) | (value == 1)).all()):
            return mask, other
    return None


def masked_mean(view, values: dict, node: fx.Node) -> fx.Node | None:
    """``(nll * mask).sum() / mask.sum()``: a mean over the elements the padding mask keeps, read as
    a mean over the dims the sum reduces (the count of kept elements follows them). The sum divided,
    or None where the division is no such mean (sketch-rnn's masked offset likelihood beside a
    cross-entropy's mean: read as a plain sum, a false VAE002 said the parts differed by 1/B)."""
    a, b = (tuple(node.args) + (None, None))[:2]
    if not isinstance(a, fx.Node) or not isinstance(b, fx.Node) or view.op(a) != "sum" or view.op(b) != "sum":
        return None
    if len(a.args) > 1 or len(b.args) > 1 or a.kwargs.get("dim") is not None or b.kwargs.get("dim") is not None:
        return None  # both sums over everything: the kept elements' total, over their count
    product, counted = a.args[0], b.args[0]
    if not isinstance(product, fx.Node) or view.op(product) != "mul" or not isinstance(counted, fx.Node):
        return None
    tensors = [t for t in product.args if isinstance(t, fx.Node)]
    found = padding_mask(view, values, tensors) if len(tensors) == 2 else None
    if found is None:
        return None
    mask = found[0]
    kept, count = values.get(mask), values.get(counted)
    same = counted is mask or (
        isinstance(kept, torch.Tensor) and isinstance(count, torch.Tensor) and kept.shape == count.shape and bool(torch.equal(kept, count))
    )
    return a if same else None
