"""Which names count a training step's progress, and which names a caller calls the step's
function by (:mod:`.schedules`, :mod:`.handedschedules`): a sweep's loop variable counts nothing, a
counter handed on as it is stays one, a function imported under another name is still it."""

from __future__ import annotations

import ast

from vaelint.source.astutil import target_names


def a_sweep(it: ast.expr, root: ast.AST) -> bool:
    """A loop over values written out (``for beta in [0.1, 1, 4]``, ``BETAS = [...]``, a NumPy grid): a sweep of
    runs, each at one value, whose variable counts no steps."""
    literal = (ast.List, ast.Tuple, ast.Set)
    if isinstance(it, literal) or _a_grid(it):
        return True
    return isinstance(it, ast.Name) and any(
        isinstance(n, ast.Assign) and isinstance(n.value, literal) and it.id in set().union(*(target_names(t) for t in n.targets))
        for n in ast.walk(root)
    )


def bare_counter(arg: ast.expr, counting: set) -> bool:
    """The counter handed as it is, or shifted by a number (``epoch``, ``epoch + 1``)."""
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, (ast.Add, ast.Sub)) and isinstance(arg.right, ast.Constant):
        arg = arg.left
    return isinstance(arg, ast.Name) and arg.id in counting


def module_of(scope) -> ast.AST:
    while scope.parent is not None:
        scope = scope.parent
    return scope.node


def names_of(scope, name: str) -> set[str]:
    """The names the caller's module calls a function by: its own, and those it is imported or
    assigned as (``from pkg.training import train_epoch as train``, ``train = train_epoch``)."""
    out = {name}
    for node in ast.walk(module_of(scope)):
        if isinstance(node, ast.ImportFrom):
            out |= {a.asname for a in node.names if a.name == name and a.asname}
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id == name:
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return out


def _a_grid(it: ast.expr) -> bool:
    """A grid of values NumPy lays out (``np.arange(1, 20, 1)``, ``np.linspace``, ``np.logspace``): a
    sweep's values, where a training loop counts with ``range``."""
    func = getattr(it, "func", None)
    return (
        isinstance(func, ast.Attribute)
        and func.attr in ("arange", "linspace", "logspace", "geomspace")
        and isinstance(func.value, ast.Name)
        and func.value.id in ("np", "numpy")
    )


def a_weight(stmt: ast.AugAssign, guarded: set) -> bool:
    """An increment that moves a weight, not a count of steps: by a fraction (``beta += 0.001``,
    ``beta += 1 / warmup``) or only while the name itself is below a bound (``if beta < 1: beta +=
    inc``): a KL warm-up written after the step, read as one (:mod:`.accumulating`)."""
    step = stmt.value
    if isinstance(step, ast.Constant) and isinstance(step.value, float):
        return True
    if isinstance(step, ast.BinOp) and isinstance(step.op, ast.Div):
        return True
    return bool(target_names(stmt.target) & guarded)


def guarded_names(body: list) -> dict:
    """``{id(increment): names its guard reads}`` for each ``+=`` under an ``if`` whose test compares
    the incremented name itself (``if beta < 1: beta += 0.001``)."""
    out: dict = {}
    for node in (n for stmt in body for n in ast.walk(stmt)):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            read = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
            for inner in node.body:
                if isinstance(inner, ast.AugAssign):
                    out[id(inner)] = read & target_names(inner.target)
    return out
