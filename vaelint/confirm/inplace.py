"""Where a backward that fails on a tensor changed in place comes from, in the user's code.

``emb = torch.zeros(B, U, Z)`` filled step by step (``emb[:, u] = h``) and read back in the same
loop (``fc(emb[:, u])``): the read saves a view of the buffer for the backward, the next step's
write changes it, and ``loss.backward()`` raises torch's "modified by an inplace operation" with
no line of the code (MusicVAE's conductor, VRNN-style decoders). ``python train.py`` stops there
too: it is the code's failure, said at the write and the read it undoes, with the fix."""

from __future__ import annotations

import re

import torch.fx as fx

from vaelint.capture.ops import CAST_OPS, RESHAPE_OPS, op_name
from vaelint.facts.graphview import value_inputs

# ops whose result is (a view of) their first input's storage: a write into it writes the buffer
_VIEWS = (RESHAPE_OPS | {"getitem", "written", "select", "narrow", "unbind", "chunk", "split", "as_strided", "detach"}) - {"contiguous"}
_SAVED_SHAPE = re.compile(r"\[torch\.\w+ \[([\d, ]*)\]\]")


def _writes(node: fx.Node) -> bool:
    name = node.target if node.op == "call_method" and isinstance(node.target, str) else op_name(node)  # add_, not add
    return name in ("setitem", "__setitem__") or (node.op == "call_method" and name.endswith("_") and not name.endswith("__"))


def _base(node, depth: int = 0):
    """The tensor whose storage ``node`` is a view of (itself where it is no view)."""
    while depth < 64 and isinstance(node, fx.Node) and op_name(node) in _VIEWS and node.args and isinstance(node.args[0], fx.Node):
        node, depth = node.args[0], depth + 1
    return node


def inplace_culprit(graph: fx.Graph, error: BaseException | str | None, tensors: dict | None = None):
    """(the write, the earlier read it changed) behind a backward's "modified by an inplace
    operation", or None: the first write into a buffer after an op read a view of that buffer, the
    read's shape the one torch names where that tells the pairs apart."""
    text = str(error or "")
    if "modified by an inplace operation" not in text:
        return None
    found = _SAVED_SHAPE.search(text)
    shape = tuple(int(s) for s in found.group(1).split(",") if s.strip()) if found else None
    reads: dict = {}  # base -> [(reader, the view it read)]
    pairs = []
    for node in graph.nodes:
        if node.op not in ("call_function", "call_method", "call_module"):
            continue
        if _writes(node) and node.args and isinstance(node.args[0], fx.Node):
            pairs += [(node, reader, seen) for reader, seen in reads.get(_base(node.args[0]), ())]
            continue
        if op_name(node) in _VIEWS | CAST_OPS:
            continue
        for read in value_inputs(node):
            reads.setdefault(_base(read), []).append((node, read))
    if not pairs:
        return None

    def shaped(pair) -> bool:
        value = (tensors or {}).get(pair[2])
        return shape is not None and value is not None and tuple(getattr(value, "shape", ())) == shape

    best = next((p for p in pairs if shaped(p)), pairs[0])
    return best[0], best[1]


def inplace_text(graph: fx.Graph, error, tensors: dict | None, modules: dict | None = None) -> str:
    """The backward's in-place failure said at the user's lines, with what to write; "" where no
    write and read of one buffer explain it."""
    from vaelint.facts.context import loc_of

    pair = inplace_culprit(graph, error, tensors)
    if pair is None:
        return ""
    write, read = pair
    w, r = loc_of(write), loc_of(read)
    if w is None:
        return ""
    fix = (
        "Collect each step's value in a list and torch.stack them after the loop, or write into a copy "
        "(buf = buf.clone() before the write)."
        if op_name(write) in ("setitem", "__setitem__")
        else f"Write it out of place: h = h.{str(write.target)[:-1]}(...) where h.{write.target}(...) is."
    )
    wrote = "a slice assignment" if op_name(write) in ("setitem", "__setitem__") else f"`{write.target}`"
    at_read = f" at {r.where()}" if r is not None and (r.path, r.line) != (w.path, w.line) else ""
    return (
        f"the backward fails: {wrote} at {w.where()} writes in place into a tensor that `{op_name(read, modules)}`{at_read} "
        f"read earlier, and autograd saved that read for the backward; the write changed it (a training run stops at its backward with the same error). "
        f"{fix} torch said: {str(error).split(' Hint:')[0]}"
    )
