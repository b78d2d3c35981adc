"""Another recorded run's nodes paired with the captured graph's, call by call (the
shapes stage's other batch sizes, the rules' own runs): by op and source line, a common
prefix and suffix first, the longest matching stretches of the middle after."""

from __future__ import annotations

import difflib
import operator

import torch.fx as fx

from vaelint.capture.ops import RANDOM_OPS


def align_runs(graph: fx.Graph, calls: list, other_graph: fx.Graph, other_calls: list) -> dict:
    """Nodes of another recorded run -> the captured graph's nodes.

    Calls pair up by op and source line. The runs agree on a common prefix and
    suffix; between them, one run may make calls the other does not (a library's
    lazy set-up on the first call, such as Keras's seed generator, or a
    data-dependent branch taken differently), and the longest matching stretches
    there pair up too. Inputs pair by position, parameters by name, and a
    tuple's items follow their call.
    """
    a = [_call_key(c) for c in calls]
    b = [_call_key(c) for c in other_calls]
    pairs = []
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        pairs.append((head, head))
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        pairs.append((len(a) - 1 - tail, len(b) - 1 - tail))
        tail += 1
    mid_a, mid_b = a[head : len(a) - tail], b[head : len(b) - tail]
    if mid_a and mid_b and len(mid_a) * len(mid_b) <= _MAX_MIDDLE:
        matcher = difflib.SequenceMatcher(None, mid_a, mid_b, autojunk=False)
        for block in matcher.get_matching_blocks():
            pairs += [(head + block.a + k, head + block.b + k) for k in range(block.size)]
    by_node = {other_calls[j][1]: calls[i][1] for i, j in pairs}
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    by_node.update(zip([n for n in other_graph.nodes if n.op == "placeholder"], placeholders))
    attrs = {n.target: n for n in graph.nodes if n.op == "get_attr"}
    for nb in other_graph.nodes:
        if nb.op == "get_attr" and nb.target in attrs:
            by_node[nb] = attrs[nb.target]
        elif nb.op == "call_function" and nb.target is operator.getitem and nb.args[0] in by_node:
            for na in by_node[nb.args[0]].users:
                if na.target is operator.getitem and na.args[1] == nb.args[1]:
                    by_node[nb] = na
    return by_node


# Above this many pairs of unmatched calls the middle is left unpaired (its
# nodes get no shape at other batches) rather than spend seconds matching.
_MAX_MIDDLE = 4_000_000


def _call_key(call: tuple) -> tuple:
    name, node = call
    loc = node.meta.get("loc")
    return (name, loc.path, loc.line, loc.column) if loc is not None else (name,)


def calls_held(calls: list, wanted) -> frozenset:
    """The places, in the order of the first run's calls, of the nodes whose values a rule reads
    (and of the random draws, which a replay takes): another run of the same calls holds those
    only. A run whose calls differ holds what falls at those places; alignment drops the rest."""
    return frozenset(
        i
        for i, (name, node) in enumerate(calls)
        if node in wanted or name in RANDOM_OPS or any(u in wanted and u.target is operator.getitem for u in node.users)
    )
