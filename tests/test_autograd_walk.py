"""The walk over a loss's autograd graph (vaelint/frontends/training/autogradwalk.py) meets every
node once, also where torch makes a node's Python object anew at each reading and frees it
after (torch 2.11 does: a walk keyed on id() alone stopped at the KL's sum, so no backward
reached the sample and every training run fell back to reading the code)."""

from __future__ import annotations

import gc

import torch

from vaelint.frontends.training.autogradwalk import autograd_nodes


class _Fresh:
    """A graph node whose successors are new objects at each reading, freed once nobody
    holds them: their ids are free for the next objects made."""

    def __init__(self, depth: int, width: int):
        self.depth, self.width = depth, width

    @property
    def next_functions(self):
        if self.depth == 0:
            return ()
        return tuple((_Fresh(self.depth - 1, self.width), 0) for _ in range(self.width))


def _ids_only(root) -> int:
    """The walk as it was: the ids of the nodes met, not the nodes."""
    seen, todo, met = set(), [root], 0
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        met += 1
        todo += [n for n, _ in getattr(node, "next_functions", ())]
    return met


def test_every_node_is_met_when_node_objects_are_made_anew():
    gc.collect()
    # a chain of 40 nodes: each reading makes the next one, the previous one is freed
    assert sum(1 for _ in autograd_nodes([_Fresh(39, 1)])) == 40
    # (the walk as it was, _ids_only, meets fewer here as a rule: CPython gives a freed object's id to
    # the next one made; not asserted, as that is CPython's allocator's, not vaelint's)


def test_a_shared_node_of_a_real_graph_is_met_once_and_none_is_skipped():
    mu = torch.randn(4, 3, requires_grad=True)
    eps = torch.randn(4, 3)
    std = torch.exp(0.5 * mu)
    z = mu + eps * std  # mu is read twice: its AccumulateGrad is met once
    loss = z.pow(2).sum() + (-0.5 * torch.sum(1 + mu - mu.pow(2) - mu.exp()))
    names = [type(n).__name__ for n in autograd_nodes([loss.grad_fn])]
    assert names.count("AccumulateGrad") == 1
    assert {"MulBackward0", "ExpBackward0", "SumBackward0", "SubBackward0", "PowBackward0"} <= set(names)


def test_the_walk_stops_at_its_limit_and_skips_none():
    assert sum(1 for _ in autograd_nodes([None, _Fresh(10, 2)], limit=5)) == 5
    assert sum(1 for _ in autograd_nodes([_Fresh(299, 1)], limit=None)) == 300  # no limit: the whole graph
    assert list(autograd_nodes([None])) == []
