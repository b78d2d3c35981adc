"""How a reduction's dims are said (``"B, 784"``) and what they weigh: beta_eff's words."""

from __future__ import annotations

import re

from vaelint.facts.shapes import batch_text


def describe_dims(pairs) -> tuple[str, int, int, int]:
    """(``"B, 784"``, batch power, product of constant sizes, product of sample sizes) of (size,
    Dim, is a Monte Carlo sample axis) triples; a dim of k*B counts as B with k among the
    constants. A mean over the samples is the Monte Carlo estimate of one term per input: it
    weighs nothing (a sum over them weighs their number). A part of the batch (B/2) counts as B."""
    texts, power, consts, samples = [], 0, 1, 1
    for size, dim, sample in pairs:
        if sample:
            samples *= size
            texts.append(f"{size} samples")
        elif dim is not None and dim.batch_dependent:
            power += 1
            # B/2, a part of the batch (a FactorVAE's half): the batch the VAE trains on, weighs as B does
            consts *= dim.coef if isinstance(dim.coef, int) else 1
            texts.append(batch_text(dim.coef))
        else:
            consts *= size
            texts.append(str(size))
    return ", ".join(texts), power, consts, samples


def mixed_batch_parts(read):
    """``read`` (the loss's scales, or why none were read), unless its terms are reduced over a
    part of the batch (B/2, a FactorVAE's half) and divided by the whole batch too (the
    reconstruction by ``x1.size(0)``, the KL by ``x.size(0)``): weighing B/2 as the batch the VAE
    trains on cannot tell those apart, so no beta_eff is written; why, said."""
    if isinstance(read, str) or read is None:
        return read
    factors = [f for term in (read.rec, *read.kls) for f in term.factors if f.kind in ("sum", "mean", "size")]
    part = any("B/" in f.over for f in factors)
    whole = any("B/" not in f.over and (f.kind == "size" and f.batch_power or re.search(r"(^|[ ,*])B($|[ ,])", f.over)) for f in factors)
    if part and whole:
        return (
            "the loss's terms are reduced over a part of the batch (B/2, as the model's input is split) and divided "
            "by the whole batch too: their weights against each other are not read"
        )
    return read
