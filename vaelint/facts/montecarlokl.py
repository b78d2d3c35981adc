"""A Monte Carlo KL against any prior, ``log q(z) - log p(z)`` where p is no N(0, 1): a flow
posterior's ``log q0(z0) - sum log|det J| - log p(zK)`` (planar, radial or IAF flows after a
Gaussian sample z0), a learned prior's ``log q(z|x) - log p(z|y)`` (GMVAE's p(z|y) of the cluster
a network assigns, a label-conditional prior), a VampPrior's mixture ``log q(z|x) - log mean_k
q(z|u_k)``. Its ratio to ``log q(z) - log N(z; 0, 1)`` is no constant, so it was left out of beta_eff
("no term of the loss reads as the Gaussian KL"); what fixes its weight is the weight of its one
part that reads the sampler's heads, ``log q(z)``. Read for its reductions (VAE002, VAE004) as a
Gaussian ``log q(z) - log p(z)`` is, not against a closed form (VAE007 and VAE008 skip a Monte
Carlo KL)."""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.fx as fx

from vaelint.facts.gaussian_kl import NOT_CONSTANT, UNKNOWN, Ratio
from vaelint.facts.lossroles import is_tensor_valued
from vaelint.facts.reparams import heads_of, samples_of


def monte_carlo_kl(ctx, element: fx.Node) -> Ratio:
    """The weight of the element's one part that reads the sampler's heads, where that part is the
    Gaussian log-density of the sample drawn from them (``log q(z)``, per latent dim or summed over
    them) and every other part reads the sample and reads the heads only through it (``log p(z)``
    of a prior some layer makes: a network's, a mixture's, a flow's output zK and its
    log-determinants). UNKNOWN where the element is no such sum, or its prior is fixed."""
    found = UNKNOWN
    for r in _drawn_for(ctx, element):
        found = _against(ctx, element, r)
        if found.decided:
            return found
    return found


def _drawn_for(ctx, element: fx.Node) -> list:
    """The sampler's layers whose sample the element reads, the first layer first: a second draw of
    the same heads for the KL alone (``z2 = self.sample(mu, logvar)`` in a loss method, as
    VampPrior ports write it) is a layer of its own, and ``log q(z2)`` is read at ``z2``."""
    layers = [r for r in ctx.roles.reparams if isinstance(r.z, fx.Node) and isinstance(r.mu, fx.Node)]
    reading = [r for r in layers if ctx.view.depends_on(element, r.z)]
    return sorted(reading, key=lambda r: r is not ctx.roles.reparam)


def _against(ctx, element: fx.Node, r) -> Ratio:
    """monte_carlo_kl against one layer's heads and sample."""
    view = ctx.view
    heads, samples = heads_of([r]), samples_of([r])
    parts = signed_parts(view, element)
    own = [(sign, p) for sign, p in parts if view.reads_around(p, heads, samples)]
    rest = [p for _sign, p in parts if (_sign, p) not in own]
    if len(own) != 1 or not rest or any(not any(view.depends_on(p, s) for s in samples) for p in rest):
        return UNKNOWN
    if any(view.reads_around(p, heads, samples) for p in rest):
        return UNKNOWN
    if not any(view.reads_around(p, _learned(ctx), samples) for p in rest):
        # a fixed prior (log N(z; 0, 1) of the sample alone): the reading against it has said what the
        # element is; a log q(z) averaged over Z beside a log p(z) summed is no KL of any weight
        return UNKNOWN
    sign, q = own[0]
    weight = _weight_of_log_q(ctx, q, r)
    return Ratio(sign * weight, True) if weight is not None else NOT_CONSTANT


def _learned(ctx) -> frozenset:
    """The nodes that apply something trained: a layer's parameters, or a parameter the graph holds
    as a constant (a learned prior's ``nn.Parameter`` a training script keeps outside any module)."""
    root = ctx.capture.modules.get("")

    def trained(target: str) -> bool:
        value = root
        for part in target.split("."):
            value = getattr(value, part, None)
        return bool(getattr(value, "requires_grad", False))

    held = {n for n in ctx.view.graph.nodes if n.op == "get_attr" and trained(str(n.target))}
    return ctx.view.with_parameters() | frozenset(held)


def signed_parts(view, node: fx.Node, sign: float = 1.0, depth: int = 0) -> list[tuple[float, fx.Node]]:
    """``a - b - c`` as [(1, a), (-1, b), (-1, c)]: the operands of adds and subtractions (numbers left
    out, and sizes: a mixture's ``- math.log(self.pseudo.size(0))``)."""
    op = view.op(node)
    if depth > 8 or op not in ("add", "sub"):
        return [(sign, node)]
    out = []
    for k, arg in enumerate(node.args[:2]):
        if isinstance(arg, fx.Node) and is_tensor_valued(arg):
            out += signed_parts(view, arg, -sign if (op == "sub" and k == 1) else sign, depth + 1)
    return out


def _weight_of_log_q(ctx, q: fx.Node, r) -> float | None:
    """``q`` over ``log N(z; mu, std^2)`` (per latent dim where ``q`` has the heads' shape, else summed
    over the latent dim), on the run's values, where that is one number for every element (1 as
    written), a constant added or not (``-0.5 * (logvar + (z - mu)**2 / var)``, the log(2 pi) left out,
    as the VampPrior code writes it: the same gradients); None otherwise."""
    t = ctx.runs.runs[ctx.runs.batch].tensors
    value, mu, z = t.get(q), t.get(r.mu), t.get(r.z)
    std = t.get(r.std) if r.std is not None else None
    if std is None and r.logvar is not None and t.get(r.logvar) is not None:
        std = torch.exp(0.5 * t[r.logvar].detach().double())
    if not all(isinstance(v, torch.Tensor) for v in (value, mu, z, std)) or mu.shape != z.shape or mu.dim() < 2:
        return None
    mu, z, std = (v.detach().double().cpu() for v in (mu, z, std))
    log_q = -0.5 * math.log(2 * math.pi) - torch.log(std) - 0.5 * ((z - mu) / std) ** 2
    value = value.detach().double().cpu()
    log_q = log_q if value.shape == log_q.shape else log_q.sum(-1)
    if value.shape != log_q.shape or not bool(torch.isfinite(value).all()) or not bool(torch.isfinite(log_q).all()):
        return None
    x, y = log_q.flatten(), value.flatten()
    if x.numel() < 2 or float(x.std()) < 1e-6 * (1 + float(x.abs().mean())):
        return None  # one number, or the same for every element: no slope to read
    # y = c * log q + k: the least-squares line, every element on it
    xc = x - x.mean()
    c = float((xc * (y - y.mean())).sum() / (xc * xc).sum())
    k = float(y.mean()) - c * float(x.mean())
    if c == 0 or not math.isfinite(c):
        return None
    return c if bool(((y - (c * x + k)).abs() <= 1e-3 * (abs(c) * x.abs() + abs(k)) + 1e-6).all()) else None


def log_q_averaged(ctx, kl, weight: Ratio) -> Ratio:
    """A log q(z) weighed 1/Z beside its log p(z) (``log_q.mean(-1) - log_p(z)``): log q averaged over
    the latent dims where the prior's log-density sums them, so the term is no KL of any weight and
    log p outweighs it Z times. Said as a reduction, which VAE002 weighs against the reconstruction's:
    the scale's "sum over Z inside log q - log p" becomes a mean over Z, and the weight is 1."""
    z = ctx.latent_size
    summed = [f for f in kl.factors if f.kind == "sum" and f.over.endswith("(inside log q - log p)")]
    if not z or z < 2 or len(summed) != 1 or not math.isclose(abs(weight.value) * z, 1.0, rel_tol=1e-3):
        return weight
    at = kl.factors.index(summed[0])
    kl.factors[at] = replace(summed[0], kind="mean", const_sizes=z, over=f"{z} (log q(z) averaged over it, log p(z) summed)", op="mean")
    return Ratio(math.copysign(1.0, weight.value), True)
