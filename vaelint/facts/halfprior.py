"""A KL written for the N(0, 1) prior with the 1/2 missing from its ``mu^2 + std^2`` part: the
tutorial's ``(sigma**2 + mu**2 - torch.log(sigma) - 1/2).sum()``. Its element is exactly the KL to
N(0, 1/2) plus a constant, so the reading against "some fixed Gaussian prior" (a prior scale the
user chose) accepts it; but no line of the code names that prior. Such a term is taken as the slip it
is (VAE007) unless the KL's own computation holds the prior: a number that only a variance of 1/2
writes (sqrt(1/2), log 2, ...), or a tensor holding the prior's variance, std or precision."""

from __future__ import annotations

import math

import torch
import torch.fx as fx

# what a prior variance of 1/2 is written as, in a formula that names it: its std, its log, and those
# doubled or halved; 0.5, 1 and 2 are not among them: the N(0, 1) KL's own constants write them too
_NAMES_OF_A_HALF = (math.sqrt(0.5), math.sqrt(2.0), math.log(2.0), 0.5 * math.log(2.0))
# and as a tensor the code holds (a prior's variance, std, precision or log-variance)
_HELD = (0.5, 2.0, math.sqrt(0.5), math.sqrt(2.0), math.log(2.0), 0.5 * math.log(2.0))


def unnamed_half_prior(ctx, element: fx.Node, against, layer) -> bool:
    """Is the KL element read as the KL to N(0, 1/2) (every element's prior alike), with no number or
    tensor of its own computation naming that variance?"""
    fit = getattr(against, "prior_fit", None)
    if fit is None:
        return False
    precision, mean = fit
    if not bool((mean.abs() < 1e-6).all()) or not torch.allclose(precision, torch.full_like(precision, 2.0), rtol=1e-6, atol=0):
        return False
    return not _named(ctx, element, layer)


def _named(ctx, element: fx.Node, layer) -> bool:
    view = ctx.view
    heads = [h for h in (layer.mu, layer.logvar, getattr(layer, "std", None)) if isinstance(h, fx.Node)]
    below = set().union(*({h} | set(view.ancestors(h)) for h in heads)) if heads else set()
    own = ({element} | set(view.ancestors(element))) - below
    tensors = ctx.runs.runs[ctx.runs.batch].tensors
    for node in own:
        numbers = _numbers(node.args) + _numbers(tuple(node.kwargs.values()))
        if any(math.isclose(abs(value), n, rel_tol=1e-4) for value in numbers for n in _NAMES_OF_A_HALF):
            return True  # log 0.5 written as -0.6931 too
        if _scales_the_mean_by_a_half(view, node, layer):
            return True
        held = tensors.get(node) if node.op == "get_attr" or view.op(node) in _FILLS or not _reads_data(view, node) else None
        if isinstance(held, torch.Tensor) and held.numel() > 0 and held.is_floating_point():
            first = float(held.reshape(-1)[0])
            if torch.all(held == first) and any(math.isclose(abs(first), n, rel_tol=1e-6) for n in _HELD):
                return True
    return False


# ops that fill a tensor with one value the code gives (torch.full_like(std, prior_var)): a prior it holds
_FILLS = frozenset({"full", "full_like", "new_full", "ones_like", "zeros_like", "tensor", "as_tensor"})


def _scales_the_mean_by_a_half(view, node: fx.Node, layer) -> bool:
    """``(std**2 + mu**2) / 0.5`` or ``2 * (...)`` on what the mean reaches: the prior's variance written
    as a divisor (``/ PRIOR_VAR``), where the tutorial's slip writes no number on it at all."""
    if not isinstance(layer.mu, fx.Node) or not view.depends_on(node, layer.mu) or len(node.args) != 2:
        return False
    op, (a, b) = view.op(node), node.args
    if op in ("div", "truediv") and isinstance(b, (int, float)) and math.isclose(b, 0.5):
        return True
    return op == "mul" and any(isinstance(v, (int, float)) and math.isclose(v, 2.0) for v in (a, b))


def _reads_data(view, node: fx.Node) -> bool:
    return any(a.op == "placeholder" for a in view.ancestors(node)) or node.op == "placeholder"


def _numbers(args) -> list[float]:
    out = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out += _numbers(a)
        elif isinstance(a, (int, float)) and not isinstance(a, bool):
            out.append(float(a))
    return out
