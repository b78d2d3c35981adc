"""A weight the data gives each sample, multiplying a sum of loss terms: ``(log p(x|z) - kl) * w``
with ``w`` a sequence's reweighting factor from the batch (DeepSequence-style protein VAEs),
or ``total / w.sum()``. It scales every term under it alike, so the terms are split through it
(facts/lossroles.py) as through a number."""

from __future__ import annotations

import torch.fx as fx

from vaelint.capture.ops import RANDOM_OPS
from vaelint.facts.graphview import GraphView


def data_weight(view: GraphView, node: fx.Node) -> fx.Node | None:
    """The other operand of ``(rec - kl) * w`` or ``total / w.sum()`` where ``w`` is computed from
    the batch alone (no parameter, module or random draw: a per-sample weight the data gives, as
    a protein-family VAE's reweighting of each sequence): the value the weight scales, which each
    of its terms the weight scales alike. None else."""
    a, b = node.args[0], node.args[1]
    for value, weight in ((a, b), (b, a)):
        if view.op(node) == "div" and value is not a:
            continue
        if isinstance(weight, fx.Node) and isinstance(value, fx.Node) and _from_the_data(view, weight):
            return value
    return None


def _from_the_data(view: GraphView, node: fx.Node) -> bool:
    ancestors = view.value_ancestors(node) | {node}
    return any(a.op == "placeholder" for a in ancestors) and not any(
        a.op in ("get_attr", "call_module") or view.op(a) in RANDOM_OPS for a in ancestors
    )
