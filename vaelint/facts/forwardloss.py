"""The loss a model's forward returns itself, found where no loss function was: a scalar computed
from the reconstruction and the sampler's heads (``return rec + kl``, ``return loss, recon``), or one
value per sample returned beside other outputs (``return qy, z, x_mean, total_loss, entropy``)."""

from __future__ import annotations

import torch.fx as fx

from vaelint.facts.graphview import GraphView
from vaelint.facts.lossroles import TOTAL_KEYS, is_scalar, loss_roles
from vaelint.facts.roles import Roles


def own_loss_key(out) -> str | None:
    """The key under which a forward's dict holds its own loss (``loss``, ``total_loss``, ``elbo``...)."""
    if not isinstance(out, dict):
        return None
    return next((k for k in TOTAL_KEYS if isinstance(out.get(k), fx.Node)), None)


def own_loss(out) -> dict | None:
    """``{key: node}`` of the loss a forward returns itself under a loss's key: in its dict, or in a dict
    it returns beside other outputs (scVI's ``return inference, generative, {"loss": ...}``); else None."""
    key = own_loss_key(out)
    if key is not None:
        return {key: out[key]}
    if not isinstance(out, (tuple, list)):
        return None
    # the dict at its place among the outputs, the others None: the loss's path is (2, "loss")
    at = next((i for i, o in enumerate(out) if own_loss_key(o) is not None), None)
    return None if at is None else tuple({own_loss_key(o): o[own_loss_key(o)]} if i == at else None for i, o in enumerate(out))


def read_forward_loss(view: GraphView, roles: Roles, out) -> None:
    """The roles of the forward's own loss, where it returns one (else nothing is filled in)."""
    own = forward_scalar_loss(view, roles, out)
    if own is None:
        return
    loss_roles(view, roles, own)
    fact = roles.loss_total.meta.get("shape") if roles.loss_total is not None else None
    roles.total_per_sample = fact is not None and bool(fact.sizes)


def forward_scalar_loss(view: GraphView, roles: Roles, out):
    """The loss a forward returns as a scalar (``return rec + kl``, ``return loss, recon``)
    when no loss function was found: the scalar outputs computed from both the
    reconstruction and the sampler's heads; None when there is none."""
    if roles.recon is None or roles.reparam is None:
        return None
    heads = [h for r in roles.reparams for h in (r.mu, r.logvar) if h is not None]
    items = (
        [((), out)]
        if isinstance(out, fx.Node)
        else (list(out.items()) if isinstance(out, dict) else list(enumerate(out)) if isinstance(out, (tuple, list)) else [])
    )
    # a value the forward detached (``loss.detach().mean()`` kept for logging) carries no gradient: no loss
    scalars = [(k, v) for k, v in items if isinstance(v, fx.Node) and is_scalar(v) and _carries(view, v, roles.recon, heads)]
    apart = _terms_apart(view, roles, out, items, heads)
    if apart and not any(_of_the_heads(view, roles, v, heads) for _k, v in scalars):
        # the loss's terms returned apart (a VRNN's ``{"kld_loss": kld, "nll_loss": nll, ...}``, ``return kld,
        # nll, means``), the step adding them: a likelihood (which reads the heads only through the sample:
        # no total) beside a term of the heads
        scalars = apart
    if not scalars:
        # one value per sample (GMVAE-MD's ``return qy, z, xm, total_loss, nent``, the step taking its
        # mean): a per-sample item that holds a likelihood of the data beside a term of the heads
        scalars = [(k, v) for k, v in items if isinstance(v, fx.Node) and _per_sample_total(view, roles, v, heads)]
        if len(scalars) != 1:
            return None
    if isinstance(out, fx.Node):
        return out
    if isinstance(out, dict):
        return {k: v for k, v in scalars}
    # each scalar at its own place (``return recon, loss``: the loss is out[1]), the others None
    kept = {k for k, _v in scalars}
    return tuple(v if k in kept else None for k, v in items)


# the names a forward gives its loss's terms (a key that ends so: kld_loss, recon_loss, nll)
_TERM_WORDS = ("loss", "kl", "kld", "nll", "rec", "recon", "elbo", "bce", "mse", "likelihood", "kl_div", "kl_loss")


def _terms_apart(view: GraphView, roles: Roles, out, items: list, heads: list) -> list:
    """The scalar outputs that are the loss's terms returned apart: each carries a gradient to the
    heads, one of them a likelihood of the data decoded from a sample and one the heads' alone; in a
    dict, each under a loss's name (``kld_loss``, ``nll``). Else none."""
    terms = [
        (k, v)
        for k, v in items
        if isinstance(v, fx.Node)
        and is_scalar(v)
        and (not isinstance(out, dict) or str(k).lower().endswith(_TERM_WORDS))
        and any(view.depends_through(v, h, {"detach"}) for h in heads)
    ]
    samples = _samples(roles)
    # the likelihood: decoded from a sample (the reconstruction, or each step's of a recurrent VAE) and
    # compared with the data
    likelihood = any(any(view.depends_on(v, z) for z in samples) and any(view.depends_on(v, x) for x in roles.inputs) for _k, v in terms)
    of_heads = any(_of_the_heads(view, roles, v, heads) for _k, v in terms)
    if not isinstance(out, dict) and len(terms) != 2:
        return []  # unnamed, a third scalar could be a statistic kept for logging (mu.pow(2).mean()): not read
    return terms if len(terms) >= 2 and likelihood and of_heads else []


def _samples(roles: Roles) -> frozenset:
    return frozenset(n for r in roles.reparams for n in (r.z, r.noise, r.eps) if isinstance(n, fx.Node))


def _of_the_heads(view: GraphView, roles: Roles, node: fx.Node, heads: list) -> bool:
    """Does ``node`` read the sampler's heads along a path through no sample and not through the
    reconstruction (a KL's, a total's; a likelihood reads them only through the sample)?"""
    return view.reads_around(node, frozenset(heads), _samples(roles) | frozenset([roles.recon]))


def _carries(view: GraphView, node: fx.Node, recon: fx.Node, heads: list) -> bool:
    """Computed from the reconstruction and the heads along paths a gradient takes (no ``detach``)."""
    return view.depends_through(node, recon, {"detach"}) and any(view.depends_through(node, h, {"detach"}) for h in heads)


def _per_sample_total(view: GraphView, roles: Roles, node: fx.Node, heads: list) -> bool:
    """A vector of one value per sample that reads the reconstruction and reads the sampler's heads
    along a path through no sample (a KL's, beside the likelihood): a loss the step reduces."""
    fact = node.meta.get("shape")
    if fact is None or fact.sizes is None or len(fact.sizes) != 1 or fact.dims is None or not fact.dims[0].batch_dependent:
        return False
    if not _carries(view, node, roles.recon, heads):
        return False
    return _of_the_heads(view, roles, node, heads)
