"""The repository's functions that change an object they are handed, ``set_kl_weight(model, step)``
whose body writes ``model.kl_weight = ...`` (a schedule that sets the KL's weight on the model before
each step): a slice that needs the object keeps such a call (:class:`.slicer.Slicer`), or the step ran
with the weight the constructor gave, not the one the code trains with."""

from __future__ import annotations

import ast

from vaelint.source.astutil import mutated_names

# what a function that also does these is not kept for: it trains, saves or steps
_NOT_KEPT = frozenset({"backward", "step", "save", "save_state_dict", "savefig", "write", "zero_grad"})


def mutating_functions(files) -> dict[str, frozenset[int]]:
    """Function name -> the positions of its parameters whose attributes its body assigns, for the
    repository's plain functions (not methods) that call nothing that trains or saves."""
    out: dict[str, frozenset[int]] = {}
    for file in files:
        for scope in file.scopes.values():
            node = scope.node
            if scope.is_module or scope.cls is not None or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            params = [a.arg for a in node.args.posonlyargs + node.args.args]
            written = _attributes_written(node)
            positions = frozenset(i for i, p in enumerate(params) if p in written)
            if positions and not _does_what_is_not_kept(node):
                out.setdefault(node.name, positions)
    return out


def _attributes_written(node: ast.AST) -> set[str]:
    """The names whose attributes the function assigns: ``model.beta = b``, ``model.beta += d``,
    ``setattr(model, "beta", b)``."""
    names = set()
    for n in ast.walk(node):
        targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, (ast.AugAssign, ast.AnnAssign)) else []
        for t in targets:
            names |= mutated_names(t)
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id == "setattr"
            and n.args
            and isinstance(n.args[0], ast.Name)
        ):
            names.add(n.args[0].id)
    return names


def _does_what_is_not_kept(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _NOT_KEPT for n in ast.walk(node))
