"""The data a training step makes itself from its batch, outside torch: from a batch of strings
(SMILES, sentences it encodes, a tokenizer's ids), or through NumPy (``x =
torch.from_numpy(binarize(x.numpy()))``): the recorded run's input.

A batch of strings is given to the step as its strings (vaelint/frontends/training/batchspecs.py);
the tensors the step makes of them (``torch.stack([encode(s) for s in batch])``,
``torch.tensor(ids)``) come from Python values, so no recorded op joins them to the run's input
and the model would read as fed a constant. The tensor the model's first parameter meets, where
it was made in the run from no input nor parameter and has the batch's rows, and where no op of
the run has read the batch it was given, is that data: it becomes an input of the graph (a
placeholder before the batch's own), as a tensor batch is. Before, a batch taken through NumPy left
the model fed a constant: no sampler nor reconstruction was found and nine rules went unchecked."""

from __future__ import annotations

import torch
import torch.fx as fx

from vaelint.capture.ops import RANDOM_OPS, function_name

DATA_NAME = "data"


class MadeData:
    """What one recorded run knows of tensors made from no input: the nodes made so, and the
    one promoted to the run's data (None until the model's first parameter is met; False when
    that op met none)."""

    def __init__(self, graph: fx.Graph, batch: int):
        self.graph, self.batch = graph, batch
        self.made: set[fx.Node] = set()
        self.node: fx.Node | bool | None = None

    def note(self, func, node: fx.Node, arg_nodes: list[fx.Node]) -> None:
        """``node`` was made of ``arg_nodes``: made from no input where each of them is."""
        if function_name(func) not in RANDOM_OPS and all(a in self.made or _plain_constant(a) for a in arg_nodes):
            self.made.add(node)

    def at_call(self, rec, args, kwargs) -> None:
        """Before a call of the run: where it is the first to meet a parameter, its made
        tensor of the batch's rows becomes the data."""
        if self.node is not None:
            return
        tensors = [t for t in _tensors(args) + _tensors(tuple(kwargs.values())) if isinstance(t, torch.Tensor)]
        if not any(id(t) in rec.param_names for t in tensors):
            return
        if any(n.op == "placeholder" and n.users for n in self.graph.nodes):
            self.node = False  # the run reads its given batch: that is its data
            return
        for t in tensors:
            if id(t) in rec.param_names or t.dim() == 0 or t.shape[0] != self.batch:
                continue
            hit = rec.tensors.get(id(t))
            if hit is None or hit[0]() is not t:
                # made outside torch's calls (torch.from_numpy of what NumPy made of the batch): a constant
                node = rec.node_for(t)
                hit = (None, node) if _plain_constant(node) else None
            if hit is not None and (hit[1] in self.made or _plain_constant(hit[1])):
                self.node = self._promote(rec, t)
                return
        self.node = False

    def _promote(self, rec, t: torch.Tensor) -> fx.Node:
        made = rec.tensors[id(t)][1]
        first = next(iter(self.graph.nodes))
        with self.graph.inserting_before(first):
            ph = self.graph.placeholder(DATA_NAME)
        ph.meta["loc"] = made.meta.get("loc")  # where the step made it
        # x = torch.stack(...), or ids = tokenise(sentences) where a helper of the step's made it
        named = (_assigned_name(loc) for loc in made.meta.get("stack") or [ph.meta["loc"]])
        unread = [n for n in self.graph.nodes if n.op == "placeholder" and n is not ph and not n.users]
        if made.meta.get("loc") is None and len(unread) == 1:
            # made outside torch's calls, where the batch it was given went unread: that batch, as the step made it
            named = iter([str(unread[0].target)])
        ph.meta["made_data"] = next((n for n in named if n), DATA_NAME)
        rec.bind(t, ph)
        return ph


def _assigned_name(loc) -> str | None:
    """``x`` of ``x = torch.stack([encode(s) for s in batch])`` at the line that made the data."""
    import ast
    import linecache

    if loc is None:
        return None
    try:
        stmt = ast.parse(linecache.getline(loc.path, loc.line).strip()).body[0]
    except (SyntaxError, IndexError, ValueError):
        return None
    targets = stmt.targets if isinstance(stmt, ast.Assign) else []
    return targets[0].id if len(targets) == 1 and isinstance(targets[0], ast.Name) else None


def _plain_constant(node: fx.Node) -> bool:
    return node.op == "get_attr" and str(node.target).startswith("_constant_")


def _tensors(values: tuple) -> list:
    out = []
    for v in values:
        if isinstance(v, (list, tuple)):
            out.extend(v)
        else:
            out.append(v)
    return out
