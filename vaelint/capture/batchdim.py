"""Where the batch is in the inputs, as the code shows it: PyTorch's recurrent layers and
attention take ``(T, B, F)`` unless built with ``batch_first=True``, so an input that reaches
one of those as it came (through embeddings, dropout, casts: ops that keep its two leading
dims) has its batch at dim 1. ``--batch-dim`` says it where the code cannot."""

from __future__ import annotations

from dataclasses import dataclass

import torch.fx as fx
from torch import nn


@dataclass(frozen=True)
class SequenceFirst:
    index: int  # which input
    reader: str  # what reads it that way, as the note says it: "nn.LSTM (encoder)"
    stepped: int = 0  # its dim 0's size, where the code steps over it and a layer reads each step's batch


def _layout_of(module) -> bool | None:
    """True: the module reads (T, B, F); False: (B, T, F); None: not a sequence layer."""
    if isinstance(module, (nn.RNNBase, nn.MultiheadAttention)):
        return not module.batch_first
    if isinstance(module, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
        return not module.self_attn.batch_first
    if isinstance(module, (nn.TransformerEncoder, nn.TransformerDecoder)) and len(module.layers):
        return _layout_of(module.layers[0])
    return None


_RECURRENT_OPS = {"lstm", "gru", "rnn_tanh", "rnn_relu"}


def _recorded_layout(node: fx.Node, modules: dict) -> tuple[bool, str] | None:
    """A recurrent layer's own op in a recorded graph (``torch._VF.lstm(input, hx, weights,
    bias, layers, dropout, train, bidirectional, batch_first)``; modules are not kept as
    calls there): (reads (T, B, F), the layer as the note names it); None for other ops
    and for packed sequences (whose op has no batch_first)."""
    if node.op != "call_function" or getattr(node.target, "__name__", None) not in _RECURRENT_OPS:
        return None
    if len(node.args) != 9 or not isinstance(node.args[8], bool):
        return None
    weights = node.args[2] if isinstance(node.args[2], (list, tuple)) else ()
    owner = next((str(w.target).rpartition(".")[0] for w in weights if isinstance(w, fx.Node) and w.op == "get_attr"), "")
    module = modules.get(owner)
    kind = type(module).__name__ if module is not None else node.target.__name__.upper().split("_")[0]
    return not node.args[8], f"nn.{kind} ({owner.removeprefix('model.')})" if owner else f"nn.{kind}"


def _sizes(node: fx.Node):
    fact = node.meta.get("shape")
    return getattr(fact, "sizes", None)


def _reader(start: fx.Node, modules: dict) -> str | None:
    """The sequence layer that reads ``start`` sequence-first, through ops that keep its
    two leading dims; None where the first such layer is batch-first, or none is met."""
    lead = (_sizes(start) or ())[:2]
    if len(lead) < 2:
        return None
    todo, seen = [start], {start}
    while todo:
        node = todo.pop(0)
        for user in node.users:
            if user in seen:
                continue
            seen.add(user)
            recorded = _recorded_layout(user, modules)
            if recorded is not None and user.args[0] is node:
                return recorded[1] if recorded[0] else None
            module = modules.get(user.target) if user.op == "call_module" else None
            layout = _layout_of(module) if module is not None else None
            if layout is not None and user.args and user.args[0] is node:
                name = str(user.target).removeprefix("model.")  # the wrapper's own prefix
                return f"nn.{type(module).__name__} ({name})" if layout else None
            sizes = _sizes(user)
            if sizes is not None and tuple(sizes[:2]) == tuple(lead) and len(seen) < 64:
                todo.append(user)
    return None


def sequence_first_inputs(graph: fx.Graph, modules: dict, count: int) -> list[SequenceFirst]:
    """The inputs (by position, of ``count``) that reach a sequence-first layer as they came."""
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(placeholders) != count:
        return []  # which node is which input is not plain
    found = []
    for i, node in enumerate(placeholders):
        reader = _reader(node, modules)
        stepped = _stepped_reader(node, modules) if reader is None else None
        if reader is not None:
            found.append(SequenceFirst(i, reader))
        elif stepped is not None:
            found.append(SequenceFirst(i, stepped, (_sizes(node) or (0,))[0]))
    return found


_CELL_OPS = {"lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"}


def _layer_batch(node: fx.Node, modules: dict) -> tuple[int, str] | None:
    """(the batch size a recurrent layer or cell reads, the layer as the note names it), from
    its input's sizes: dim 1 of a sequence-first layer's (T, B, F), dim 0 of a batch-first
    one's and of a cell's (B, F); None for any other node."""
    module = modules.get(node.target) if node.op == "call_module" else None
    sizes = _sizes(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
    if not sizes:
        return None
    if isinstance(module, nn.RNNBase) and len(sizes) == 3:
        name = f"nn.{type(module).__name__} ({str(node.target).removeprefix('model.')})"
        return (sizes[0] if module.batch_first else sizes[1]), name
    if isinstance(module, nn.RNNCellBase) and len(sizes) == 2:
        return sizes[0], f"nn.{type(module).__name__} ({str(node.target).removeprefix('model.')})"
    recorded = _recorded_layout(node, modules)
    if recorded is not None and len(sizes) == 3:
        return (sizes[1] if recorded[0] else sizes[0]), recorded[1]
    if node.op == "call_function" and getattr(node.target, "__name__", None) in _CELL_OPS and len(sizes) == 2:
        return sizes[0], f"a recurrent cell ({node.target.__name__})"
    return None


def _stepped_reader(start: fx.Node, modules: dict) -> str | None:
    """A recurrent layer or cell fed the input's steps one by one (``for t in range(T):
    ... x[t]``, the step joined to the hidden state and unsqueezed for a sequence-first
    GRU, or handed to a GRUCell): where every such layer the input reaches reads a batch of
    the input's dim-1 size and none of its dim-0 size, the batch is dim 1 and dim 0 the
    time the code steps over. None where T and B are one size (it cannot be told)."""
    lead = (_sizes(start) or ())[:2]
    if len(lead) < 2 or lead[0] == lead[1]:
        return None
    todo, seen, batches = [start], {start}, []
    while todo and len(seen) < 4000:
        node = todo.pop(0)
        for user in node.users:
            if user not in seen:
                seen.add(user)
                todo.append(user)
                read = _layer_batch(user, modules)
                if read is not None:
                    batches.append(read)
    if not batches or any(b != lead[1] for b, _name in batches):
        return None
    return batches[0][1]


class SequenceFirstData(Exception):
    """The batch is at dim 1 of an --input that data stand-ins were made from as if at dim 0:
    the target is loaded again with --batch-dim 1 (vaelint/analyze.py)."""


def sequence_first(specs: list, cap) -> tuple[list, str] | None:
    """(the specs with the batch at dim 1 where a sequence-first layer reads them, the
    report's note); None where no input reaches one as it came, or a batch dim is set."""
    if any(s.batch_dim for s in specs):
        return None
    found = sequence_first_inputs(cap.graph, cap.modules, len(specs))
    changed = with_sequence_first(specs, found)
    if changed is specs:
        return None
    first = changed[found[0].index]
    if found[0].stepped:
        return changed, (
            f"the batch is dim 1 of the input {first.text()} (B={first.batch}): the code steps over its dim 0 "
            f"({found[0].stepped} steps) and {found[0].reader} reads each step as a batch of {first.batch}; give "
            "--batch-dim 0 if the batch is dim 0"
        )
    return changed, (
        f"the batch is dim 1 of the input {first.text()} (B={first.batch}): it goes into {found[0].reader} as it came, "
        "and that layer reads (T, B, F) (batch_first=False); give --batch-dim 0 if the batch is dim 0"
    )


def with_sequence_first(specs: list, found: list[SequenceFirst]) -> list:
    """The specs with the batch at dim 1 in the inputs found, and in every other input of
    that layout (its dim 1 is that batch size and its dim 0 is not: the target sequence
    beside the source); per-sample lengths and labels keep theirs at dim 0."""
    if not found or any(f.index >= len(specs) for f in found):
        return specs
    batch = specs[found[0].index].shape[1]
    flagged = {f.index for f in found}
    out = []
    for i, spec in enumerate(specs):
        if i in flagged or (len(spec.shape) >= 2 and spec.shape[1] == batch and spec.shape[0] != batch):
            out.append(spec.with_batch_dim(1))
        else:
            out.append(spec)
    return out
