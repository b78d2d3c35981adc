"""A count taken away from a reduced term: the KL's per-element ``- 1`` written outside its sum, as the
number of elements it sums (``0.5 * (torch.sum(mu**2 + logvar.exp() - logvar) - mu.numel())``, ``- b * z``
with ``b, z = mu.shape``). The term is read down to the element the sum reduces, as the same KL with its
``- 1`` inside is; the number taken away is kept, so that a reading of the element as "the KL plus a
constant" (vaelint/facts/kloffset.py) can tell whether the constant cancels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch.fx as fx

from vaelint.facts.reductions import Factor, TermScale, TermWalker


@dataclass
class CountedOut:
    """``reduced - n``: the subtraction, n's value on the checked run (negative for ``reduced + n``), and the
    factors between it and the element (what a constant of each element is multiplied by on its way up)."""

    node: fx.Node
    value: float
    inner: list[Factor]


def minus_a_count(ctx, walker: TermWalker, element: fx.Node, walk) -> TermScale | None:
    """The scale of ``reduced - n`` or ``reduced + n`` read as ``reduced``'s (``walk`` reads it), where n is a
    number (a literal, sizes' arithmetic, a 0-d tensor nothing of the run moves) and ``reduced`` is reduced;
    the count kept on the scale. None for anything else."""
    view = ctx.view
    op = view.op(element)
    if op not in ("sub", "add") or len(element.args) != 2:
        return None
    a, n = element.args
    if op == "add" and walker._is_a_number(a):
        a, n = n, a  # n + torch.sum(...)
    if not isinstance(a, fx.Node) or walker._is_a_number(a) or not walker._is_a_number(n):
        return None
    number = n if isinstance(n, (int, float)) else _value(walker, n)
    if number is None:
        return None
    scale = walk(a)
    if scale is None or not scale.reductions() or scale.counted_out is not None:
        return None
    scale.counted_out = CountedOut(element, float(number) * (1 if op == "sub" else -1), list(scale.factors))
    return scale


def _value(walker: TermWalker, n: fx.Node) -> float | None:
    run = walker.runs.runs[walker.runs.batch]
    if n in run.values and isinstance(run.values[n], (int, float)):
        return float(run.values[n])
    t = run.tensors.get(n)
    return float(t) if t is not None and t.numel() == 1 else None


def cancels(ctx, counted: CountedOut, per_element: float) -> bool | None:
    """Whether a constant of ``per_element`` on each element, carried up through the reductions and numbers
    between the element and the subtraction, is the count taken away. None where a factor is not followed."""
    tensors = ctx.runs.runs[ctx.runs.batch].tensors
    total = per_element
    for f in counted.inner:
        if f.kind == "const":
            total *= f.value
        elif f.kind == "sum" and f.node.args and isinstance(f.node.args[0], fx.Node):
            got, out = tensors.get(f.node.args[0]), tensors.get(f.node)
            if got is None or out is None or out.numel() == 0:
                return None
            total *= got.numel() / out.numel()
        elif f.kind != "mean":
            return None
    return math.isclose(total, counted.value, rel_tol=1e-6, abs_tol=1e-9)


def count_above(ctx, terms: list, scale: TermScale) -> CountedOut | None:
    """A number taken away from (or added to) the KL once its terms are joined, between them and the
    loss (``kl = kl - self.latent_dim`` after ``kl = mean(norm(mu)**2) + mean(sum(sd**2)) - ...``): the
    first ``x - n`` or ``x + n`` whose ``x`` reads every term and that the total reads; the factors of
    ``scale`` (the first term's) not computed from it carry an element's constant up to it. None where
    there is none."""
    view, total = ctx.view, ctx.roles.loss_total
    if total is None or not terms:
        return None
    anchors = set().union(*(_in_the_loss(view, total, t) for t in terms))
    walker = TermWalker(ctx)
    for node in view.graph.nodes:
        if view.op(node) not in ("sub", "add") or len(node.args) != 2 or not view.depends_on(total, node):
            continue
        a, n = node.args
        if view.op(node) == "add" and walker._is_a_number(a):
            a, n = n, a
        if not isinstance(a, fx.Node) or not walker._is_a_number(n) or not all(view.depends_on(a, t) for t in anchors):
            continue
        if any(view.depends_on(a, r) for r in ctx.roles.rec_terms):
            return None  # taken from the whole loss, not from the KL
        number = n if isinstance(n, (int, float)) else _value(walker, n)
        if number is None:
            return None
        inner = [f for f in scale.factors if f.node is not None and not view.depends_on(f.node, node)]
        return CountedOut(node, float(number) * (1 if view.op(node) == "sub" else -1), inner)
    return None


def _in_the_loss(view, total: fx.Node, node: fx.Node, seen: set | None = None) -> set:
    """``node`` where the total reads it; for a term the check joined of parts reduced alike (a node
    the loss never computed), the nodes of the loss it is made of."""
    if view.depends_on(total, node):
        return {node}
    seen = seen if seen is not None else set()
    out: set = set()
    for a in node.all_input_nodes:
        if a not in seen:
            seen.add(a)
            out |= _in_the_loss(view, total, a, seen)
    return out
