"""A KL element that is the Gaussian KL plus a constant (its - 1 left out): the same gradients,
a value off by that constant (:mod:`.klcheck` notes it; beta_eff reads its weight)."""

from __future__ import annotations

import torch

from vaelint.facts.gaussian_kl import LOG_VAR_READINGS, KLElement, closed_form


def offset_ratio(element: KLElement, reading: str | None = None) -> tuple[float, float] | None:
    """(k, c) with the element = k * the Gaussian KL + c, c a constant other than 0 (the KL's
    ``- 1`` left out: ``0.5 * sum(mu^2 + exp(logvar) - logvar)``): the same gradients, a value
    off by a constant. ``reading``: how the head gives log sigma^2 (None: the reading that
    gives the sampler's own std). None where no such fit holds to float64 precision."""
    if reading is None and element.valid and element.std is not None:
        reading = next(
            (
                name
                for name, (_lv, std_of, _t) in LOG_VAR_READINGS.items()
                if torch.allclose(std_of(element.head), element.std.expand_as(element.head), rtol=1e-6, atol=1e-9)
            ),
            None,
        )
    if not element.valid or reading not in LOG_VAR_READINGS or element.precision != torch.float64:
        return None
    log_var = LOG_VAR_READINGS[reading][0](element.head)
    reference = closed_form(element.mu, log_var.expand_as(element.mu))
    if element.summed:
        reference = reference.sum(-1)
    e, r = element.element.reshape(-1), reference.reshape(-1)
    if e.numel() < 3 or float(r.std()) < 1e-9:
        return None
    k = float(((r - r.mean()) * (e - e.mean())).sum() / ((r - r.mean()) ** 2).sum())
    c = float(e.mean() - k * r.mean())
    scale = 1 + e.abs() + r.abs() * abs(k)
    if k == 0 or bool(((e - (k * r + c)).abs() > 1e-9 * scale).any()) or abs(c) < 1e-9 * float(scale.max()):
        return None
    return k, c
