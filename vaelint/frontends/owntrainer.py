"""Is a ``Trainer`` the code builds the repository's own class (an sklearn-style trainer with a
``fit(data)`` of its own), not Lightning's? Then ``trainer.fit(x)`` is plain training code that
the training front end runs, not a Lightning fit."""

from __future__ import annotations

import ast
import os


def own_trainer(file, made_by: str) -> bool:
    """``made_by``: the call that builds it (``Trainer``, ``lab.Trainer``). Own where the file
    defines the class, or imports it from a module of the repository beside it, and neither the
    file nor that module mentions Lightning."""
    if "lightning" in file.text.lower():
        return False
    name = made_by.split(".")[0]
    for node in ast.walk(file.tree):
        if isinstance(node, ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            module = _local_module(file.path, node)
            return module is not None and "lightning" not in _text(module).lower()
        if isinstance(node, ast.Import) and any((a.asname or a.name).split(".")[0] == name for a in node.names):
            return False
    return False


def _local_module(path: str, node: ast.ImportFrom) -> str | None:
    """The file or package folder of the repository that ``from X import ...`` names, if any."""
    base = os.path.dirname(path)
    for _ in range(max(node.level - 1, 0)):
        base = os.path.dirname(base)
    roots = [base] if node.level else [base, os.getcwd()]
    parts = (node.module or "").split(".") if node.module else []
    for root in roots:
        where = os.path.join(root, *parts)
        for found in (where + ".py", os.path.join(where, "__init__.py")):
            if parts and os.path.isfile(found):
                return found if found.endswith(".py") and not found.endswith("__init__.py") else os.path.dirname(found)
    return None


def _text(module: str) -> str:
    """The module's text; a package folder's modules, all of them."""
    files = [module] if module.endswith(".py") else [os.path.join(d, f) for d, _s, fs in os.walk(module) for f in fs if f.endswith(".py")]
    out = []
    for f in files[:50]:
        try:
            with open(f, encoding="utf-8", errors="replace") as fh:
                out.append(fh.read())
        except OSError:
            continue
    return "\n".join(out)
