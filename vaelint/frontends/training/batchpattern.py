"""Where a training step's batch is unpacked: the names a loop's target or an assignment binds
from the data (``for i, (x, y) in enumerate(loader)``, ``x, _ = next(it)``), with the loop's
counters told apart from the batch (vaelint/frontends/training/livestep.py)."""

from __future__ import annotations

import ast
import copy


def batch_pattern(target: ast.expr, source: ast.expr, values: dict):
    """The part of a loop or assignment target that receives the batch: the target, less
    ``enumerate``'s index (``i, (x, y)``: the int the frame's ``i`` holds); a nested pattern
    (``(x, y), (u, _)`` over ``zip(a, b)``) takes the items of every zipped loader in order."""
    target = without_counters(target, source, values)
    pair = enumerated(target, source, values.get)
    if pair is not None and isinstance(pair[0], ast.Name):
        index = pair[0].id
        # the frame's index is an int, unless the batch's own pattern took the name over after it
        # (``for _, (x, _) in enumerate(loader)``: ``_`` ends up holding the labels)
        if isinstance(values.get(index), int) or index in leaf_names(pair[1]):
            target = pair[1]
    if isinstance(target, ast.Name):
        return target, [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return target, leaf_names(target)
    return None, []


def around_next(source: ast.stmt, taken: set):
    """(name, the statement reading it) for an assignment whose value computes with the batch
    ``next(...)`` gives (``x = next(batches)[0].float().view(-1, 784)``, ``x = prep(next(it))``):
    the batch is bound to a name of its own (``batch`` where the code has none) and the statement
    runs on it. None where the value is the batch itself (``x, y = next(it)``, ``.to(device)``
    after it)."""
    from vaelint.frontends.training.sites import next_source

    if next_source(source):
        return None
    call = next(
        (
            n
            for n in ast.walk(source.value)
            if isinstance(n, ast.Call) and (getattr(n.func, "id", None) == "next" or getattr(n.func, "attr", None) in ("next", "__next__"))
        ),
        None,
    )
    if call is None:
        return None
    name = "batch" if "batch" not in taken else "__vaelint_batch"

    class Swap(ast.NodeTransformer):
        def visit_Call(self, node):
            if (node.lineno, node.col_offset, node.end_col_offset) == (call.lineno, call.col_offset, call.end_col_offset):
                return ast.copy_location(ast.Name(name, ast.Load()), node)
            return self.generic_visit(node)

    return name, Swap().visit(copy.deepcopy(source))


def without_counters(target: ast.expr, source: ast.expr, values: dict) -> ast.expr:
    """``_, (x, y)`` over ``zip(pbar, loader)`` with ``pbar = tqdm(range(n))``: the target less
    what a counter zipped beside the data gives (a range, ``itertools.count()``, a progress bar
    over either), so that the batch is what the loaders give."""
    if not (
        isinstance(source, ast.Call)
        and isinstance(source.func, ast.Name)
        and source.func.id == "zip"
        and isinstance(target, (ast.Tuple, ast.List))
        and len(target.elts) == len(source.args)
    ):
        return target
    kept = [t for t, arg in zip(target.elts, source.args) if not _counter(arg, values)]
    if not kept or len(kept) == len(target.elts):
        return target
    return kept[0] if len(kept) == 1 else ast.Tuple(elts=kept, ctx=ast.Store())


def _counter(arg: ast.expr, values: dict) -> bool:
    """Does ``arg`` count (``range(n)``, ``count()``, ``tqdm(range(n))``, a name holding one)?"""
    import itertools

    if isinstance(arg, ast.Call):
        name = arg.func.attr if isinstance(arg.func, ast.Attribute) else getattr(arg.func, "id", "")
        if name in ("range", "count", "trange"):
            return True
        return bool(arg.args) and name == "tqdm" and _counter(arg.args[0], values)
    held = values.get(arg.id) if isinstance(arg, ast.Name) else None
    for _ in range(4):  # a progress bar or two around it (tqdm's .iterable)
        if isinstance(held, (range, itertools.count)):
            return True
        held = getattr(held, "iterable", None) if held is not None and not isinstance(held, (list, tuple, dict)) else None
    return False


def leaf_names(pattern) -> list[str]:
    if isinstance(pattern, (ast.Tuple, ast.List)):
        return [n for e in pattern.elts for n in leaf_names(e)]
    if isinstance(pattern, ast.Starred):
        return leaf_names(pattern.value)
    return [pattern.id] if isinstance(pattern, ast.Name) else []


def enumerated(target: ast.expr, source: ast.expr, lookup=None):
    """``i, batch`` over ``enumerate(...)``, ``tqdm(enumerate(...))``, or a variable that holds
    one (``pbar = tqdm(enumerate(loader))``; ``lookup(name)``: its value in the running frame):
    (index, the rest), else None."""
    if not (isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == 2):
        return None
    if "enumerate" in ast.dump(source):
        return target.elts[0], target.elts[1]
    held = lookup(source.id) if lookup is not None and isinstance(source, ast.Name) else None
    for _ in range(4):  # the enumerate a progress bar or two wraps (tqdm's .iterable)
        if isinstance(held, enumerate):
            return target.elts[0], target.elts[1]
        held = getattr(held, "iterable", None) if held is not None and not isinstance(held, (list, tuple, dict)) else None
    return None
