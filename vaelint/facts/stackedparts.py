"""A reconstruction that reduces a stack of per-part losses, each a number already reduced
(``torch.stack(losses).mean()``; ``(torch.stack(losses) * w).sum() / w.sum()``: a pinball loss
per quantile, a loss per scale or per head). The reduction over the stack is over the parts, not
over the data: the term is the parts' weighted sum, and each part's own reductions (a mean over
B and the data's dims) are the term's, where all parts are reduced alike."""

from __future__ import annotations

import dataclasses
import math

import torch.fx as fx

from vaelint.facts.reductions import Factor, TermScale

UNLIKE = "unlike"  # a stack of parts reduced unlike each other: the term's reduction is not read


def stacked_parts(ctx, scale: TermScale, part_scale) -> TermScale | str | None:
    """The term's scale read through a stack of parts reduced alike (``part_scale(node)``: a
    part's own scale); UNLIKE where the parts are reduced unlike; None where the element is no
    such stack."""
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
        # parts reduced unlike (MSEs of column groups of different widths): no one reduction holds for
        # the term, and the sum over the stack is over its parts, not over the data: not read
        return UNLIKE
    first = scales[0]
    weights = weights or [1.0] * len(parts)
    total = sum(w * s.explicit for w, s in zip(weights, scales)) / first.explicit if first.explicit else sum(weights)
    if _a_partition(ctx, scales):
        # blocks of the data's columns, one error each (12 and 24 of 36): together one sum over the
        # data, weighed alike only where every block's weight is the same
        if len({round(w * s.explicit, 12) for w, s in zip(weights, scales)}) > 1:
            return UNLIKE
        total /= len(parts)
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


def _a_partition(ctx, scales: list) -> bool:
    """Do the parts' elements cover the reconstruction's values between them, each a share of them
    (blocks of columns), rather than each the whole (a loss per quantile, per scale)?"""
    recon = ctx.roles.recon
    whole = ctx.shape(recon) if recon is not None else None
    facts = [ctx.shape(s.element) if s.element is not None else None for s in scales]
    if whole is None or whole.sizes is None or len(whole.sizes) < 2 or any(f is None or f.sizes is None or len(f.sizes) < 2 for f in facts):
        return False
    per_sample = [math.prod(f.sizes[1:]) for f in facts]
    data = math.prod(whole.sizes[1:])
    return sum(per_sample) == data and all(n < data for n in per_sample)


def reduced_alike(scales: list, per_sample: bool = False) -> bool:
    """Are the parts' scales all read, each reduced, and reduced alike (the same batch power, the
    same own reductions and sizes)? Then one reduction holds for the term they make up.
    ``per_sample``: a part's sum over its own data dims is no reduction apart (a likelihood's parts:
    the squared error of the numeric columns summed per row beside a cross-entropy, one number per
    row already, each averaged over the batch)."""
    if any(s is None or not s.reductions() for s in scales):
        return False
    first = scales[0]
    kinds = _kinds(first, per_sample)
    return all((s.batch_power, s.own(), _kinds(s, per_sample)) == (first.batch_power, first.own(), kinds) for s in scales[1:])


def _kinds(scale, per_sample: bool = False) -> set:
    """The kinds of a scale's reductions, less a number that undoes a mean (``mse * n_columns``:
    the mean and that number make a sum, as ``own()`` counts them), and with ``per_sample`` less
    the sums over a sample's own values."""
    return {
        f.kind
        for f in scale.reductions()
        if not (f.kind == "size" and f.batch_power == 0) and not (per_sample and f.kind == "sum" and f.batch_power == 0)
    }


def _stack_and_weights(ctx, element) -> tuple[fx.Node | None, list[float] | None]:
    """``torch.stack(parts)``, alone or times a vector of constant weights, one per part."""
    view = ctx.view
    if element is None:
        return None, None
    if view.op(element) == "stack":
        return element, None
    op = view.op(element)
    if op not in ("mul", "div", "truediv") or len(element.args) != 2:
        return None, None
    a, b = element.args

    def stacked(arg) -> bool:  # 1000 * rec: a Python number is no stack
        return isinstance(arg, fx.Node) and view.op(arg) == "stack"

    if op != "mul" and not stacked(a):
        return None, None  # c / stack(parts): no weights
    stack, other = (a, b) if stacked(a) else (b, a) if stacked(b) else (None, None)
    if stack is None or not isinstance(other, fx.Node) or any(a.op == "placeholder" for a in view.value_ancestors(other)):
        return None, None  # weights the data moves are no constant weights
    value = ctx.runs.runs[ctx.runs.batch].tensors.get(other)
    if value is None or value.dim() != 1 or len(value) != len(stack.args[0] if stack.args else ()):
        return None, None
    weights = [float(w) for w in value]
    if op != "mul":  # stack(parts) / widths: each part weighed by 1 / its width
        if any(w == 0 for w in weights):
            return None, None
        weights = [1.0 / w for w in weights]
    return stack, weights


def _a_number(ctx, node) -> bool:
    fact = ctx.shape(node)
    return fact is not None and fact.sizes is not None and len(fact.sizes) == 0
