"""The KL element of a loss term as a function of one stochastic layer's heads: which layer
an element belongs to, and the element read against it (computed once per element); and the
per-step KLs a time loop stacks into one element, read per element as written."""

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


# how a KL read through the per-step KLs it stacks is weighed (TermScale.read_as): per element as
# written, its constant against one step's Gaussian KL taken as 1 (none is read)
AS_WRITTEN = "per element as written"

# ops that keep a joined tensor's values: walked through from the KL element down to its join
_KEEPS_VALUES = frozenset({"view", "reshape", "flatten", "contiguous", "permute", "transpose", "squeeze", "unsqueeze", "clone"})


def stacked_step_kls(ctx, element: fx.Node | None) -> list[fx.Node] | None:
    """The per-step KL elements a KL element joins (``torch.stack(kls)`` of a VRNN's or a DKF's time
    loop, each step's KL against its learned prior), where every step's is of one form (the same op
    at the same place in the code) and one shape, that of the heads of a layer it reads: per element,
    each step's KL of its own heads, and the reductions over the join read as a one-layer VAE's.
    None for anything else (a hierarchical VAE's KLs of latents of different sizes)."""
    view = ctx.view
    node = element
    while node is not None and view.op(node) in _KEEPS_VALUES and node.args and isinstance(node.args[0], fx.Node):
        node = node.args[0]
    if node is None or view.op(node) not in ("stack", "cat") or not node.args:
        return None
    parts = node.args[0]
    if not isinstance(parts, (list, tuple)) or len(parts) < 2 or not all(isinstance(p, fx.Node) for p in parts):
        return None
    forms = {_form(view, p) for p in parts}
    shapes = {_sizes(ctx, p) for p in parts}
    if len(forms) != 1 or None in forms or len(shapes) != 1 or None in shapes:
        return None
    for part in parts:
        if not any(_sizes(ctx, r.mu) == _sizes(ctx, part) for r in candidate_layers(ctx, part)):
            return None  # no step's heads of its shape: a reduced KL per step, or no KL of heads at all
    return list(parts)


def _form(view, node: fx.Node) -> tuple | None:
    """The op of a node and where the code makes it: one form for every step of a loop."""
    loc = node.meta.get("loc")
    return None if loc is None else (view.op(node), loc.path, loc.line, loc.column)


def _sizes(ctx, node) -> tuple | None:
    fact = ctx.shape(node) if isinstance(node, fx.Node) else None
    return tuple(fact.sizes) if fact is not None and fact.sizes else None
