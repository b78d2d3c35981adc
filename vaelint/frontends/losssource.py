"""What a candidate loss's source says about it, read without running it: whether the model's file
names it (a star import's ``loss_function`` of another model is not the file's), whether it only
adds up terms computed elsewhere (``losses["rec"] + beta * losses["kl"]``), and whether the
forward returns the keys it reads."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaelint.frontends.base import Program


def named_by_the_file(loaded: Program, name: str, obj) -> bool:
    """Is the module-level ``name`` the file's own: defined there, or imported or used by that name
    in its code? A ``loss_function`` that only ``from losses import *`` brings in, of another model
    and called nowhere in the file, is no loss of this one (the forward's own loss comes first)."""
    import ast

    if getattr(obj, "__module__", None) == getattr(loaded.module, "__name__", None):
        return True
    try:
        from vaelint.source.files import read_source

        tree = ast.parse(read_source(loaded.path))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name:
            return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


def combines_terms(fn) -> str | None:
    """``def loss(self, losses): return losses["rec"] + self.beta * losses["kl"]``: one parameter,
    read only by its string keys. What it reads (``losses['rec']``), or None."""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        params = [p for p in inspect.signature(fn).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (OSError, TypeError, ValueError, SyntaxError):
        return None
    if len(params) != 1:
        return None
    name = params[0].name
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]
    keyed = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Subscript)
        and isinstance(n.value, ast.Name)
        and n.value.id == name
        and isinstance(n.slice, ast.Constant)
        and isinstance(n.slice.value, str)
    ]
    return ast.unparse(keyed[0]) if uses and len(keyed) == len(uses) else None


def keys_the_forward_returns(cls, fn) -> bool:
    """Does the model's forward return a dict literal holding every key the one-parameter loss
    reads (``return {"recon": ..., "mu": ...}`` beside ``loss_function(self, out)`` reading
    ``out["recon"]``)? Then the loss takes the forward's own output, not terms computed elsewhere:
    a package's model-agnostic Trainer calls ``model.loss_function(model(x))`` (helper A2)."""
    import ast
    import textwrap

    try:
        loss_tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        forward_tree = ast.parse(textwrap.dedent(inspect.getsource(cls.forward)))
    except (OSError, TypeError, ValueError, SyntaxError):
        return False
    read = {n.slice.value for n in ast.walk(loss_tree) if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant)}
    for node in ast.walk(forward_tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            keys = {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
            if read and read <= keys:
                return True
    return False
