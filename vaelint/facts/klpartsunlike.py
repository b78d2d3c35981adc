"""A closed-form Gaussian KL written in parts reduced unlike each other over the batch:
``0.5 * (torch.sum(mu ** 2) + torch.mean(torch.sum(lv.exp() - lv - 1, dim=1)))``, the mean's part
summed over the batch, the variance's averaged over it. Their elements make the Gaussian KL
(facts/klparts.py joins them where they are reduced alike), yet one part weighs 1/B of the other,
so no one beta_eff holds: VAE002 says so (before, every KL rule was skipped: "no term of the loss
reads as the Gaussian KL", exit 0; helper C2, sssohrab/rho_VAE's split KL)."""

from __future__ import annotations

from vaelint.facts.klparts import KLParts, joined_element
from vaelint.facts.stackedparts import reduced_alike
from vaelint.facts.termscale import term_scale


def kl_parts_unlike(ctx) -> list | None:
    """[(part's term, its scale)] of a KL written in several terms of one element shape whose
    elements, weighed as written, join into the Gaussian KL of the sampler's heads, where the terms
    are not reduced alike over the batch; else None."""
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
            return None  # a part that reads the sample: a Monte Carlo estimate, no closed form in parts
        terms.append(term)
        signs.append(sign)
    if len(terms) < 2:
        return None
    scales = [term_scale(ctx, t) for t in terms]
    if any(s is None or s.element is None or not s.reductions() for s in scales) or reduced_alike(scales):
        return None
    if len({s.batch_power for s in scales}) < 2:
        return None  # alike over the batch, unlike over the latent dims: another sub-check's
    shapes = {tuple(ctx.shape(s.element).sizes or ()) if ctx.shape(s.element) is not None else None for s in scales}
    if len(shapes) != 1 or None in shapes:
        return None
    first = signs[0] * scales[0].written
    if first == 0:
        return None
    weights = [sign * s.written / first for sign, s in zip(signs, scales)]
    element = joined_element(ctx, KLParts(terms, scales, signs, weights))
    norm = element.ratio_to(None) if element is not None and not element.summed else None
    if norm is None or not norm.constant:
        return None
    return list(zip(terms, scales))
