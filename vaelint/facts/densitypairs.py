"""A Monte Carlo KL written as two terms of the loss, ``elbo = log_px + log_pz - log_qz``: Python
adds left to right, so no node of the graph is ``log q(z) - log p(z)``, and the loss's terms were
three, ``log p(z)`` and ``log q(z)`` each read alone (neither is a KL): VAE002/VAE004 unchecked.
Where the loss has exactly one term that reads the sample only (``log p(z)``) and one that reads the
sampler's heads beside it (``log q(z)``), with opposite signs and the same reductions outside them,
the two are joined into one term by a node added to the graph, ``log q(z) - log p(z)``, whose values
runs compute from its operands (:class:`vaelint.capture.result.NodeValues`).

The same KL written with the posterior's entropy in closed form, ``-H[q] - log p(z)`` (flow
posteriors' "entropy plus cross-entropy", Rezende & Mohamed 2015): the entropy reads the scale head
and not the mean, which no Gaussian KL does, so it was taken as a broken closed-form KL (a false
VAE007). Joined with the loss's terms that read only the sample (``log p(z)``, a flow's
log-determinants) it is one Monte Carlo KL.

And the closed-form KL written out as its parts, each reduced alike (``-0.5 * (torch.sum(1 + logvar)
- torch.sum(mu.pow(2)) - torch.sum(logvar.exp()))``): the loss's split takes scalar terms that read the
encoder's heads apart (a KL beside an L2 penalty on mu), so no term was the KL and VAE002, VAE004 and
VAE007 were not checked. Where no such term reads both the mean and the scale and together they do,
their elements are joined and reduced as each was: one KL term (:func:`join_expanded_kl`)."""

from __future__ import annotations

import operator

import torch
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


def join_entropy_and_cross_entropy(view, roles, kind) -> None:
    """Join a closed-form entropy of the posterior (``Normal(mu, std).entropy()``, ``log std`` summed)
    with the loss's terms that read the sample only (``-log p(z)``) into one KL term."""
    entropies = [(s, t) for s, t in roles.loss_terms if kind(t) == "kl"]
    latent = [(s, t) for s, t in roles.loss_terms if kind(t) == "latent"]
    if len(entropies) != 1 or not latent:
        return
    heads, samples = heads_of(roles.reparams), samples_of(roles.reparams)
    means = [r.mu for r in roles.reparams if isinstance(r.mu, fx.Node)]
    scales = [n for r in roles.reparams for n in (r.logvar, r.std) if isinstance(n, fx.Node)]
    sign_h, entropy = entropies[0]
    if not means or any(_reads_value(entropy, m) for m in means) or not any(_reads_value(entropy, s) for s in scales):
        return  # it reads the mean (a KL, broken or not) or no scale at all
    if any(view.reads_around(t, heads, samples) for _s, t in latent):
        return  # a log q(z) of its own beside it: not an entropy's partner
    outer = roles.term_outer
    if any(outer.get(t, ()) != outer.get(entropy, ()) or not _same_shape(t, entropy) for _s, t in latent):
        # weighed or reduced apart (an annealed free energy, beta * (rec - log p(zK))): no one KL term,
        # but the entropy is still no closed-form KL (lossroles.term_kind reads it as a Monte Carlo part)
        entropy.meta["vaelint_entropy"] = True
        return
    if len(latent) == 1 and _join_elements(view, roles, (sign_h, entropy), latent[0]):
        return
    graph = entropy.graph
    joined = entropy
    for sign, term in sorted(latent, key=lambda st: _position(graph, st[1])):
        later = max((joined, term), key=lambda n: _position(graph, n))
        with graph.inserting_after(later):
            joined = graph.call_function(operator.add if sign == sign_h else operator.sub, (joined, term))
        joined.meta.update({k: v for k, v in entropy.meta.items() if k != "vaelint_derived"})
        joined.meta["vaelint_derived"] = True
    if entropy in outer:
        outer[joined] = outer[entropy]
    gone = {entropy} | {t for _s, t in latent}
    roles.loss_terms = [(s, t) for s, t in roles.loss_terms if t not in gone] + [(sign_h, joined)]


def join_expanded_kl(view, roles, kind) -> None:
    """Join the parts of a closed-form KL written out and reduced one by one into one KL term."""
    parts = [(s, t) for s, t in roles.loss_terms if kind(t) == "kl"]
    means = [r.mu for r in roles.reparams if isinstance(r.mu, fx.Node)]
    scales = [n for r in roles.reparams for n in (r.logvar, r.std) if isinstance(n, fx.Node)]
    if len(parts) < 2 or len(roles.reparams) != 1 or not means or not scales:
        return
    reads = [({m for m in means if _reads_value(t, m)}, {h for h in scales if _reads_value(t, h)}) for _s, t in parts]
    if any(m and h for m, h in reads) or not (any(m for m, _h in reads) and any(h for _m, h in reads)):
        return  # one part is a KL itself (a penalty beside it), or the parts never read both heads
    outer = roles.term_outer
    if len({tuple(outer.get(t, ())) for _s, t in parts}) != 1:
        return  # weighed or reduced apart: terms of their own
    chains = [_reduced(view, t) for _s, t in parts]
    if any(c is None for c in chains):
        return
    first_chain, first_el = chains[0]
    for chain, element in chains[1:]:
        if len(chain) != len(first_chain) or not _same_shape(element, first_el):
            return
        if any(view.op(a) != view.op(b) or a.args[1:] != b.args[1:] or a.kwargs != b.kwargs for a, b in zip(chain, first_chain)):
            return
    graph, (sign0, term0) = parts[0][1].graph, parts[0]
    later = max((t for _s, t in parts), key=lambda n: _position(graph, n))
    joined = first_el
    for (sign, _t), (_chain, element) in zip(parts[1:], chains[1:]):
        with graph.inserting_after(later if joined is first_el else joined):
            joined = _derived(graph, operator.add if sign == sign0 else operator.sub, (joined, element), {}, first_el)
    for step in reversed(first_chain):
        with graph.inserting_after(joined):
            joined = _derived(graph, _REDUCTIONS[view.op(step)], (joined, *step.args[1:]), dict(step.kwargs), step)
    if term0 in outer:
        outer[joined] = outer[term0]
    gone = {t for _s, t in parts}
    roles.loss_terms = [(s, t) for s, t in roles.loss_terms if t not in gone] + [(sign0, joined)]


# reductions a term's element goes through alike on both sides (``-x.sum(-1).mean()``)
_REDUCTIONS = {"neg": operator.neg, "sum": torch.sum, "mean": torch.mean}


def _join_elements(view, roles, entropy: tuple, cross: tuple) -> bool:
    """Where the entropy and ``-log p(z)`` are reduced alike (``-(...).sum(-1).mean()`` each), join
    their elements and reduce the join as they were: one KL term whose element is read per sample
    and latent dim (VAE002, VAE004), not a sum of two numbers."""
    (sign_h, h_term), (sign_p, p_term) = entropy, cross
    h_chain, p_chain = _reduced(view, h_term), _reduced(view, p_term)
    if h_chain is None or p_chain is None or len(h_chain[0]) != len(p_chain[0]):
        return False
    if any(view.op(a) != view.op(b) or a.args[1:] != b.args[1:] or a.kwargs != b.kwargs for a, b in zip(h_chain[0], p_chain[0])):
        return False
    (chain, h_el), p_el = h_chain, p_chain[1]
    if not _same_shape(h_el, p_el):
        return False
    graph = h_term.graph
    later = max((h_term, p_term), key=lambda n: _position(graph, n))
    with graph.inserting_after(later):
        joined = _derived(graph, operator.add if sign_h == sign_p else operator.sub, (h_el, p_el), {}, h_el)
        for step in reversed(chain):
            with graph.inserting_after(joined):
                joined = _derived(graph, _REDUCTIONS[view.op(step)], (joined, *step.args[1:]), dict(step.kwargs), step)
    outer = roles.term_outer
    if h_term in outer:
        outer[joined] = outer[h_term]
    roles.loss_terms = [(s, t) for s, t in roles.loss_terms if t is not h_term and t is not p_term] + [(sign_h, joined)]
    return True


def _reduced(view, term: fx.Node):
    """(the reductions from the term down, the element they reduce), or None."""
    chain, node = [], term
    while view.op(node) in _REDUCTIONS and node.args and isinstance(node.args[0], fx.Node):
        chain.append(node)
        node = node.args[0]
    return (chain, node) if any(view.op(n) != "neg" for n in chain) else None


def _derived(graph: fx.Graph, target, args: tuple, kwargs: dict, like: fx.Node) -> fx.Node:
    node = graph.call_function(target, args, kwargs)
    node.meta.update({k: v for k, v in like.meta.items() if k != "vaelint_derived"})
    node.meta["vaelint_derived"] = True
    return node


def _reads_value(node: fx.Node, wanted: fx.Node) -> bool:
    """Does ``node`` read ``wanted``'s values, where one tensor taken out of a
    ``broadcast_tensors(mu, std)`` (a distribution's constructor) reads only its own operand?"""
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if n is wanted:
            return True
        if n in seen:
            continue
        seen.add(n)
        inputs = n.all_input_nodes
        if n.target is operator.getitem and isinstance(n.args[0], fx.Node) and _is_broadcast(n.args[0]):
            picked = n.args[0].args[n.args[1]] if isinstance(n.args[1], int) and n.args[1] < len(n.args[0].args) else None
            inputs = [picked] if isinstance(picked, fx.Node) else []
        stack.extend(inputs)
    return False


def _is_broadcast(node: fx.Node) -> bool:
    return getattr(node.target, "__name__", "") == "broadcast_tensors"


def _same_shape(a: fx.Node, b: fx.Node) -> bool:
    fa, fb = a.meta.get("shape"), b.meta.get("shape")
    return fa is not None and fb is not None and fa.sizes == fb.sizes


def _position(graph: fx.Graph, node: fx.Node) -> int:
    return next(i for i, n in enumerate(graph.nodes) if n is node)
