"""The weight of a reconstruction written as a sum of parts reduced alike (facts/termscale.py): one
number where all parts carry the same; where they differ, the sum of the weights for alternative
likelihoods of the same data (``0.7 * l1 + 0.3 * mse`` weighs 1), and the largest part's for
likelihoods of different slices of it (an image's and its tags': ``img_loss + 10 * tag_loss`` weighs
the image's 1; the sum, 11, was a false VAE004, helper-found on a multi-modal music VAE)."""

from __future__ import annotations

import math

import torch.fx as fx

from vaelint.facts.reductions import Factor, TermScale


def weights_of(ctx, parts: list[TermScale], element: fx.Node) -> list[Factor]:
    """The numbers written on parts reduced alike, as the whole term's: the part's own where all
    are weighed alike, else one weight, their sum (``0.7 * l1 + 0.3 * mse`` weighs 1)."""
    first = parts[0]
    own = [f for f in first.factors if f.kind not in ("sum", "mean", "size")]
    if all(math.isclose(p.explicit, first.explicit) for p in parts[1:]):
        return own
    weights = [p.explicit for p in parts]
    sizes = [_per_sample(ctx, p.element) for p in parts]
    if None not in sizes and len(set(sizes)) > 1:
        # likelihoods of different slices of the data (an image's and its tags'): each its own, a weight on
        # one is no weight on the others; the term weighs what its largest part is weighed
        largest = max(range(len(parts)), key=lambda i: sizes[i])
        said = f"{weights[largest]:g} (its largest part's, of {sizes[largest]} values a sample; the parts weighed " + (
            ", ".join(f"{w:g}" for w in weights[:4]) + ")"
        )
        return [f for f in own if f.kind != "const"] + [Factor("const", weights[largest], 0, 1, said, element, "mul")]
    said = " + ".join(f"{w:g}" for w in weights[:4]) + (" + ..." if len(weights) > 4 else "")
    return [f for f in own if f.kind != "const"] + [Factor("const", sum(weights), 0, 1, said, element, "mul")]


def _per_sample(ctx, node) -> int | None:
    """How many values a sample has in ``node`` (its dims after the batch's); None where unknown."""
    fact = ctx.shape(node) if isinstance(node, fx.Node) else None
    if fact is not None and fact.sizes is not None and len(fact.sizes) < 2 and isinstance(node, fx.Node):
        compared = next((a for a in node.args if isinstance(a, fx.Node)), None)  # mse_loss(r_tag, tags, "sum"): its input's
        fact = ctx.shape(compared) if compared is not None else None
    return math.prod(fact.sizes[1:]) if fact is not None and fact.sizes and len(fact.sizes) > 1 else None
