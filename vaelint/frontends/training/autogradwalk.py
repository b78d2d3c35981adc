"""The nodes of an autograd graph, each once (:mod:`.live`, :mod:`.liveinner`, :mod:`.livestepper`).

torch gives a graph node's Python object for as long as something holds it, and makes a new
one at the next reading once nothing does; the freed object's ``id()`` is then free for the
next object made. A walk that keeps only the ``id()`` of the nodes it met, not the nodes, can
take a node it has not met for one it has and leave out the graph below it: on torch 2.11 the
walk from a VAE's loss stopped at the KL's sum and never reached the sample (every backward
was 'another network's', and the run fell back to reading the code). The walk here holds each
node it meets until it ends."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

LIMIT = 200_000  # nodes: a graph of a long unrolled recurrence is large, never endless


def autograd_nodes(roots: Iterable, limit: int | None = LIMIT) -> Iterator:
    """Each node of the graphs below ``roots`` (autograd nodes; None is skipped) once, depth
    first, at most ``limit`` of them (None: all, where a verdict needs the whole graph)."""
    held: dict = {}  # id -> the node: held, its id cannot be another node's while the walk goes on
    todo = [r for r in roots if r is not None]
    while todo and (limit is None or len(held) < limit):
        node = todo.pop()
        if node is None or id(node) in held:
            continue
        held[id(node)] = node
        yield node
        todo += [n for n, _ in getattr(node, "next_functions", ())]
