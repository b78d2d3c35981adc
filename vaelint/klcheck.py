"""How the sampler and the KL term read the encoder's scale head.

The head ``h`` (``logvar`` in most code) can mean a log-variance, a log-std, a
std or a variance. The sampler's reading is the one under which ``std`` (the
factor of the noise) equals the head's transform; the KL term's reading is the
one under which its elementwise tensor is a constant multiple of the
closed-form ``KL(N(mu, sigma) || N(0, 1))``. VAE007 and VAE008 compare them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vaelint.reductions import constant_ratio, gaussian_kl, term_scale

READINGS = {
    "log-variance": (lambda h: torch.exp(0.5 * h), "std = exp(0.5 * logvar)"),
    "log-std": (lambda h: torch.exp(h), "std = exp(logvar)"),
    "std": (lambda h: h, "std = the head itself"),
    "variance": (lambda h: torch.sqrt(h.clamp_min(0)), "std = sqrt(the head)"),
}


@dataclass
class KLReading:
    sampler: str | None  # how the sampler reads the head
    kl: str | None  # how the KL term reads it (None: no reading fits)
    coefficient: float | None  # signed weight of the Gaussian KL in the total (per the reductions)
    explicit: list  # non-unit constant factors written on the KL term
    node: object  # the KL term
    element: object  # its elementwise tensor


def sampler_reading(h: torch.Tensor, std: torch.Tensor) -> str | None:
    for name, (f, _text) in READINGS.items():
        try:
            if torch.allclose(f(h).double(), std.double().expand_as(h), rtol=1e-4, atol=1e-6):
                return name
        except RuntimeError:
            continue
    return None


def kl_reading(ctx, tensors=None) -> KLReading | None:
    """Read the model's KL term at the user's batch (or from ``tensors``, another run)."""
    if tensors is not None:
        return _kl_reading(ctx, tensors)
    if "kl_reading" not in ctx.cache:  # VAE007 and VAE008 both read it
        ctx.cache["kl_reading"] = _kl_reading(ctx, None)
    return ctx.cache["kl_reading"]


def _kl_reading(ctx, tensors) -> KLReading | None:
    roles, view = ctx.roles, ctx.view
    r = roles.reparam
    if r is None or len(roles.kl_terms) != 1 or ctx.runs.failure is not None:
        return None
    term = roles.kl_terms[0]
    if view.depends_on(term, r.z) or (roles.recon is not None and view.depends_on(term, roles.recon)):
        return None  # a Monte Carlo estimate (log q(z) - log p(z)): not a closed form to check
    scale = term_scale(ctx, term)
    if scale is None or scale.element is None:
        return None
    if view.op(scale.element) in {"clamp", "clip", "max", "maximum", "relu", "where", "softplus"}:
        return None  # a KL modified on purpose (free bits: clamp(kl, min=lambda))
    allowed = view.ancestors(r.mu) | view.ancestors(r.logvar) | view.ancestors(r.std)
    for a in view.ancestors(scale.element):
        if a not in allowed and (a.op == "call_module" or (a.op == "get_attr" and a.users and not str(a.target).startswith("_constant"))):
            return None  # a learned prior or another network: not N(0, 1)
    tensors = tensors if tensors is not None else ctx.runs.runs[ctx.runs.batch].tensors
    e, mu, h, std = (tensors.get(n) for n in (scale.element, r.mu, r.logvar, r.std))
    if e is None or mu is None or h is None or std is None or e.shape != mu.shape or h.shape != mu.shape:
        return None
    e, mu, h, std = (t.detach().double().cpu() for t in (e, mu, h, std))
    sampler = sampler_reading(h, std)
    kl_name, ratio = None, None
    order = [sampler] + [n for n in READINGS if n != sampler] if sampler else list(READINGS)
    for name in order:
        ratio = constant_ratio(e, gaussian_kl(mu, READINGS[name][0](h)))
        if ratio is not None:
            kl_name = name
            break
    sign = next((s for s, t in roles.loss_terms if t is term), 1)
    consts = [f for f in scale.factors if f.kind == "const"]
    coefficient = None
    if ratio is not None:
        coefficient = sign * math.prod(f.value for f in consts) * ratio
    explicit = [f for f in consts if not math.isclose(abs(f.value), 1.0) and not math.isclose(abs(f.value), 0.5)]
    return KLReading(sampler, kl_name, coefficient, explicit, term, scale.element)
