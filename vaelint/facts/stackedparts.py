"""A reconstruction that reduces a stack of per-part losses, each a number already reduced
(``torch.stack(losses).mean()``; ``(torch.stack(losses) * w).sum() / w.sum()``: a pinball loss
per quantile, a loss per scale or per head). The reduction over the stack is over the parts, not
over the data: the term is the parts' weighted sum, and each part's own reductions (a mean over
B and the data's dims) are the term's, where all parts are reduced alike."""

from __future__ import annotations

import dataclasses

import torch.fx as fx

from vaelint.facts.reductions import Factor, TermScale


def stacked_parts(ctx, scale: TermScale, part_scale) -> TermScale | None:
    """The term's scale read through a stack of parts reduced alike (``part_scale(node)``: a
    part's own scale), or None where the element is no such stack."""
    stack, weights = _stack_and_weights(ctx, scale.element)
    if stack is None:
        return None
    parts = stack.args[0] if stack.args and isinstance(stack.args[0], (list, tuple)) else []
    reductions = scale.reductions()
    if len(parts) < 2 or not all(isinstance(p, fx.Node) and _a_number(ctx, p) for p in parts):
        return None
    if len(reductions) != 1 or reductions[0].kind not in ("sum", "mean") or reductions[0].batch_power:
        return None  # the one reduction over the stack, over its parts only
    scales = [part_scale(p) for p in parts]
    if not reduced_alike(scales):
        return None  # parts reduced unlike: no one reduction holds for the term
    first = scales[0]
    weights = weights or [1.0] * len(parts)
    total = sum(w * s.explicit for w, s in zip(weights, scales)) / first.explicit if first.explicit else sum(weights)
    if reductions[0].kind == "mean":
        total /= len(parts)
    n = len(parts)
    own = first.reductions()
    said = f"{'mean' if reductions[0].kind == 'mean' else 'sum'} of its {n} parts" + (
        ", weighed " + ", ".join(f"{w:g}" for w in weights[:4]) if len(set(weights)) > 1 else ""
    )
    first.factors = (
        [f for f in scale.factors if f is not reductions[0]]
        + [dataclasses.replace(f, over=f"{f.over} in each of its {n} parts") if f is own[-1] else f for f in own]
        + [f for f in first.factors if f.kind not in ("sum", "mean", "size")]
        + [Factor("const", total, 0, 1, said, reductions[0].node, "mul")]
    )
    first.term = scale.term
    first.parts = n
    return first


def reduced_alike(scales: list) -> bool:
    """Are the parts' scales all read, each reduced, and reduced alike (the same batch power, the
    same own reductions and sizes)? Then one reduction holds for the term they make up."""
    if any(s is None or not s.reductions() for s in scales):
        return False
    first = scales[0]
    kinds = _kinds(first)
    return all((s.batch_power, s.own(), _kinds(s)) == (first.batch_power, first.own(), kinds) for s in scales[1:])


def _kinds(scale) -> set:
    """The kinds of a scale's reductions, less a number that undoes a mean (``mse * n_columns``:
    the mean and that number make a sum, as ``own()`` counts them)."""
    return {f.kind for f in scale.reductions() if not (f.kind == "size" and f.batch_power == 0)}


def _stack_and_weights(ctx, element) -> tuple[fx.Node | None, list[float] | None]:
    """``torch.stack(parts)``, alone or times a vector of constant weights, one per part."""
    view = ctx.view
    if element is None:
        return None, None
    if view.op(element) == "stack":
        return element, None
    if view.op(element) != "mul" or len(element.args) != 2:
        return None, None
    a, b = element.args
    stack, other = (a, b) if view.op(a) == "stack" else (b, a) if view.op(b) == "stack" else (None, None)
    if stack is None or not isinstance(other, fx.Node) or any(a.op == "placeholder" for a in view.ancestors(other)):
        return None, None  # weights the data moves are no constant weights
    value = ctx.runs.runs[ctx.runs.batch].tensors.get(other)
    if value is None or value.dim() != 1 or len(value) != len(stack.args[0] if stack.args else ()):
        return None, None
    return stack, [float(w) for w in value]


def _a_number(ctx, node) -> bool:
    fact = ctx.shape(node)
    return fact is not None and fact.sizes is not None and len(fact.sizes) == 0
