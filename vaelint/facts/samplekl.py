"""A KL term that reads the sample and is no estimate of the KL: its average over the noise is not
``KL(N(mu, std^2) || N(0, 1))``.

A Monte Carlo KL reads the sample z beside the heads (``log q(z|x) - log p(z)``, or q's entropy in
closed form beside ``-log p(z)``), so VAE007 had no closed form to check it against and said
nothing: a closed form written with the sample where the mean belongs (``-0.5 * sum(1 + logvar -
z.pow(2) - logvar.exp())``) passed as a Monte Carlo estimate, exit 0 (helper Y,
swpenninga/information_maximalization, whose KL reads its own sample's halves as mean and log-std).
Whatever its spelling, an estimate of the KL has the KL for its mean over draws of the noise: the
term's element is replayed at many draws of z = mu + std * eps from the run's heads (eps and -eps
in pairs), and where that mean is no constant multiple of the closed form, beyond its Monte Carlo
error, the term is no KL estimate.

Read only where nothing else can explain it: a term of one stochastic layer (no prior network, no
learned prior, no flow), reading the heads beside the sample (a term of the sample alone may be an
MMD or a prior's log-density), reducing within each sample (a total-correlation estimator pairs the
batch's samples), and not clamped for free bits."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.fx as fx
from torch import Tensor

from vaelint.facts.gaussian_kl import closed_form, log_var_of_std
from vaelint.facts.klelements import kl_element, layer_for
from vaelint.facts.klreplay import replay
from vaelint.facts.learnedprior import against_a_learned_prior, kl_beside_a_log_det
from vaelint.facts.termkinds import term_kind
from vaelint.facts.termscale import term_scale

DRAWS = 128  # in antithetic pairs: 64 draws of eps and their negations
_SIGMAS = 5.0  # how far, in standard errors, an element's mean may sit from c times the KL
_SHARE = 0.1  # the share of elements that must sit that far before the term is said biased


@dataclass(frozen=True)
class SampleKL:
    term: fx.Node  # the loss term
    element: fx.Node  # its elementwise tensor
    expected: float  # the term's mean over the draws, its elements summed and its constant factors kept
    closed: float  # the closed-form KL of the same heads, summed alike


def biased_sample_kl(ctx, run=None) -> SampleKL | None:
    """The first KL term of the loss that reads the sample and whose mean over the noise is no
    constant multiple of the Gaussian KL of the sampler's heads, on the user's run or on ``run``."""
    roles, view = ctx.roles, ctx.view
    if roles.reparam is None or ctx.runs.failure is not None:
        return None
    for term in roles.kl_terms:
        if term_kind(view, roles, term) != "latent" or kl_beside_a_log_det(view, roles, term) is not None:
            continue
        if against_a_learned_prior(view, roles, term):
            continue
        scale = term_scale(ctx, term)
        if scale is None or scale.element is None or scale.target is not None:
            continue  # reductions not followed; a capacity or free-bits target is read apart
        if any(f.kind in ("sum", "mean") and abs(f.batch_power) > 1 for f in scale.reductions()) or _pairs_the_batch(ctx, term):
            # the batch's samples paired (a total-correlation estimator: log q(z) from logsumexp over the
            # B x B x Z densities of each sample under every other's posterior, beta-TCVAE's MI term)
            continue
        # as the term weighs it (the -0.5 of -0.5 * sum(...) outside its element), beside the KL
        weight = math.prod(f.value for f in scale.factors if f.kind == "const")
        # with the sign the loss adds the term with (-elbo, rec - neg_kl): how the loss weighs its element
        added = next((sign for sign, t in roles.loss_terms if t is term), 1)
        found = _biased(ctx, term, scale.element, run, 1.0 if weight * added >= 0 else -1.0)
        if found is not None:
            return SampleKL(term, found.element, weight * found.expected, found.closed)
    return None


def _pairs_the_batch(ctx, term: fx.Node) -> bool:
    """Is the term computed from values of two batch dims (B x B, B x B x Z: each sample's latent
    under every other sample's posterior)?"""
    for n in ctx.view.value_ancestors(term):
        fact = ctx.shape(n)
        if fact is not None and fact.dims is not None and sum(1 for d in fact.dims if d.batch_dependent) >= 2:
            return True
    return False


def _biased(ctx, term: fx.Node, node: fx.Node, run, outer: float = 1.0) -> SampleKL | None:
    """``outer``: the sign of the factors the loss puts on the term outside its element."""
    from vaelint.facts.klcheck import _CLAMPS, _reads_a_prior

    view = ctx.view
    r = layer_for(ctx, node)
    heads = frozenset(h for h in (r.mu, r.logvar, r.std) if isinstance(h, fx.Node))
    if not isinstance(r.z, fx.Node) or not view.depends_on(node, r.z) or view.op(node) in _CLAMPS:
        return None
    if not view.reads_around(node, heads, frozenset({r.z})) or _reads_a_prior(view, node, r):
        return None  # the sample alone (an MMD, a prior's density), or another network's prior
    element = kl_element(ctx, node, run, layer=r)
    if not element.valid or element.std is None or not element.replayable:
        return None
    if element.ratio_to("monte-carlo").constant or element.ratio_to("entropy").constant:
        return None  # log q(z) - log p(z) at the run's z, or -H[q] - log p(z): an estimate, read as one
    if _log_q_beside_a_density_of_z(element) == outer:
        # log q(z|x) - log p(z) for a prior p of z alone (a mixture, a fixed non-standard Gaussian), added
        # to the loss; its negation added (log p - log q: the KL subtracted) is no estimate of a KL term
        return None
    drawn = _mean_over_draws(element)
    if drawn is None:
        return None
    mean, error = drawn
    reference = _closed(element)
    norm = float((reference * reference).sum())
    if norm == 0 or not math.isfinite(norm):
        return None
    c = float((mean * reference).sum()) / norm
    if not math.isfinite(c) or c == 0:
        return None  # (its sign is the factors' outside the element: -0.5 * sum(...))
    off = (mean - c * reference).abs() > _SIGMAS * error + 1e-6 * (1 + mean.abs())
    if float(off.double().mean()) <= _SHARE:
        return None
    return SampleKL(term, node, float(mean.sum()), float(reference.sum()))


def _mean_over_draws(element) -> tuple[Tensor, Tensor] | None:
    """(the element's mean over draws of the noise, its standard error), or None where it cannot be replayed."""
    node, mu_node, head_node, _std_node, z_node = element.nodes
    z_run = element.run.tensors.get(z_node)
    if not isinstance(z_run, Tensor) or z_run.numel() != element.mu.numel():
        return None
    seeds = {mu_node: element.mu, head_node: element.head} if mu_node is not head_node else {mu_node: element.mu}
    g = torch.Generator().manual_seed(0)
    values = []
    for _ in range(DRAWS // 2):
        eps = torch.randn(element.mu.shape, generator=g, dtype=torch.float64)
        for sign in (1.0, -1.0):
            z = (element.mu + sign * eps * element.std).reshape(z_run.shape)
            done = replay(element.capture.graph, element.capture.modules, [node], {**seeds, z_node: z}, element.run)
            got = done.values.get(node) if done is not None else None
            if not isinstance(got, Tensor) or got.shape != element.shape:
                return None
            values.append(got.double())
    # the mean of each antithetic pair is one draw of a lower-variance estimate
    pairs = torch.stack([(a + b) / 2 for a, b in zip(values[::2], values[1::2])])
    return pairs.mean(0), pairs.std(0) / math.sqrt(len(pairs))


def _closed(element) -> Tensor:
    """The closed-form KL of the run's heads, laid out and summed as the element is."""
    mu, log_var = element.mu, log_var_of_std(element.std)
    if element.layout is not None:
        mu, log_var = mu.reshape(element.layout), log_var.reshape(element.layout)
    reference = closed_form(mu, log_var)
    return reference.sum(-1) if element.summed else reference


def _log_q_beside_a_density_of_z(element) -> float | None:
    """Is the element ``log q(z|x) - log p(z)`` (or its negation) for a prior density p of z alone,
    whatever p is (a mixture prior, a fixed N(0, s^2))? At the run's z with the heads moved, the
    element moves exactly as the sampler's Gaussian log q(z|x) does, and what is left, log p(z),
    falls away far from the origin as a density's log does. Then it is a Monte Carlo KL against
    that prior, and no closed form against N(0, 1) is its mean (a false VAE007 on a two-component
    mixture before). ``log q(z|x) + beta * log p(z)`` (a sign lost) leaves -beta log p(z), which
    grows far out: no estimate. The element's sign: 1.0 for log q - log p, -1.0 for log p - log q
    (None: neither)."""
    z_run = element.run.tensors.get(element.nodes[4])
    if not isinstance(z_run, Tensor) or z_run.numel() != element.mu.numel() or element.nodes[3] is None:
        return None
    z = z_run.detach().double().reshape(element.mu.shape)
    g = torch.Generator().manual_seed(1)
    moved = element.mu + torch.randn(element.mu.shape, generator=g, dtype=torch.float64) * 0.5
    spread = torch.randn(element.head.shape, generator=g, dtype=torch.float64) * 0.3
    head = element.head * torch.exp(spread) if bool((element.head > 0).all()) else element.head + spread
    far = z + 10.0 * torch.where(z >= 0, 1.0, -1.0)
    parts = [
        _with_log_q(element, mu, h, at) for mu, h, at in ((element.mu, element.head, z), (moved, head, z), (element.mu, element.head, far))
    ]
    if any(p is None for p in parts):
        return None
    (e1, q1), (e2, q2), (e3, q3) = parts
    if float((q2 - q1).abs().max()) < 1e-3:
        return None  # the heads' move left log q where it was: nothing told
    tol = 1e-6 * (1 + e1.abs() + e2.abs() + q1.abs() + q2.abs())
    for sign in (1.0, -1.0):
        if bool((((e2 - sign * q2) - (e1 - sign * q1)).abs() <= tol).all()):
            log_p_near, log_p_far = -sign * (e1 - sign * q1), -sign * (e3 - sign * q3)
            return sign if bool((log_p_far < log_p_near).all()) else None
    return None


def _with_log_q(element, mu: Tensor, head: Tensor, z: Tensor) -> tuple[Tensor, Tensor] | None:
    """(the element replayed at these heads and sample, the sampler's log q(z|x) laid out and summed
    as the element is), or None where it cannot be replayed."""
    node, mu_node, head_node, std_node, z_node = element.nodes
    z_run = element.run.tensors[z_node]
    seeds = {mu_node: mu, head_node: head} if mu_node is not head_node else {mu_node: mu}
    done = replay(element.capture.graph, element.capture.modules, [node, std_node], {**seeds, z_node: z.reshape(z_run.shape)}, element.run)
    got = done.values if done is not None else {}
    value, std = got.get(node), got.get(std_node)
    if not isinstance(value, Tensor) or value.shape != element.shape or not isinstance(std, Tensor) or std.numel() != mu.numel():
        return None
    std = std.double().reshape(mu.shape)
    log_q = -0.5 * (math.log(2 * math.pi) + 2 * torch.log(std) + ((z - mu) / std) ** 2)
    if element.layout is not None:
        log_q = log_q.reshape(element.layout)
    log_q = log_q.sum(-1) if element.summed else log_q
    return (value.double(), log_q) if log_q.shape == value.shape else None
