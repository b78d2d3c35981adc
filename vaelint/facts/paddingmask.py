"""A variable-length sequence's padding mask on a loss term (``kl_t * mask[t]``, ``nll_t * mask[t]``):
one 0 or 1 per sample and step, which keeps or drops whole samples' terms alike for every term, so it
is no weight of a term (the reductions walk steps past it, vaelint/facts/reductions.py)."""

from __future__ import annotations


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
