"""A flow posterior's Monte Carlo KL, ``log q0(z0) - sum log|det J| - log p(zK)`` (planar,
radial or IAF flows after a Gaussian sample z0): read for its reductions (VAE002, VAE004) as a
Gaussian ``log q(z) - log p(z)`` is, not against a closed form (VAE007 and VAE008 skip a Monte
Carlo KL). Its ratio to ``log q(z) - log p(z)`` is no constant (zK is not z0), so it was left
out of beta_eff: "no term of the loss reads as the Gaussian KL"."""

from __future__ import annotations

import math

import torch
import torch.fx as fx

from vaelint.facts.gaussian_kl import NOT_CONSTANT, UNKNOWN, Ratio
from vaelint.facts.reparams import heads_of, samples_of


def flow_monte_carlo(ctx, element: fx.Node) -> Ratio:
    """The weight of the element's one part that reads the sampler's heads, where that part is the
    Gaussian log-density of the sample drawn from them summed over the latent dims (``log q0(z0)``)
    and every other part reads the heads only through the sample, one of them the sample only
    through the flows' layers (their log-determinants; ``log p(zK)`` may read z0 through a flow's
    skip connection). UNKNOWN where the element is no such sum."""
    view, r = ctx.view, ctx.roles.reparam
    if r is None or not isinstance(r.z, fx.Node) or not isinstance(r.mu, fx.Node):
        return UNKNOWN
    heads, samples = heads_of([r]), samples_of([r])
    layers = view.with_parameters()
    parts = _signed_parts(view, element)
    own = [(sign, p) for sign, p in parts if view.reads_around(p, heads, samples)]
    rest = [p for _sign, p in parts if (_sign, p) not in own]
    if len(own) != 1 or not rest or any(not any(view.depends_on(p, s) for s in samples) for p in rest):
        return UNKNOWN
    if any(view.reads_around(p, heads, samples) for p in rest):
        return UNKNOWN
    if not any(not view.reads_around(p, samples, layers) for p in rest):
        return UNKNOWN  # no part reads the sample only through layers: no flow
    sign, q = own[0]
    weight = _weight_of_log_q(ctx, q, r)
    return Ratio(sign * weight, True) if weight is not None else NOT_CONSTANT


def _signed_parts(view, node: fx.Node, sign: float = 1.0, depth: int = 0) -> list[tuple[float, fx.Node]]:
    """``a - b - c`` as [(1, a), (-1, b), (-1, c)]: the operands of adds and subtractions (numbers left out)."""
    op = view.op(node)
    if depth > 8 or op not in ("add", "sub"):
        return [(sign, node)]
    out = []
    for k, arg in enumerate(node.args[:2]):
        if isinstance(arg, fx.Node):
            out += _signed_parts(view, arg, -sign if (op == "sub" and k == 1) else sign, depth + 1)
    return out


def _weight_of_log_q(ctx, q: fx.Node, r) -> float | None:
    """``q`` over ``log N(z; mu, std^2)`` summed over the latent dim, on the run's values, where that
    is one number for every sample (1 as written); None otherwise."""
    t = ctx.runs.runs[ctx.runs.batch].tensors
    value, mu, z = t.get(q), t.get(r.mu), t.get(r.z)
    std = t.get(r.std) if r.std is not None else None
    if std is None and r.logvar is not None and t.get(r.logvar) is not None:
        std = torch.exp(0.5 * t[r.logvar].detach().double())
    if not all(isinstance(v, torch.Tensor) for v in (value, mu, z, std)) or mu.shape != z.shape or mu.dim() < 2:
        return None
    mu, z, std = (v.detach().double().cpu() for v in (mu, z, std))
    log_q = (-0.5 * math.log(2 * math.pi) - torch.log(std) - 0.5 * ((z - mu) / std) ** 2).sum(-1)
    value = value.detach().double().cpu()
    if value.shape != log_q.shape or not bool(torch.isfinite(value).all()) or bool((log_q.abs() < 1e-6).any()):
        return None
    ratio = value / log_q
    c = float(ratio.mean())
    return c if bool(((ratio - c).abs() <= 1e-3 * abs(c) + 1e-6).all()) else None
