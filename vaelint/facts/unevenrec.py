"""A reconstruction with no one reduction, read part by part (VAE002 reports it; the header and
VAE004 say why no one beta_eff is written):

- a sum of parts, each a likelihood of its own slice of the data, each reduced over its own values
  (a tabular VAE's MSE averaged over its numeric columns beside one cross-entropy per categorical
  column, their mean): against each part the KL has a beta_eff of its own;
- the square root of a mean (an RMSE): its gradient is the mean's over 2 RMSE, so against it the
  KL's weight is 2 RMSE times what it is against the mean, and moves with the error as training goes.

Parts reduced unlike over the batch are not read here (facts/termscale.py's
``parts_reduced_unlike``: VAE002 says that first)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch.fx as fx

from vaelint.facts.lossscales import UNFOLLOWED, LossScales, beta_eff, scales_against, the_likelihood, why_no_loss_scales
from vaelint.facts.reductions import Factor, TermScale, TermWalker
from vaelint.facts.termscale import own_scale, reduced_leaves, term_scale

_ROOTS = ("sqrt",)


@dataclass(frozen=True)
class PartWeight:
    """One part of the reconstruction and the KL's beta_eff against it."""

    node: fx.Node  # the part's own top (its loss call, or its reduction)
    op: str  # what it is: mse_loss, cross_entropy, sum
    reduced: str  # how it is reduced: "mean over B, 8", "divided by 3"
    beta: float


@dataclass(frozen=True)
class UnevenRec:
    """A reconstruction read part by part: ``kind`` "parts" (a sum of parts weighed unlike per
    value) or "root" (the square root of a mean, whose one part is the mean under it)."""

    kind: str
    parts: tuple[PartWeight, ...]
    rec_term: fx.Node
    kl_term: fx.Node
    root: fx.Node | None = None  # the sqrt (kind "root")
    root_value: float = 0.0  # its value at the step run: the RMSE

    @property
    def betas(self) -> list[float]:
        return [p.beta for p in self.parts]

    def even(self, beta: float) -> bool:
        """Does every part weigh the KL as the ELBO with weight ``beta`` does?"""
        return self.kind == "parts" and all(math.isclose(b, beta, rel_tol=1e-3) for b in self.betas)


def uneven_reconstruction(ctx) -> UnevenRec | None:
    """The reconstruction read part by part, where no one reduction holds for it; else None."""
    return ctx.reading("uneven_reconstruction", _read, UnevenRec)[0]


def _read(ctx) -> UnevenRec | str:
    if not why_no_loss_scales(ctx).startswith(UNFOLLOWED):
        return "the reconstruction has one reduction, or none is read"
    rec_terms, times = the_likelihood(ctx)
    if len(rec_terms) != 1 or times != 1.0:
        return "not one reconstruction term"
    whole = term_scale(ctx, rec_terms[0])
    if whole is None or whole.element is None or whole.reductions():
        return "the reconstruction is not followed to its element"
    if ctx.view.op(whole.element) in _ROOTS:
        return _root(ctx, whole)
    return _parts(ctx, whole)


def _root(ctx, whole: TermScale) -> UnevenRec | str:
    """sqrt(mean of squared errors): the mean under it, weighed by the sqrt's gradient at this step."""
    inner = next((a for a in whole.element.args if isinstance(a, fx.Node)), None)
    value = _value(ctx, whole.element)
    if inner is None or value is None or value <= 0:
        return "the root's value is not known"
    scale = own_scale(ctx, TermWalker(ctx), inner)
    if scale is None or not scale.reductions():
        return "the mean under the root is not followed"
    slope = Factor("const", 1 / (2 * value), 0, 1, f"1/(2*{value:.3g}) (the square root's gradient)", whole.element, "mul")
    read = replace(scale, term=whole.term, factors=[*whole.factors, slope, *scale.factors])
    part = _weighed(ctx, read, inner, scale.factors)
    if part is None:
        return "no KL is read against the mean under the root"
    return UnevenRec("root", (part[0],), whole.term, part[1], whole.element, value)


def _parts(ctx, whole: TermScale) -> UnevenRec | str:
    """A sum of parts (through constant weights and sub-sums: ``mse + sum(ce_j) / n``), each
    reduced and reading the data, all alike over the batch."""
    walker = TermWalker(ctx)
    leaves = reduced_leaves(ctx, walker, whole.element)
    if leaves is None or len(leaves) < 2:
        return "the reconstruction is no sum of reduced parts"
    if len({s.batch_power for _n, s in leaves}) > 1:
        return "its parts are reduced unlike over the batch"
    read = []
    for node, scale in leaves:
        part = _weighed(ctx, replace(scale, term=whole.term, factors=[*whole.factors, *scale.factors]), node, scale.factors)
        if part is None:
            return "no KL is read against a part"
        read.append(part)
    return UnevenRec("parts", tuple(p for p, _kl in read), whole.term, read[0][1])


def _weighed(ctx, rec: TermScale, node: fx.Node, own: list[Factor]) -> tuple[PartWeight, fx.Node] | None:
    """The part (``own``: its own factors, said) and the KL's beta_eff against it (the first KL the
    loss has), with that KL's term."""
    scales = scales_against(ctx, rec)
    if not isinstance(scales, LossScales):
        return None
    top = _top(ctx, node)
    said = ", ".join(_said(f) for f in own if f.kind != "const" or f.op in ("mul", "div")) or rec.describe()
    return PartWeight(top, ctx.view.op(top), said, beta_eff(scales, ctx).value), scales.kl.term


def _said(f: Factor) -> str:
    if f.kind in ("sum", "mean"):
        return f"{f.kind} over {f.over}"
    if f.kind == "size":
        return f"{'divided' if f.batch_power < 0 else 'multiplied'} by {f.over}"
    if f.op == "div" and f.value:
        return f"divided by {1 / f.value:g}"
    return f"times {f.over}"


def _top(ctx, node: fx.Node) -> fx.Node:
    """The part's own op under the numbers written on it (``mse_loss`` of ``0.5 * mse_loss``)."""
    for _ in range(6):
        if ctx.view.op(node) not in ("mul", "div", "neg"):
            return node
        node = next((a for a in node.args if isinstance(a, fx.Node) and ctx.shape(a) is not None), node)
    return node


def _value(ctx, node: fx.Node) -> float | None:
    value = ctx.runs.runs[ctx.runs.batch].tensors.get(node)
    try:
        return float(value) if value is not None and value.numel() == 1 else None
    except (TypeError, ValueError, RuntimeError):
        return None
