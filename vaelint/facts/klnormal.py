"""A KL term's element against the Gaussian KL of a layer's mean and std (its normalisation: the
-0.5 of the closed form, a Monte Carlo log-ratio, a KL to a learned prior), read by
:mod:`vaelint.facts.lossscales` for beta_eff."""

from __future__ import annotations

from vaelint.facts.gaussian_kl import LOG_VAR_READINGS, UNKNOWN, Ratio
from vaelint.facts.klelements import candidate_layers, kl_element
from vaelint.facts.kloffset import offset_ratio
from vaelint.facts.reductions import TermScale
from vaelint.facts.stackedheads import stacked_layers


def kl_normalization(ctx, scale: TermScale) -> Ratio:
    """element / the Gaussian KL of one layer's mean and std: ``log q(z) - log p(z)``
    of its sample, against N(0, 1) in closed form, or against a Gaussian prior the
    heads do not move (a learned or conditional one), for the first layer that fits."""
    if scale.element is None:
        return UNKNOWN
    found = UNKNOWN
    for r in candidate_layers(ctx, scale.element):
        if ctx.view.depends_on(scale.element, r.z):
            tried = [kl_element(ctx, scale.element, layer=r).ratio_to("monte-carlo")]
            if not tried[0].constant:  # -H[q] - log p(z): the entropy in closed form
                tried.insert(0, kl_element(ctx, scale.element, layer=r).ratio_to("entropy"))
        else:
            tried = [kl_element(ctx, scale.element, layer=r).ratio_to(None)]
        if not tried[0].constant:
            tried.append(kl_element(ctx, scale.element, layer=r, freeze_sample=True).ratio_to_some_prior())
        if not any(t.constant for t in tried) and not ctx.view.depends_on(scale.element, r.z):
            # the closed form under a reading of the scale head other than the sampler's (std = exp(logvar)
            # beside the log-variance KL: VAE008's to say): its weight and reductions are the term's all the
            # same, so beta_eff is read under the KL's own reading (Young1906/cvae_imb, helper-found)
            element = kl_element(ctx, scale.element, layer=r)
            tried += [element.ratio_to(name) for name in LOG_VAR_READINGS]
        for ratio in tried:
            if ratio.constant:
                return ratio
            if ratio.decided:
                found = ratio
        shifted = offset_ratio(kl_element(ctx, scale.element, layer=r))
        if shifted is not None:
            return Ratio(shifted[0], True)  # the KL plus a constant (its - 1 left out): the same weight
    for stacked in stacked_layers(ctx, scale.element):
        # a recurrent VAE's KL of every step at once, read against the steps' heads joined alike
        element = kl_element(ctx, scale.element, layer=stacked)
        for ratio in (element.ratio_to(None), element.ratio_to_some_prior()):
            if ratio.constant:
                scale.read_as = "stacked steps"
                return ratio
            found = ratio if ratio.decided else found
    return found
