"""The KL element of a loss term as a function of one stochastic layer's heads: which layer
an element belongs to, and the element read against it (computed once per element)."""

from __future__ import annotations

import torch.fx as fx

from vaelint.facts.gaussian_kl import KLElement
from vaelint.facts.heldrun import kl_reads, run_holding


def layer_for(ctx, element: fx.Node):
    """The stochastic layer a closed-form KL element belongs to: the deepest whose
    mean it reads without its sample; else the deepest whose sample it reads."""
    layers = candidate_layers(ctx, element)
    return layers[0] if layers else ctx.roles.reparam


def candidate_layers(ctx, element: fx.Node) -> list:
    """Layers whose heads an element reads, most likely first: those it reads without
    their sample (closed form), then the others, deepest first in each group."""
    view = ctx.view
    layers = [r for r in ctx.roles.reparams if view.depends_on(element, r.mu) or view.depends_on(element, r.logvar)]

    def heads_only_through_the_sample(r) -> bool:
        # a lower layer's KL against p(z1 | z2) reads z2's heads only through z2, drawn from z1
        if not view.depends_on(element, r.z):
            return False
        heads = frozenset(h for h in (r.mu, r.logvar) if isinstance(h, fx.Node))
        return not view.reads_around(element, heads, frozenset({r.z}))

    return sorted(layers, key=lambda r: (heads_only_through_the_sample(r), view.depends_on(element, r.z), -view.order.get(r.z, 0)))


def kl_element(ctx, element: fx.Node, run=None, layer=None, freeze_sample: bool = False) -> KLElement:
    """The KL element as a function of one layer's heads (by default the one
    :func:`layer_for` picks), on the user's run (computed once) or on ``run``."""
    r = layer if layer is not None else layer_for(ctx, element)
    # a StackedLayer (heads joined over time steps) makes its std from its scale head
    made = getattr(r, "std_of_head", None)
    if run is not None:
        return KLElement(ctx.capture, run, element, r.mu, r.logvar, r.std, r.z, freeze_sample, made)
    key = ("kl_element", element, r.mu, r.z, freeze_sample)
    if key not in ctx.cache:
        run0 = run_holding(ctx, kl_reads(ctx, element, r.mu, r.logvar, r.std, r.z))
        ctx.cache[key] = KLElement(ctx.capture, run0, element, r.mu, r.logvar, r.std, r.z, freeze_sample, made)
    return ctx.cache[key]
