"""D, the values of one sample of the data, as beta_eff's formulas write it."""

from __future__ import annotations

import math

import torch.fx as fx


def data_size(ctx) -> int:
    """Of the first input; or of the tensor a step made of a batch of strings
    (vaelint/capture/madedata.py), whose own input is one row number a sample."""
    made = next((ph for ph in ctx.roles.inputs if ph.meta.get("made_data")), None) if ctx.roles is not None else None
    fact = ctx.shape(made) if made is not None else None
    if fact is not None and fact.sizes:
        return math.prod(fact.sizes[1:])
    return math.prod(ctx.specs[0].sample_shape) if ctx.specs else 1


def by_the_data_size(ctx, node) -> bool:
    """``total / D`` (or ``* (1 / D)``) with D the number of values of one sample of the data."""
    op, number, size = ctx.view.op(node), node.args[-1] if len(node.args) == 2 else None, data_size(ctx)
    if op not in ("div", "mul") or not isinstance(node.args[0], fx.Node) or not isinstance(number, (int, float)):
        return False
    return size > 1 and (op == "div" and number == size or op == "mul" and number * size == 1)
