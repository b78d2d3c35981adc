"""Whether a KL term is taken against a learned prior (a network's mean and std computed from a
sample: SLAC's, PlaNet's, Dreamer's p(z_t | z_t-1, a), a ladder VAE's p(z2 | z1)), and the closed-form
KL beside a flow's log-determinant: read off the graph for the KL rules."""

from __future__ import annotations

import torch.fx as fx

from vaelint.facts.graphview import GraphView
from vaelint.facts.reparams import heads_of, samples_of
from vaelint.facts.roles import Roles


def against_a_learned_prior(view: GraphView, roles: Roles, node) -> bool:
    """Does a term that reads a sample read it only through a network's layers: a closed-form KL
    against a prior whose mean and std a network computes from a sample (SLAC's, PlaNet's and
    Dreamer's p(z_t | z_t-1, a)), not a Monte Carlo estimate log q(z) - log p(z) of the sample?
    A closed-form KL with a flow's log-determinant added to it is neither (``kl - log_det``)."""
    samples = samples_of(roles.reparams)
    if not samples or not any(view.depends_on(node, s) for s in samples):
        return False
    if kl_beside_a_log_det(view, roles, node) is not None:
        return False
    if view.reads_around(node, samples, view.with_parameters()):
        return False
    # a prior's side: a path to a sample through a network that passes no layer's posterior head (a
    # hierarchical posterior q(z2 | x, z1) reads z1 through its own heads only: N(0, 1) is its prior)
    return view.reads_around(node, samples, heads_of(roles.reparams))


_THROUGH = frozenset({"sum", "mean", "neg", "mul", "div", "squeeze", "view", "reshape", "flatten"})


def kl_beside_a_log_det(view: GraphView, roles: Roles, node) -> fx.Node | None:
    """The closed-form KL part of a term that adds a flow's log-determinant to it before the
    term's reductions (``(kl - log_det).sum()``, flow posteriors: planar, radial, Sylvester, IAF):
    an add or sub under the reductions whose one operand reads the sampler's heads and not its
    sample, and whose other reads the sample only through the flows' layers and the heads only
    through the sample. None for any other term (a KL against a learned prior mixes the two)."""
    samples, heads = samples_of(roles.reparams), heads_of(roles.reparams)
    seen = node
    for _ in range(8):
        if view.op(seen) in ("add", "sub"):
            break
        inner = [a for a in seen.all_input_nodes if any(view.depends_on(a, h) for h in heads | samples)]
        if view.op(seen) not in _THROUGH or len(inner) != 1:
            return None
        seen = inner[0]
    else:
        return None
    parts = [a for a in seen.args[:2] if isinstance(a, fx.Node)]
    if len(parts) != 2 or not samples or not heads:
        return None
    layers = view.with_parameters()
    for kl, log_det in (parts, parts[::-1]):
        closed = any(view.depends_on(kl, h) for h in heads) and not any(view.depends_on(kl, s) for s in samples)
        flows = any(view.depends_on(log_det, s) for s in samples) and not view.reads_around(log_det, samples, layers)
        # the heads are themselves layers' outputs (a Linear head): reaching one is reading it
        if closed and flows and not view.reads_around(log_det, heads, samples | (layers - heads)):
            return kl
    return None


LEARNED_PRIOR = (
    "the KL is taken against a learned prior, whose mean and std a network computes from a sample (a sequential "
    "or hierarchical prior): it is not read against N(0, 1)"
)
