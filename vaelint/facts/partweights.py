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
    read = [_inputs_read(ctx, p.element) for p in parts]
    apart = all(read) and all(not (a & b) for i, a in enumerate(read) for b in read[i + 1 :])
    if apart or (None not in sizes and len(set(sizes)) > 1):
        # likelihoods of different data (an image's and its tags'; a translation VAE's target beside its
        # input): each its own, a weight on one is no weight on the others; the term weighs what its main
        # part is weighed: the one of the reconstruction, else the largest
        main = _main_part(ctx, parts, sizes)
        said = f"{weights[main]:g} (its main part's; the parts weighed " + ", ".join(f"{w:g}" for w in weights[:4]) + ")"
        return [f for f in own if f.kind != "const"] + [Factor("const", weights[main], 0, 1, said, element, "mul")]
    said = " + ".join(f"{w:g}" for w in weights[:4]) + (" + ..." if len(weights) > 4 else "")
    return [f for f in own if f.kind != "const"] + [Factor("const", sum(weights), 0, 1, said, element, "mul")]


def _per_sample(ctx, node) -> int | None:
    """How many values a sample has in ``node`` (its dims after the batch's); None where unknown."""
    fact = ctx.shape(node) if isinstance(node, fx.Node) else None
    if fact is not None and fact.sizes is not None and len(fact.sizes) < 2 and isinstance(node, fx.Node):
        compared = next((a for a in node.args if isinstance(a, fx.Node)), None)  # mse_loss(r_tag, tags, "sum"): its input's
        fact = ctx.shape(compared) if compared is not None else None
    return math.prod(fact.sizes[1:]) if fact is not None and fact.sizes and len(fact.sizes) > 1 else None


def _inputs_read(ctx, node) -> frozenset:
    """The model's inputs a part compares with (the data side of its comparison: y of
    ``bce(y_logits, y)``), down through the reductions and numbers on it; empty where unknown."""
    view = ctx.view
    for _ in range(8):
        if not isinstance(node, fx.Node):
            return frozenset()
        tensors = [a for a in node.args if isinstance(a, fx.Node)]
        if len(tensors) != 1:
            break
        node = tensors[0]  # a sum, a mean, a number times it
    data = [a for a in node.args if isinstance(a, fx.Node) and view.is_data_only(a)] if isinstance(node, fx.Node) else []
    inputs = [i for i in ctx.roles.inputs if isinstance(i, fx.Node)]
    return frozenset(i for a in data for i in inputs if a is i or view.depends_on(a, i))


def _main_part(ctx, parts: list, sizes: list) -> int:
    """The part that compares the reconstruction (one of them only), else the largest, else the first."""
    recon = ctx.roles.recon
    of_recon = [
        i for i, p in enumerate(parts) if recon is not None and isinstance(p.element, fx.Node) and ctx.view.depends_on(p.element, recon)
    ]
    if len(of_recon) == 1:
        return of_recon[0]
    return max(range(len(parts)), key=lambda i: sizes[i] or 0)
