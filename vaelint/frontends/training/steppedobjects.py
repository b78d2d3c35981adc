"""Weights the loop advances, read at later steps on an advanced copy (the check runs the
first step, where such a weight is often almost 0): ``next(beta)`` of an iterator the setup
made (a warm-up object), and a KL weight kept in a small object the loop advances, ``beta =
annealer()`` (or ``annealer.value()``, ``annealer.beta``) in the step with ``annealer.step()``
later in the same loop (shota3506/sentence-VAE's KLAnnealer). The user's object is never
advanced. Only objects of plain values qualify (numbers, strings, lists of them): nothing that
holds a tensor, a module or an optimiser is copied or advanced."""

from __future__ import annotations

import ast
import copy
import math

from vaelint.frontends.base import Schedule
from vaelint.frontends.training.scheduleblocks import _evaluate
from vaelint.frontends.training.schedules import _step_namespace, still
from vaelint.source.astutil import loads, source_segment, walk_statements, writes_of
from vaelint.source.frames import SourceLoc

_PLAIN = (int, float, bool, str, type(None))


def stepped_object_schedules(
    fn, region: list[ast.stmt], loop_body: list[ast.stmt], path: str, text: str, sandbox, frame_values: dict | None = None
) -> list[Schedule]:
    advances = _advances(loop_body)
    if not advances:
        return []
    namespace = _step_namespace(fn, frame_values)
    out = []
    for stmt in walk_statements(region):
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        objects = loads(stmt.value) & set(advances)
        if len(objects) != 1:
            continue
        (name,) = objects
        values = _read_advancing(stmt.value, name, advances[name], namespace, path, sandbox)
        if still(values):
            continue
        loc = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
        out.append(Schedule(stmt.targets[0].id, source_segment(text, stmt.value, 90), loc, "step", values[0][1], values))
    return out


def _advances(loop_body: list[ast.stmt]) -> dict[str, str]:
    """``NAME.method()`` statements of the loop (no arguments): NAME -> method."""
    out: dict[str, str] = {}
    for stmt in walk_statements(loop_body):
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and not call.args
            and not call.keywords
        ):
            out.setdefault(call.func.value.id, call.func.attr)
    return out


def _plain_object(value) -> bool:
    """An object of plain values only (no tensor, module, optimiser or data inside it)."""
    if isinstance(value, _PLAIN) or not hasattr(value, "__dict__") or isinstance(value, type):
        return False
    if type(value).__module__.split(".")[0] in ("torch", "numpy", "builtins"):
        return False
    for item in vars(value).values():
        items = item if isinstance(item, (list, tuple)) else [item]
        if not all(isinstance(i, _PLAIN) for i in items):
            return False
    return True


def _read_advancing(expr: ast.expr, name: str, method: str, namespace: dict, path: str, sandbox) -> list:
    """(steps advanced, the weight) on a copy of the object, at the first step and later on."""
    value = namespace.get(name)
    if not _plain_object(value) or not callable(getattr(value, method, None)):
        return []
    values, taken = [], 0
    try:
        with sandbox.active():
            twin = copy.deepcopy(value)
        for at in (0, *ITERATOR_LATER):
            with sandbox.active():
                while taken < at:
                    getattr(twin, method)()
                    taken += 1
            got = _evaluate(expr, {**namespace, name: twin}, {}, path, sandbox)
            if got is None:
                break
            values.append((at, got))
    except Exception:  # noqa: BLE001 - the object cannot be copied or advanced that far: what was read stands
        pass
    return values


# steps at which an iterator weight is read: advancing a copy that far is cheap
ITERATOR_LATER = (10, 100, 1_000, 2_500, 5_000, 10_000, 100_000)


def stepped_iterators(fn, region: list[ast.stmt], sandbox) -> dict:
    """``next(beta)`` in the step, with ``beta`` an object of the setup that yields
    numbers (``beta = DeterministicWarmup(n=50)``, ``itertools.repeat(4.0)``): name ->
    a copy as the setup left it. Each of the check's runs is the first step, so each
    gets a fresh copy; the user's object is never advanced. Data iterators, generators
    and anything that cannot be copied are left out (a copy of a loader's iterator
    would read data)."""
    import copy
    import itertools

    assigned = set().union(*(writes_of(stmt) for stmt in walk_statements(region)))
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    out = {}
    for name in sorted(set(_next_calls(region)) - assigned):
        try:
            value = cells[name].cell_contents if name in cells else fn.__globals__[name]
        except (KeyError, ValueError):
            continue
        kind = type(value)
        if not hasattr(kind, "__next__") or kind.__module__.split(".")[0] == "torch" or isinstance(value, itertools.cycle):
            continue
        try:
            with sandbox.active():
                pristine = copy.deepcopy(value)
                first = next(copy.deepcopy(pristine))
        except Exception:  # noqa: BLE001 - a generator, a file, an exhausted iterator: not a weight
            continue
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            out[name] = pristine
    return out


def iterator_schedules(iterators: dict, region: list[ast.stmt], path: str, sandbox) -> list[Schedule]:
    """An iterator weight read at later steps: a copy advanced that many times (a
    warm-up object's 0.02 at the first step, 1 from step 50)."""
    import copy

    out = []
    calls = _next_calls(region)
    for name, pristine in iterators.items():
        call = calls[name]
        values, taken = [], 0
        try:
            with sandbox.active():
                it = copy.deepcopy(pristine)
                for at in (0, *ITERATOR_LATER):
                    while taken < at:
                        next(it)
                        taken += 1
                    value = next(it)
                    taken += 1
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                        break
                    values.append((at, float(value)))
        except Exception:  # noqa: BLE001 - it ends (StopIteration) or fails later on: what was read stands
            pass
        if still(values):
            continue
        loc = SourceLoc(path, call.lineno, call.col_offset + 1)
        out.append(Schedule(name, f"next({name})", loc, "step", values[0][1], values))
    return out


def _next_calls(region: list[ast.stmt]) -> dict[str, ast.Call]:
    """``next(NAME)`` in the step, by NAME (its first call)."""
    out: dict[str, ast.Call] = {}
    for stmt in region:
        for node in ast.walk(stmt):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "next"
                and len(node.args) == 1
                and isinstance(node.args[0], ast.Name)
            ):
                out.setdefault(node.args[0].id, node)
    return out
