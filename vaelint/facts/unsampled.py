"""A Gaussian KL of two encoder heads in a loss whose step draws no sample.

A VAE whose training step feeds the decoder another encoder output than a sample of its heads
(``z, mu, logvar = self.encoder(x); recon = self.decoder(z)``, ``z`` from a deterministic
branch) still computes ``KL(N(mu, exp(logvar)) || N(0, 1))``: the KL trains heads the
reconstruction never reads, and the model is an autoencoder with a penalty beside it. No noise is
drawn, so no sampler is found; what shows it is the KL's own form: a term that reads a head
``L`` both as it is and under ``exp``, and the square of another head ``M`` of ``L``'s shape
(``1 + logvar - mu.pow(2) - logvar.exp()``), neither of which the reconstruction reads; or only
``M`` (``z = mu; recon = self.dec(z)``: the sampling step left out, ``L`` read by the KL alone).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.fx as fx

from vaelint.facts.graphview import is_size


@dataclass(frozen=True)
class UnsampledKL:
    term: fx.Node  # the loss term that holds the KL
    mu: fx.Node  # the head squared (the mean)
    log: fx.Node  # the head under exp (the log-variance, or a log std)
    mean_decoded: bool = False  # the decoder reads the mean itself (z = mu): only the scale head is the KL's alone
    noise_left_out: bool = False  # the decoder reads both heads and no draw (z = mu + std: the sampler's eps left out)

    def at(self, which: str) -> str:
        """Where the user's code made ``term``, ``mu`` or ``log``: ``path:line`` (``?`` unknown)."""
        loc = getattr(self, which).meta.get("loc")
        return loc.where() if loc is not None else "?"


def unsampled_kl(ctx) -> UnsampledKL | None:
    """The KL of heads no sample is drawn from, in a loss with a reconstruction that reads
    neither head, or the mean alone (``z = mu``: the sampling step left out), or both with no draw on
    the way (``z = mu + std``: the noise left out); None where a sampler was found or the loss holds no
    such term. A reconstruction that reads the scale head and a draw has a sampler of it, found or not."""
    roles, view = ctx.roles, ctx.view
    if roles.reparams or roles.recon is None:
        return None
    for _sign, term in roles.loss_terms:
        if view.depends_on(term, roles.recon):
            continue
        found = _gaussian_heads(ctx, term)
        if found is not None and not view.depends_on(roles.recon, found[1]):
            return UnsampledKL(term, *found, mean_decoded=view.depends_on(roles.recon, found[0]))
        if found is not None and not view.depends_on_noise(roles.recon) and _mean_plus_scale(view, roles.recon, *found):
            # both heads decoded, added (z = mu + exp(0.5 * logvar)), and no draw anywhere on the way: a
            # sampler written without its noise (an autoencoder that multiplies its code by a scale is none)
            return UnsampledKL(term, *found, mean_decoded=True, noise_left_out=True)
    return None


_POSITIVE = ("exp", "softplus", "sqrt")


def _mean_plus_scale(view, recon: fx.Node, mu: fx.Node, log: fx.Node) -> bool:
    """Does the reconstruction read ``mu + s`` (or ``s + mu``), s a positive transform of the scale head
    (exp, softplus, sqrt of it) that does not read the mean?"""
    for node in view.ancestors(recon):
        if view.op(node) != "add" or len(node.args) != 2 or not all(isinstance(a, fx.Node) for a in node.args):
            continue
        for m, s in (node.args, node.args[::-1]):
            if m is mu and view.depends_on(s, log) and not view.depends_on(s, mu):
                if any(view.op(a) in _POSITIVE and view.depends_on(a, log) for a in view.ancestors(s)):
                    return True
    return False


def _gaussian_heads(ctx, term: fx.Node) -> tuple[fx.Node, fx.Node] | None:
    view = ctx.view
    ancestors = sorted(view.ancestors(term), key=lambda n: view.order.get(n, 0))
    squares = [(n, base) for n in ancestors if (base := _squared(view, n)) is not None]
    for e in (n for n in ancestors if view.op(n) == "exp" and isinstance(n.args[0], fx.Node)):
        log = _unscaled(view, e.args[0])
        if not view.reads_around(term, frozenset({log}), frozenset({e})):
            continue  # logvar is read under exp only: no "1 + logvar" beside it
        for _square, mu in squares:
            if mu is log or view.depends_on(mu, log) or view.depends_on(log, mu):
                continue
            if _shape(ctx, mu) is not None and _shape(ctx, mu) == _shape(ctx, log) and _computed(view, mu) and _computed(view, log):
                return mu, log
    return None


def _squared(view, node: fx.Node) -> fx.Node | None:
    """``m`` of ``m.pow(2)``, ``m ** 2``, ``m * m``, ``torch.square(m)``."""
    op, args = view.op(node), node.args
    if op == "pow" and len(args) == 2 and isinstance(args[0], fx.Node) and args[1] == 2:
        return args[0]
    if op == "square" and args and isinstance(args[0], fx.Node):
        return args[0]
    if op == "mul" and len(args) == 2 and args[0] is args[1] and isinstance(args[0], fx.Node):
        return args[0]
    return None


def _unscaled(view, node: fx.Node) -> fx.Node:
    """The head under a number's multiple (``0.5 * logvar``, ``logvar / 2``, ``2 * logstd``)."""
    while view.op(node) in ("mul", "div") and len(node.args) == 2:
        tensors = [a for a in node.args if isinstance(a, fx.Node) and not is_size(a)]
        if len(tensors) != 1 or (view.op(node) == "div" and node.args[0] is not tensors[0]):
            break
        node = tensors[0]
    return node


def _shape(ctx, node: fx.Node):
    fact = ctx.shape(node)
    return None if fact is None else fact.sizes


def _computed(view, node: fx.Node) -> bool:
    """Computed by the model's layers from the data (a head), not a constant or a parameter alone."""
    return any(a.op == "placeholder" for a in view.ancestors(node)) and bool(view.ancestors(node) & view.with_parameters())


def dropped_kl(ctx) -> UnsampledKL | None:
    """A Gaussian KL of the sampler's heads that the loss computes and leaves out of what it
    returns (``kld = ...; loss = mse + kld; return mse``): the end of a computation nothing reads,
    whose form is the KL's. ``term`` is that end (``loss = mse + kld``, or the KL itself)."""
    roles, view = ctx.roles, ctx.view
    if roles.reparam is None or roles.kl_terms:
        return None
    heads = {n for r in roles.reparams for n in (r.mu, r.logvar, r.std) if n is not None}
    for node in ctx.capture.graph.nodes:
        if node.users or node.op in ("output", "placeholder", "get_attr") or not any(view.depends_on(node, h) for h in heads):
            continue
        found = _gaussian_heads(ctx, node)
        if found is not None and set(found) & heads:
            return UnsampledKL(node, *found)
    return None
