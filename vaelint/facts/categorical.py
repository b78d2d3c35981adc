"""The categorical (Gumbel-softmax) posteriors of a graph (:mod:`.roles`): the encoder's logits that
``F.gumbel_softmax`` relaxes into a sample. Its KL to the uniform prior (``q * log(q * K)`` summed,
``q = softmax(logits)``) reads the logits and not the sample: a KL term, whose reductions VAE002 and
VAE004 check as a Gaussian KL's (the Gaussian formula rules do not apply to it)."""

from __future__ import annotations

from dataclasses import dataclass

import torch.fx as fx

from vaelint.capture.ops import RANDOM_OPS
from vaelint.facts.graphview import GraphView


@dataclass(frozen=True)
class Categorical:
    logits: fx.Node  # the encoder's output the relaxed sample is drawn from
    sample: fx.Node  # F.gumbel_softmax(logits, tau)


def categorical_heads(view: GraphView) -> list[Categorical]:
    """Each ``F.gumbel_softmax(logits, ...)`` whose logits a layer makes, and each written out
    (``softmax((logits + g) / tau)`` with ``g = -log(-log(u))`` of uniform noise), in graph order."""
    found = []
    for node in view.graph.nodes:
        if not node.args or not isinstance(node.args[0], fx.Node):
            continue
        if view.op(node) == "gumbel_softmax" and view.reads_a_layer(node.args[0]):
            found.append(Categorical(node.args[0], node))
        elif view.op(node) == "_sample_dirichlet":
            # Dirichlet(alpha).rsample() (a topic model's posterior over topics): alpha as its logits are
            concentration = node.args[0]
            while view.op(concentration) == "expand" and isinstance(concentration.args[0], fx.Node):
                concentration = concentration.args[0]
            if view.reads_a_layer(concentration):
                found.append(Categorical(concentration, node))
        elif view.op(node) == "softmax":
            logits = _beside_gumbel_noise(view, node.args[0])
            if logits is not None:
                found.append(Categorical(logits, node))
        elif view.op(node) == "exp":
            # torch.distributions' RelaxedOneHotCategorical(tau, logits).rsample(): the softmax written as
            # exp(s - logsumexp(s)) of s = (logits + g) / tau
            scores = _normalised(view, node.args[0])
            logits = _beside_gumbel_noise(view, scores) if scores is not None else None
            if logits is not None:
                # the distribution normalises the logits it is given (logits - logits.logsumexp(-1)): the
                # encoder's own are the posterior's, which a KL of softmax(logits) reads
                found.append(Categorical(_normalised(view, logits) or logits, node))
    return found


def _normalised(view: GraphView, node: fx.Node) -> fx.Node | None:
    """``s`` of ``s - s.logsumexp(-1, keepdim=True)``; else None."""
    if view.op(node) != "sub" or len(node.args) != 2 or not all(isinstance(a, fx.Node) for a in node.args):
        return None
    scores, total = node.args
    return scores if view.op(total) == "logsumexp" and total.args and total.args[0] is scores else None


def _beside_gumbel_noise(view: GraphView, node: fx.Node) -> fx.Node | None:
    """The logits of ``(logits + g) / tau``: the add's operand that a layer makes and no random op
    reaches, beside one a random op reaches (the Gumbel noise)."""
    while view.op(node) in ("div", "mul") and node.args and isinstance(node.args[0], fx.Node):
        node = node.args[0]  # / tau
    if view.op(node) != "add" or len(node.args) != 2 or not all(isinstance(a, fx.Node) for a in node.args):
        return None
    drawn = [a for a in node.args if any(view.op(n) in RANDOM_OPS for n in {a} | set(view.ancestors(a)))]
    logits = [a for a in node.args if a not in drawn and view.reads_a_layer(a)]
    return logits[0] if len(drawn) == 1 and len(logits) == 1 else None


def reads_a_categorical_posterior(view: GraphView, categorical: list[Categorical], node) -> bool:
    """A term on a categorical posterior's logits and not on its sample, nor on the data save through
    the logits: its KL (a closed form). A classifier's cross-entropy of the same logits against the
    batch's labels (an M2 semi-supervised VAE's) reads the labels: no KL."""
    if not any(view.depends_on(node, c.logits) and not view.depends_on(node, c.sample) for c in categorical):
        return False
    data = frozenset(n for n in view.placeholders() if isinstance(n, fx.Node))
    logits = frozenset(c.logits for c in categorical)
    return not (data and view.reads_around(node, data, logits | view.with_parameters()))


# how a categorical posterior's KL is weighed (TermScale.read_as): as written, no Gaussian closed form
CATEGORICAL = "a categorical posterior's KL, as written"


def categorical_only(ctx, term) -> bool:
    """A KL term on a categorical posterior's logits and on no Gaussian sampler's heads."""
    roles, view = ctx.roles, ctx.view
    if not reads_a_categorical_posterior(view, roles.categorical, term):
        return False
    return not any(view.depends_on(term, h) for r in roles.reparams for h in (r.mu, r.logvar) if isinstance(h, fx.Node))


def no_gaussian_sampler(view: GraphView, categorical: list[Categorical]) -> str:
    """Why the Gaussian sampler's rules do not run: a Gumbel-softmax or Dirichlet posterior (no eps,
    std, Gaussian KL to read), or no sampler at all."""
    if not categorical:
        return "no reparameterisation (mu + eps * std with eps drawn in forward) found in the graph"
    kinds = " and ".join(
        sorted({"Dirichlet (or Beta)" if view.op(c.sample) == "_sample_dirichlet" else "categorical" for c in categorical})
    )
    return f"the posterior is {kinds}, not Gaussian (no mu + eps * std): these rules read a Gaussian sampler"
