"""A Monte Carlo KL written as two terms of the loss, ``elbo = log_px + log_pz - log_qz``: Python
adds left to right, so no node of the graph is ``log q(z) - log p(z)``, and the loss's terms were
three, ``log p(z)`` and ``log q(z)`` each read alone (neither is a KL): VAE002/VAE004 unchecked.
Where the loss has exactly one term that reads the sample only (``log p(z)``) and one that reads the
sampler's heads beside it (``log q(z)``), with opposite signs and the same reductions outside them,
the two are joined into one term by a node added to the graph, ``log q(z) - log p(z)``, whose values
runs compute from its operands (:class:`vaelint.capture.result.NodeValues`)."""

from __future__ import annotations

import operator

import torch.fx as fx

from vaelint.facts.reparams import heads_of, samples_of


def join_log_densities(view, roles, kind) -> None:
    """Join a loss's ``log p(z)`` and ``log q(z)`` terms into one (``roles.loss_terms``)."""
    latent = [(sign, t) for sign, t in roles.loss_terms if kind(t) == "latent"]
    if len(latent) != 2:
        return
    heads, samples = heads_of(roles.reparams), samples_of(roles.reparams)
    if not heads or not samples:
        return
    q = [(s, t) for s, t in latent if view.reads_around(t, heads, samples)]
    p = [(s, t) for s, t in latent if not view.reads_around(t, heads, samples) and any(view.depends_on(t, z) for z in samples)]
    if len(q) != 1 or len(p) != 1:
        return
    (sign_q, log_q), (sign_p, log_p) = q[0], p[0]
    outer = roles.term_outer
    if sign_q != -sign_p or outer.get(log_q, ()) != outer.get(log_p, ()) or not _same_shape(log_q, log_p):
        return
    graph = log_q.graph
    later = max((log_q, log_p), key=lambda n: _position(graph, n))
    with graph.inserting_after(later):
        joined = graph.call_function(operator.sub, (log_q, log_p))
    joined.meta.update({k: v for k, v in log_q.meta.items() if k != "vaelint_derived"})
    joined.meta["vaelint_derived"] = True
    if log_q in outer:
        outer[joined] = outer[log_q]
    roles.loss_terms = [(s, t) for s, t in roles.loss_terms if t is not log_q and t is not log_p] + [(sign_q, joined)]


def _same_shape(a: fx.Node, b: fx.Node) -> bool:
    fa, fb = a.meta.get("shape"), b.meta.get("shape")
    return fa is not None and fb is not None and fa.sizes == fb.sizes


def _position(graph: fx.Graph, node: fx.Node) -> int:
    return next(i for i, n in enumerate(graph.nodes) if n is node)
