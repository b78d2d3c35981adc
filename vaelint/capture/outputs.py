"""A forward's (or a loss's) result as leaves with paths: tuple, list, dict,
dataclass; ``out[1]``, ``out['mu']``, ``out.mu`` as the report writes them."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch


def flatten_outputs(out: Any, prefix: tuple = (), distributions: bool = False) -> list[tuple[tuple, Any]]:
    """Leaves of a forward's result with their paths: tuple, list, dict, dataclass.

    ``distributions``: a ``torch.distributions`` object is opened into the tensors
    it was built from (``out[0].loc``, ``out[0].scale``): a forward that returns
    ``Normal(self.dec(z), 1)`` and ``q_z`` has its reconstruction and its encoder's
    heads there. Off, the object is one leaf, as a loss that takes it receives it."""
    if isinstance(out, (tuple, list)) and not isinstance(out, torch.Size):
        items = []
        for i, v in enumerate(out):
            items += flatten_outputs(v, prefix + (i,), distributions)
        return items
    if isinstance(out, dict):
        items = []
        for k, v in out.items():
            items += flatten_outputs(v, prefix + (k,), distributions)
        return items
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        items = []
        for f in dataclasses.fields(out):
            items += flatten_outputs(getattr(out, f.name), prefix + (f".{f.name}",), distributions)
        return items
    if distributions and isinstance(out, torch.distributions.Distribution):
        return [(prefix + (f".{name}",), value) for name, value in distribution_parameters(out)]
    return [(prefix, out)]


def distribution_parameters(dist) -> list[tuple[str, Any]]:
    """The tensors a distribution was built from, by attribute: its parameters as
    given (``loc``, ``scale``; ``logits`` or ``probs``, whichever it was built
    with: the other is computed only when read), through ``Independent`` and
    transformed distributions to the one they wrap (``base_dist.loc``)."""
    found = []
    try:
        names = list(dist.arg_constraints)
    except (AttributeError, NotImplementedError, TypeError):  # a user's subclass that leaves it out
        names = []
    for name in names:
        value = vars(dist).get(name)  # a lazy parameter not yet read is not computed here
        if isinstance(value, torch.Tensor):
            found.append((name, value))
    base = getattr(dist, "base_dist", None)
    if isinstance(base, torch.distributions.Distribution):
        found += [(f"base_dist.{name}", value) for name, value in distribution_parameters(base)]
    return found


def distribution_owner(out: Any, path: tuple) -> tuple:
    """The path cut at the distribution it reaches into, if any (``(0, '.loc')`` ->
    ``(0,)``): what a loss that takes the forward's outputs receives."""
    for i in range(len(path)):
        try:
            value = get_path(out, path[:i])
        except (KeyError, IndexError, AttributeError, TypeError):
            return path
        if isinstance(value, torch.distributions.Distribution):
            return path[:i]
    return path


def get_path(out: Any, path: tuple) -> Any:
    for key in path:
        if isinstance(key, str) and key.startswith(".") and not isinstance(out, dict):
            for name in key[1:].split("."):  # ".base_dist.loc": through a wrapped distribution
                out = getattr(out, name)
        else:
            out = out[key]
    return out


def path_text(path: tuple, root: str = "out") -> str:
    text = root
    for key in path:
        if isinstance(key, str) and key.startswith("."):
            text += key
        else:
            text += f"[{key!r}]"
    return text


# --------------------------------------------------------------------------- the analysed module


def reduced_to_a_number(value) -> bool:
    """A number or a 0-dim tensor (a loss term). Of an fx Proxy, read from its node (a method
    called on it would be traced into the graph): a whole reduction, or one scaled by a number."""
    import torch

    if isinstance(value, (int, float)) or (isinstance(value, torch.Tensor) and value.dim() == 0):
        return True
    node = getattr(value, "node", None)
    for _ in range(8):  # (rec.sum() / x.size(0)) * 0.5: down through the scaling
        if node is None or not hasattr(node, "target"):
            return False
        name = getattr(node.target, "__name__", str(node.target))
        if name in ("sum", "mean"):
            return "dim" not in node.kwargs and len(node.args) <= 1
        if name in _LOSSES:
            return node.kwargs.get("reduction") != "none"
        if name not in ("truediv", "mul", "neg", "add", "sub", "div") or not node.args:
            return False
        node = next((a for a in node.args if hasattr(a, "target")), None)
    return False


# loss functions, one number unless told reduction="none"
_LOSSES = {"binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "l1_loss", "cross_entropy", "nll_loss"}
