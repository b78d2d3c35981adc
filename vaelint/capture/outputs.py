"""A forward's (or a loss's) result as leaves with paths: tuple, list, dict,
dataclass; ``out[1]``, ``out['mu']``, ``out.mu`` as the report writes them."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch


def flatten_outputs(out: Any, prefix: tuple = ()) -> list[tuple[tuple, Any]]:
    """Leaves of a forward's result with their paths: tuple, list, dict, dataclass."""
    if isinstance(out, (tuple, list)) and not isinstance(out, torch.Size):
        items = []
        for i, v in enumerate(out):
            items += flatten_outputs(v, prefix + (i,))
        return items
    if isinstance(out, dict):
        items = []
        for k, v in out.items():
            items += flatten_outputs(v, prefix + (k,))
        return items
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        items = []
        for f in dataclasses.fields(out):
            items += flatten_outputs(getattr(out, f.name), prefix + (f".{f.name}",))
        return items
    return [(prefix, out)]


def get_path(out: Any, path: tuple) -> Any:
    for key in path:
        if isinstance(key, str) and key.startswith(".") and not isinstance(out, dict):
            out = getattr(out, key[1:])
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
