"""A closed-form KL against a learned or conditional prior taken the wrong way round: KL(p || q).

``kl_divergence(prior, posterior)`` where the sample is ``posterior.rsample()`` (a VRNN's per-step
prior, a hierarchical VAE's top-down one), or the closed form written with the prior's and the
posterior's parts swapped. The KL the ELBO needs, KL(q || p) = log(sp / sq) + (sq^2 + (mq - mp)^2)
/ (2 sp^2) - 1/2, divides by the prior's scale only; KL(p || q) divides by the sampler's own
scale. So a division, inside the KL term, by the sampler's std (or its variance: a function of its
scale head alone) is the reversed KL. A Monte Carlo estimate (log q(z) - log p(z), whose log q
divides by the std) is no KL against a learned prior in closed form, and is not read here."""

from __future__ import annotations

import torch.fx as fx

from vaelint.facts.learnedprior import against_a_learned_prior
from vaelint.facts.reparams import samples_of

# what may stand between the sampler's scale head and a divisor made of it alone: exp(logvar),
# std ** 2, std * std, softplus(h) + 1e-4 (a constant added), a view of it
_OF_ONE = frozenset({"exp", "pow", "mul", "add", "sub", "softplus", "sqrt", "square", "view", "reshape", "unsqueeze", "clamp", "abs"})


def reversed_learned_kl(ctx) -> fx.Node | None:
    """The KL term against a learned prior in which the sampler's own std divides, or None."""
    roles, view = ctx.roles, ctx.view
    heads = {h for r in roles.reparams for h in (r.std, r.logvar) if isinstance(h, fx.Node)}
    if not heads:
        return None
    samples = samples_of(roles.reparams)
    for term in roles.kl_terms:
        if not against_a_learned_prior(view, roles, term) and any(view.depends_on(term, s) for s in samples):
            continue  # a Monte Carlo estimate, log q(z) - log p(z): its log q divides by the std
        for node in view.value_ancestors(term):
            if view.op(node) != "div" or len(node.args) < 2 or not isinstance(node.args[1], fx.Node):
                continue
            if node.users and all(view.op(u) == "log" for u in node.users):
                continue  # log(std_p / std_q): the KL(q || p)'s own log-ratio
            if _of_a_head(view, node.args[1], heads):
                return term
    return None


def _of_a_head(view, node: fx.Node, heads: set) -> bool:
    """Is ``node`` the sampler's std or scale head, or made of it alone by elementwise steps?"""
    for _ in range(8):
        if node in heads:
            return True
        spread = _broadcast_from(view, node)
        if spread is not None:
            node = spread  # Normal(loc, scale) keeps its scale broadcast against its loc: the scale itself
            continue
        if view.op(node) not in _OF_ONE:
            return False
        inputs = [a for a in node.all_input_nodes if a.op not in ("get_attr",)]
        if len(inputs) != 1:
            return False
        node = inputs[0]
    return False


def _broadcast_from(view, node: fx.Node) -> fx.Node | None:
    """The tensor ``broadcast_tensors(loc, scale)[1]`` is (torch.distributions' ``broadcast_all``), or None."""
    if view.op(node) != "getitem" or len(node.args) < 2 or not isinstance(node.args[0], fx.Node):
        return None
    source, index = node.args[0], node.args[1]
    if view.op(source) not in ("broadcast_tensors", "broadcast_all") or not isinstance(index, int):
        return None
    given = source.args[0] if len(source.args) == 1 and isinstance(source.args[0], (list, tuple)) else source.args
    picked = given[index] if -len(given) <= index < len(given) else None
    return picked if isinstance(picked, fx.Node) else None
