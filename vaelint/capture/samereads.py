"""Two reads of the same part of one tensor are one value.

Code often takes a slice of a head twice: ``std = exp(0.5 * logvar[:, :k])`` for the sampler and
``logvar[:, :k]`` again for the loss. Captured as written, the two slices are two nodes, and a
rule asking whether the KL reads the sampler's log-variance finds that it reads another node
(VAE007: "not the Gaussian KL of the sampler's mean and std", on a right KL). Merged here, once,
every rule sees one value.

Only reads are merged: indexing (``x[:, :k]``, ``narrow``, ``chunk``, ...) of the same node with
equal arguments, and only where nothing writes into that node or into
what it reads in place (``x[:, :k].mul_(2)`` makes the second read another value). Random draws
and everything else stay as written.
"""

from __future__ import annotations

import operator

import torch
import torch.fx as fx

from vaelint.capture.ops import op_name

# indexing ops: the same arguments read the same part. Views and reshapes (x.view(-1, 392) in the
# forward and again in the loss) stay apart: each is a line a finding (VAE006) may have to name
_READS = frozenset({"getitem", "narrow", "select", "chunk", "split", "unbind"})


def merge_same_reads(graph: fx.Graph) -> int:
    """Merge each read into the first equal one before it; returns how many were merged."""
    seen: dict = {}
    merged = 0
    for node in list(graph.nodes):
        name = _read_name(node)
        if name is None or not node.args or not isinstance(node.args[0], fx.Node):
            continue
        try:
            key = (name, _key(node.args), _key(node.kwargs))
        except TypeError:
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = node
            continue
        if _written(first) or _written(node) or _written(node.args[0]):
            continue
        node.replace_all_uses_with(first)
        graph.erase_node(node)
        merged += 1
    return merged


def _read_name(node: fx.Node) -> str | None:
    """The read op ``node`` is (``getitem``, ``narrow``, ...), or None: a method, or one of
    torch's or Python's indexing functions (never a function of the user's of the same name)."""
    if node.op == "call_function" and node.target is not operator.getitem and not _is_torch(node.target):
        return None
    name = op_name(node) if node.op in ("call_method", "call_function") else None
    return name if name in _READS else None


def _is_torch(target) -> bool:
    return getattr(torch, getattr(target, "__name__", ""), None) is target or (
        getattr(torch.Tensor, getattr(target, "__name__", ""), None) is target
    )


def _written(node: fx.Node) -> bool:
    """Is ``node`` written into in place (``x.add_(1)``, ``x[i] = v``, ``out=x``)?"""
    for user in node.users:
        target = user.target
        name = target if isinstance(target, str) else getattr(target, "__name__", "")
        if (
            user.op in ("call_method", "call_function")
            and name.endswith("_")
            and not name.startswith("__")
            and (user.args and user.args[0] is node)
        ):
            return True
        if target is operator.setitem or name in ("__setitem__", "setitem"):
            return True
        if user.kwargs.get("out") is node:
            return True
    return False


def _key(value):
    """A hashable stand-in for an argument: nodes by identity, slices and numbers by value."""
    if isinstance(value, fx.Node):
        return ("node", id(value))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _key(v)) for k, v in value.items())))
    if isinstance(value, slice):
        return ("slice", _key(value.start), _key(value.stop), _key(value.step))
    if value is None or value is Ellipsis or isinstance(value, (bool, int, float, str, torch.dtype, torch.device)):
        return (type(value).__name__, value)
    raise TypeError(f"not compared: {type(value).__name__}")
