"""A flow posterior's log-determinant written as a loss term of its own beside a closed-form KL
(``rec + kl - sum_log_det.mean()``, planar/radial/IAF flows): it is a part of the posterior's KL,
KL(q_K || p) = KL(q_0 || p) - E[sum log|det J|], so it is reduced over the batch as the KL is. One
averaged over the batch beside a KL summed over it weighs 1/B of the KL it belongs to (before, it
was read as a free regulariser and its reduction never compared: exit 0; helper Z)."""

from __future__ import annotations

import torch.fx as fx

from vaelint.facts.termscale import term_scale


def log_det_unlike(ctx, kl_scale) -> tuple[fx.Node, object] | None:
    """(the log-det term, its scale) where a flow's log-determinant is a loss term of its own, read
    per sample (B) from the sample through the flows' layers only, reduced over the batch unlike the
    closed-form KL ``kl_scale``; None else."""
    from vaelint.facts.reparams import samples_of
    from vaelint.facts.termkinds import reads_samples_through, sample_layers

    roles, view = ctx.roles, ctx.view
    samples = samples_of(roles.reparams)
    if not samples or roles.recon is None:
        return None
    flows = sample_layers(view, roles)
    done = {kl_scale.term, *roles.rec_terms}
    for _sign, term in roles.loss_terms:
        if term in done or not flows or not any(view.depends_on(term, s) for s in samples):
            continue
        if not reads_samples_through(view, roles, term, flows):
            continue  # it reads z itself (a density of it) or the heads: no log-det of the flows alone
        scale = term_scale(ctx, term)
        fact = ctx.shape(scale.element) if scale is not None and scale.element is not None else None
        if fact is None or fact.sizes is None or len(fact.sizes) != 1 or not scale.reductions():
            continue  # a log-det is one number per sample
        if scale.batch_power != kl_scale.batch_power:
            return term, scale
    return None
