"""A user's function as the schedule readers evaluate its expressions: the names they are read
among (its globals, closure, defaults and own constants), its assignments to one name, and its
``def`` node in its file (:mod:`.calleeschedules`, :mod:`.toldschedules`)."""

from __future__ import annotations

import ast
import inspect
import os
import types

from vaelint.source.astutil import walk_statements
from vaelint.source.facts import def_node


def _space(fn: types.FunctionType, node) -> dict:
    """The names a function's expressions are evaluated among: its globals, its closure's (a loss
    function nested in main reads main's anneal, x0), its parameters' defaults (warmup=10 in
    min(1.0, step / warmup)) and its own constants (target_beta = 0.7 above the warm-up)."""
    try:
        space = {**fn.__globals__, **inspect.getclosurevars(fn).nonlocals}
    except (TypeError, ValueError):  # a function whose closure cannot be read: its globals
        space = fn.__globals__
    space = {**space, **{p.name: p.default for p in inspect.signature(fn).parameters.values() if p.default is not p.empty}}
    return {**space, **_constants(node)}


def _assigned(node) -> list:
    """(name, value, statement) of the function's assignments to one name (``beta = kl_annealing(epoch)``)."""
    return [
        (inner.targets[0].id, inner.value, inner)
        for inner in walk_statements(node.body)
        if isinstance(inner, ast.Assign) and len(inner.targets) == 1 and isinstance(inner.targets[0], ast.Name)
    ]


def _constants(node) -> dict:
    """The function's own names set to a literal in its body's top level (``target_beta = 0.7``)."""
    out = {}
    for stmt in getattr(node, "body", []):
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            try:
                out[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
    return out


def _definition(fn: types.FunctionType):
    """(the function's ``def`` node, its file, the file's text), or None."""
    from vaelint.frontends.training.sites import parse_file

    path = os.path.realpath(fn.__code__.co_filename)
    file = parse_file(path)
    if file is None:
        return None
    node = def_node(file.tree, fn.__code__)
    return (node, path, file.text) if node is not None else None
