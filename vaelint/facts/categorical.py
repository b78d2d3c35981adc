"""The categorical (Gumbel-softmax) posteriors of a graph (:mod:`.roles`): the encoder's logits that
``F.gumbel_softmax`` relaxes into a sample. Its KL to the uniform prior (``q * log(q * K)`` summed,
``q = softmax(logits)``) reads the logits and not the sample: a KL term, whose reductions VAE002 and
VAE004 check as a Gaussian KL's (the Gaussian formula rules do not apply to it)."""

from __future__ import annotations

from dataclasses import dataclass

import torch.fx as fx

from vaelint.facts.graphview import GraphView


@dataclass(frozen=True)
class Categorical:
    logits: fx.Node  # the encoder's output the relaxed sample is drawn from
    sample: fx.Node  # F.gumbel_softmax(logits, tau)


def categorical_heads(view: GraphView) -> list[Categorical]:
    """Each ``F.gumbel_softmax(logits, ...)`` whose logits a layer makes, in graph order."""
    found = []
    for node in view.graph.nodes:
        if view.op(node) != "gumbel_softmax" or not node.args or not isinstance(node.args[0], fx.Node):
            continue
        if view.reads_a_layer(node.args[0]):
            found.append(Categorical(node.args[0], node))
    return found


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
