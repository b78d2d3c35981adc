"""D, the values of one sample of the data, as beta_eff's formulas write it."""

from __future__ import annotations

import math


def data_size(ctx) -> int:
    """Of the first input; or of the tensor a step made of a batch of strings
    (vaelint/capture/madedata.py), whose own input is one row number a sample."""
    made = next((ph for ph in ctx.roles.inputs if ph.meta.get("made_data")), None) if ctx.roles is not None else None
    fact = ctx.shape(made) if made is not None else None
    if fact is not None and fact.sizes:
        return math.prod(fact.sizes[1:])
    return math.prod(ctx.specs[0].sample_shape) if ctx.specs else 1
