"""How a reduction's dims are said (``"B, 784"``) and what they weigh: beta_eff's words."""

from __future__ import annotations


def describe_dims(pairs) -> tuple[str, int, int, int]:
    """(``"B, 784"``, batch power, product of constant sizes, product of sample sizes) of (size,
    Dim, is a Monte Carlo sample axis) triples; a dim of k*B counts as B with k among the
    constants. A mean over the samples is the Monte Carlo estimate of one term per input: it
    weighs nothing (a sum over them weighs their number)."""
    texts, power, consts, samples = [], 0, 1, 1
    for size, dim, sample in pairs:
        if sample:
            samples *= size
            texts.append(f"{size} samples")
        elif dim is not None and dim.batch_dependent:
            power += 1
            consts *= dim.coef
            texts.append("B" if dim.coef == 1 else f"{dim.coef}*B")
        else:
            consts *= size
            texts.append(str(size))
    return ", ".join(texts), power, consts, samples
