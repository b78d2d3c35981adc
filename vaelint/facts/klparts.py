"""A closed-form KL written over several terms of the loss, read as one.

``loss += 0.5 * sum(exp(logvar) + mu**2)`` then ``loss -= 0.5 * sum(1 + logvar)``
(VaDE-pytorch's spelling): neither term is a Gaussian KL, their signed sum is. Where
every term of the loss that reads the sampler's heads (no reconstruction, not
through the sample) is reduced alike and of one shape, their elements, each times
its signed written weight over the first term's, make one element: read against
the closed form as any KL term's is. A mixture prior's KL written in parts (VaDE's
own) stays unread: its sum is no Gaussian KL against N(0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from vaelint.facts.gaussian_kl import KLElement
from vaelint.facts.klelements import kl_element, layer_for
from vaelint.facts.reductions import TermScale
from vaelint.facts.stackedparts import reduced_alike
from vaelint.facts.termscale import term_scale


@dataclass
class KLParts:
    """The terms a KL is written over; the first one's scale stands for the whole."""

    terms: list
    scales: list[TermScale]
    signs: list[int]  # each term's sign in the loss
    weights: list[float]  # each part's signed written weight over the first part's

    @property
    def first_weight(self) -> float:
        """The first part's signed written weight (its sign times the numbers written on it)."""
        return self.signs[0] * self.scales[0].written


def kl_parts(ctx) -> KLParts | None:
    """The head-reading terms of the loss, where there are several, each reduced alike, of one
    element shape and one stochastic layer; else None."""
    from vaelint.facts.reparams import heads_of, samples_of

    roles, view = ctx.roles, ctx.view
    if roles.reparam is None:
        return None
    heads, samples = heads_of(roles.reparams), samples_of(roles.reparams)
    rec = set(roles.rec_terms)
    terms, signs = [], []
    for sign, term in roles.loss_terms:
        if term in rec or term in terms or not view.reads_around(term, heads, samples):
            continue
        if view.depends_on(term, roles.reparam.z):
            return None  # a part that reads the sample: a Monte Carlo estimate, read as one elsewhere
        terms.append(term)
        signs.append(sign)
    if len(terms) < 2:
        return None
    scales = [term_scale(ctx, t) for t in terms]
    if any(s is None or s.element is None for s in scales):
        return None
    if not reduced_alike(scales):
        scales = _summed_over_the_latent(ctx, scales)
        if scales is None or not reduced_alike(scales):
            return None
    shapes = {tuple(ctx.shape(s.element).sizes or ()) if ctx.shape(s.element) is not None else None for s in scales}
    layers = {id(layer_for(ctx, s.element)) for s in scales}
    if len(shapes) != 1 or None in shapes or len(layers) != 1:
        return None
    first = signs[0] * scales[0].written
    if first == 0:
        return None
    weights = [sign * s.written / first for sign, s in zip(signs, scales)]
    return KLParts(terms, scales, signs, weights)


def _summed_over_the_latent(ctx, scales: list) -> list | None:
    """The parts with a part's own sum over the latent dim taken into its element, where that makes
    every element one per sample: torch's MultivariateNormal KL, ``sum(log diag L_p) - sum(log diag
    L_q)`` beside ``0.5 * (trace + Mahalanobis - n)`` (each already per sample); else None."""
    out = []
    for s in scales:
        mu = ctx.shape(layer_for(ctx, s.element).mu)
        heads = tuple(mu.sizes or ()) if mu is not None else ()
        own = [f for f in s.factors if f.kind == "sum" and not f.shared and f.batch_power == 0 and f.node is not None]
        at = ctx.shape(s.element)
        if len(heads) < 2 or at is None or tuple(at.sizes or ()) != heads or len(own) != 1:
            out.append(s)
            continue
        summed = ctx.shape(own[0].node)
        if summed is None or tuple(summed.sizes or ()) != heads[:-1]:
            return None
        out.append(replace(s, element=own[0].node, factors=[f for f in s.factors if f is not own[0]]))
    return out


def joined_element(ctx, parts: KLParts, run=None) -> KLElement | None:
    """The parts' elements as one, on the user's run or on ``run``; None where one is unread."""
    layer = layer_for(ctx, parts.scales[0].element)
    elements = [kl_element(ctx, s.element, run, layer=layer) for s in parts.scales]
    joined = JoinedElement(elements, parts.weights)
    return joined if joined.valid and joined.std is not None else None


class JoinedElement(KLElement):
    """Several KL elements of one layer's heads, summed with weights: read as one element."""

    def __init__(self, parts: list[KLElement], weights: list[float]):  # noqa: D107 - the fields are the first part's
        first = parts[0]
        self.__dict__.update(first.__dict__)
        self.parts, self.weights = parts, weights
        alike = all(p.valid and p.shape == first.shape and p.summed == first.summed and p.layout == first.layout for p in parts)
        self.valid = first.valid and alike
        if not self.valid:
            return
        self.replayable = all(p.replayable for p in parts)
        self.element = sum(w * p.element for w, p in zip(weights, parts))
        self.precision = max((p.precision for p in parts), key=lambda d: torch.finfo(d).eps if d.is_floating_point else 0)
        self.std = next((p.std for p in parts if p.std is not None), None)
        self.z = next((p.z for p in parts if p.z is not None), None)

    def at(self, mu, head):
        got = [p.at(mu, head) for p in self.parts]
        if any(g is None for g in got):
            return None
        element = sum(w * g[0] for w, g in zip(self.weights, got))
        std = next((g[1] for g in got if g[1] is not None), None)
        z = next((g[2] for g in got if g[2] is not None), None)
        precision = max((g[3] for g in got), key=lambda d: torch.finfo(d).eps if d.is_floating_point else 0)
        return element, std, z, precision
