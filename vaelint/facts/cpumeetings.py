"""Where a tensor made on the CPU (or moved there) inside forward or the loss first meets the
training device's tensors in the graph: VAE012's candidates, which the simulated GPU then
confirms or clears (vaelint/confirm/simdevice.py); and when a graph candidate and a simulated
meeting are the same bug."""

from __future__ import annotations

import re

from vaelint.capture.ops import ARITH_OPS, CREATION_OPS
from vaelint.facts.context import loc_of

_PASS_THROUGH = {
    "view",
    "reshape",
    "flatten",
    "squeeze",
    "unsqueeze",
    "expand",
    "expand_as",
    "permute",
    "transpose",
    "contiguous",
    "float",
    "double",
    "half",
    "normal_",
    "uniform_",
    "getitem",
    "neg",
    "clone",
    "detach",
    "repeat",
    "t",
}
# ops that move a tensor to where it belongs
_MOVES = {"to", "cuda", "type_as", "to_device"}
# ops that combine tensors and need them on one device
_MEETS = ARITH_OPS | {
    # with an index or values from elsewhere, in place or not (a one-hot made by zeros(...).scatter_(1, y, 1),
    # a graph's degrees by zeros(n).index_add_(0, dst, ones)): op names are plain, ``index_add_`` is "index_add"
    "scatter",
    "scatter_add",
    "scatter_reduce",
    "index_add",
    "index_copy",
    "index_fill",
    "index_put",
    "setitem",  # out[idx, labels] = 1: an index on the GPU into a CPU tensor
    "masked_fill",
    "masked_scatter",
    "matmul",
    "linear",
    "cat",
    "stack",
    "addcmul",
    "where",
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "l1_loss",
    "bmm",
    "mm",
    "conv2d",
    "conv1d",
    "gru",
    "lstm",
    "rnn",
    "rnn_tanh",
    "embedding",
}


def creates_on_cpu(ctx, node, op) -> bool:
    """Does the op make a tensor on the CPU (no device=, not from tensors it follows), or move one there?"""
    if op == "cpu":
        return True
    if op not in CREATION_OPS or op.endswith("_like") or op in {"normal_", "uniform_", "exponential_", "random_", "bernoulli_"}:
        return False
    if node.kwargs.get("device") is not None:
        return False
    if any(isinstance(a, type(node)) for a in node.all_input_nodes) and op in {"tensor", "as_tensor", "normal"}:
        return False  # built from tensors: inherits their device
    fact = ctx.shape(node)
    return fact is not None and fact.sizes is not None and len(fact.sizes) > 0


def first_meeting(ctx, node):
    """The first op where this tensor, unmoved, meets a tensor from the input or the weights."""
    view = ctx.view
    frontier, seen = [node], set()
    while frontier:
        n = frontier.pop(0)
        for user in n.users:
            if user in seen:
                continue
            seen.add(user)
            op = view.op(user)
            if op in _MOVES:
                continue
            if op in _MEETS:
                others = [a for a in user.all_input_nodes if a is not n and not view.depends_on(a, node)]
                if any(on_device(ctx, a) for a in others):
                    return user
                module = ctx.module_of(user) if user.op == "call_module" else None
                if module is not None and any(True for _ in module.parameters()):
                    return user  # a layer whose weights live on the device
            if op == "getitem" and user.args and user.args[0] is not n:
                continue  # a CPU index into a tensor: allowed, the result stays on its device
            if op in _PASS_THROUGH or op in _MEETS:
                frontier.append(user)
    return None


def on_device(ctx, node) -> bool:
    """Computed from the inputs or the weights (which live on the training device)."""
    return any(a.op == "placeholder" or a.op == "call_module" or ctx.is_model_state(a) for a in ctx.view.ancestors(node))


def is_mismatch(error: str) -> bool:
    """The simulated run's own error is the mismatch ("Expected all tensors to be on the same device")."""
    return bool(re.search(r"same device|different devices|device mismatch", error, re.I))


def meets_there(finding, meeting) -> bool:
    """Does a graph finding's meeting op (its node) run at the simulated meeting's line?"""
    at, loc = loc_of(finding.node), meeting.loc
    return at is not None and loc is not None and (at.path, at.line) == (loc.path, loc.line)


def same_place(finding, meeting) -> bool:
    """A graph finding (at the line that made the tensor; its node, the meeting op)
    and a simulated meeting are the same bug."""
    made, at = meeting.made, finding.loc
    return at is not None and ((made is not None and (made.path, made.line) == (at.path, at.line)) or meets_there(finding, meeting))
