"""Dependence queries over one fx graph, shared by the roles and the rules."""

from __future__ import annotations

import torch.fx as fx

from vaelint.capture.ops import CAST_OPS, RANDOM_OPS, RESHAPE_OPS, op_name


class GraphView:
    """Cached dependence queries over one fx graph."""

    def __init__(self, graph: fx.Graph, modules: dict | None = None):
        self.graph = graph
        self.modules = modules or {}
        self._anc: dict[fx.Node, frozenset] = {}
        self.order = {n: i for i, n in enumerate(graph.nodes)}

    def op(self, node: fx.Node) -> str:
        return op_name(node, self.modules)

    def ancestors(self, node: fx.Node) -> frozenset:
        """Every node ``node`` depends on, itself included."""
        hit = self._anc.get(node)
        if hit is not None:
            return hit
        acc = {node}
        stack = list(node.all_input_nodes)
        while stack:
            n = stack.pop()
            if n in acc:
                continue
            if n in self._anc:
                acc |= self._anc[n]
                continue
            acc.add(n)
            stack.extend(n.all_input_nodes)
        result = frozenset(acc)
        self._anc[node] = result
        return result

    def depends_on(self, node: fx.Node, other: fx.Node | None) -> bool:
        return other is not None and other in self.ancestors(node)

    def depends_through(self, node: fx.Node, other: fx.Node, blocked: set[str]) -> bool:
        """Does ``node`` depend on ``other`` along a path with no op in ``blocked``
        (``detach``: the dependence carries no gradient)?"""
        seen, stack = set(), [node]
        while stack:
            n = stack.pop()
            if n is other:
                return True
            if n in seen:
                continue
            seen.add(n)
            if n is not node and self.op(n) in blocked:
                continue
            stack.extend(n.all_input_nodes)
        return False

    def used(self) -> frozenset:
        """The nodes the graph's output is computed from (all of them when the run
        ended before an output was recorded)."""
        if not hasattr(self, "_used"):
            outputs = [n for n in self.graph.nodes if n.op == "output"]
            if not outputs:
                self._used = frozenset(self.graph.nodes)
            else:
                acc: set = set()
                for n in outputs[0].all_input_nodes:
                    acc |= self.ancestors(n)
                self._used = frozenset(acc)
        return self._used

    def depends_on_noise(self, node: fx.Node) -> bool:
        return any(self.op(a) in RANDOM_OPS for a in self.ancestors(node))

    def placeholders(self) -> list[fx.Node]:
        return [n for n in self.graph.nodes if n.op == "placeholder"]

    def is_data_only(self, node: fx.Node) -> bool:
        """Computed from the inputs alone by reshapes and casts (``x.view(-1, 784)``)."""
        for a in self.ancestors(node):
            if a.op == "placeholder":
                continue
            name = self.op(a)
            if name in RESHAPE_OPS or name in CAST_OPS or name in {"size", "getitem", "getattr"}:
                continue
            if a.op == "get_attr" and not a.users:
                continue
            return False
        return any(a.op == "placeholder" for a in self.ancestors(node))
