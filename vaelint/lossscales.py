"""The reconstruction and KL terms read down to their elements: the facts behind
beta_eff, computed once per target (beta_eff, VAE002 and VAE004 read them).

The KL element is normalised against the Gaussian KL of the sampler's mean and
std (``vaelint/gaussian_kl.py``): closed form for a term of the heads alone,
``log q(z) - log p(z)`` for one that reads the sample. The terms beside it
(an MMD, a total-correlation penalty) are kept as ``others``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch.fx as fx

from vaelint.gaussian_kl import UNKNOWN, KLElement, Ratio
from vaelint.reductions import Factor, TermScale, term_scale


def kl_element(ctx, element: fx.Node, run=None) -> KLElement:
    """The KL element as a function of the encoder's heads, on the user's run
    (computed once per element) or on ``run``."""
    r = ctx.roles.reparam
    if run is not None:
        return KLElement(ctx.capture, run, element, r.mu, r.logvar, r.std, r.z)
    key = ("kl_element", element)
    if key not in ctx.cache:
        ctx.cache[key] = KLElement(ctx.capture, ctx.runs.runs[ctx.runs.batch], element, r.mu, r.logvar, r.std, r.z)
    return ctx.cache[key]


def kl_normalization(ctx, scale: TermScale) -> Ratio:
    """element / the Gaussian KL of the sampler's mean and std: closed form for a
    term of the heads alone, ``log q(z) - log p(z)`` for one that reads the sample."""
    if scale.element is None:
        return UNKNOWN
    element = kl_element(ctx, scale.element)
    monte_carlo = ctx.view.depends_on(scale.element, ctx.roles.reparam.z)
    return element.ratio_to("monte-carlo" if monte_carlo else None)


@dataclass


class LossScales:
    """The reconstruction term and one Gaussian KL term, read down to their elements.

    ``kls`` holds every Gaussian KL of the loss (one per stochastic layer) and
    ``others`` the terms beside them (MMD, total correlation): read, not judged.
    """

    rec: TermScale
    kl: TermScale
    kls: list[TermScale] = field(default_factory=list)
    others: list[fx.Node] = field(default_factory=list)

    def each_kl(self) -> list["LossScales"]:
        return [LossScales(self.rec, kl, self.kls, self.others) for kl in (self.kls or [self.kl])]

    @property
    def batch_power(self) -> int:
        return self.kl.batch_power - self.rec.batch_power

    def reduction_ratio(self, batch: int) -> float:
        """beta_eff from the reductions alone (no explicit factors)."""
        return (batch**self.batch_power) * self.rec.mean_sizes / self.kl.mean_sizes

    def formula(self, data_size: int, latent_size: int | None) -> str:
        """beta_eff from the reductions, in B, D and Z: ``B*D``, ``1/Z``, ``D/Z``."""
        const = self.rec.mean_sizes / self.kl.mean_sizes
        z = latent_size or 0
        known = [((), ()), (("D",), ()), ((), ("Z",)), (("D",), ("Z",)), (("Z",), ()), ((), ("D",)), (("Z",), ("D",))]
        value = {(): 1.0, ("D",): float(data_size), ("Z",): float(z) if z else math.nan}
        num, den = None, None
        for n, d in known:
            if math.isclose(const, value[n] / value[d], rel_tol=1e-9):
                num, den = list(n), list(d)
                break
        if num is None:
            num, den = ([f"{const:g}"], []) if const >= 1 else ([], [f"{1 / const:g}"])
        p = self.batch_power
        num = ["B"] * max(p, 0) + num
        den = ["B"] * max(-p, 0) + den
        top = "*".join(num) or "1"
        if not den:
            return top
        bottom = den[0] if len(den) == 1 else "(" + "*".join(den) + ")"
        return f"{top}/{bottom}"


def loss_scales(ctx) -> LossScales | None:
    """The reduction facts of the reconstruction and KL terms, when both are clear
    (computed once per target: beta_eff and three rules read them)."""
    if "loss_scales" not in ctx.cache:
        ctx.cache["loss_scales"] = _loss_scales(ctx)
    got = ctx.cache["loss_scales"]
    return got if isinstance(got, LossScales) else None


def why_no_loss_scales(ctx) -> str:
    """Why :func:`loss_scales` found no reading (for the report's skipped list)."""
    loss_scales(ctx)
    got = ctx.cache["loss_scales"]
    return got if isinstance(got, str) else ""


def _loss_scales(ctx) -> LossScales | str:
    roles = ctx.roles
    if roles.reparam is None:
        return "no reparameterisation found"
    if ctx.runs.failure is not None:
        return "the model raised before the loss was computed"
    if len(roles.rec_terms) != 1:
        return f"the loss has {len(roles.rec_terms) or 'no'} reconstruction terms; vaelint reads one"
    if not roles.kl_terms:
        return "no KL term found in the loss"
    rec = term_scale(ctx, roles.rec_terms[0])
    if rec is None or not rec.reductions():
        return "the reconstruction term's reduction could not be followed"
    kls, others, undecided = [], [], None
    for term in roles.kl_terms:
        kl = term_scale(ctx, term)
        if kl is None:
            others.append(term)
            continue
        norm = kl_normalization(ctx, kl)
        element = kl_element(ctx, kl.element) if kl.element is not None else None
        if element is not None and element.valid and element.summed:
            # log q(z).sum(-1) - log p(z).sum(-1): the sum over the latent dim sits inside
            z = ctx.latent_size
            kl.factors.append(Factor("sum", 1.0, 0, 1, f"{z if z else 'Z'} (inside log q - log p)", kl.element, "sum"))
        if not kl.reductions():
            others.append(term)
            continue
        if not norm.constant:
            others.append(term)
            if not norm.decided:
                undecided = (
                    "the KL element is too close to zero on this run to be read in the model's "
                    "precision, and its formula could not be replayed in float64"
                )
            continue
        # float32 noise: -2.0000005 is the KL formula's -2
        value = norm.value
        nice = round(value * 8) / 8
        kl.normalization = nice if nice and abs(value - nice) < 1e-3 * abs(value) else value
        kls.append(kl)
    if not kls:
        return undecided or (
            "no term of the loss reads as the Gaussian KL of the sampler's mean and std "
            "(closed form or log q(z) - log p(z)), so beta_eff cannot be written"
        )
    return LossScales(rec, kls[0], kls, others)
