"""KL weights each training step moves from their own last value, not from a counter:
``args.beta = min(1, args.beta + 1. / (args.warmup * len(train_data)))`` (the counter schedules
are :mod:`.schedules`)."""

from __future__ import annotations

import ast
import math

from vaelint.frontends.base import Schedule
from vaelint.frontends.training.scheduleblocks import _evaluate
from vaelint.frontends.training.schedules import LATER, _step_namespace, still
from vaelint.source.astutil import dotted, source_segment, sub_blocks
from vaelint.source.files import compile_user_code
from vaelint.source.frames import SourceLoc

_ACC = "__vaelint_previous"  # the weight's last value, in an accumulating update read again


def accumulating_schedules(
    fn, region: list[ast.stmt], path: str, text: str, sandbox, frame_values: dict | None = None, later: list = ()
) -> list[Schedule]:
    """Weights each step moves from their own last value: ``args.beta = min(1, args.beta + 1. /
    (args.warmup * len(train_data)))``, ``kl_w = min(kl_w + 1e-4, 1.0)``, ``if beta < 1: beta +=
    0.001``: no counter is read, the variable is. Read by repeating the update from the value the
    step saw (each of the check's runs of the step moved it once, so the start is taken from the KL
    factor itself: :meth:`Schedule.from_value`). ``later``: the statements of the loops around the
    step that run after its backward, each with what counts its runs ("step", "epoch"), where a
    warm-up is often written (the check stops at the backward, so they never run)."""
    namespace = _step_namespace(fn, frame_values)
    steps = [(s, "step") for s in _updating(region)] + [(s, per) for top, per in later for s in _updating([top])]
    out = _schedules(steps, namespace, path, text, sandbox)
    for called, updates, _body in _global_updates_called(region, namespace):
        # loss_fn(...) doing ``global beta; beta = min(1.0, beta + 0.05)``: a warm-up each call moves
        where = called.__code__.co_filename
        out += _schedules([(s, "step") for s in updates], called.__globals__, where, _text_of(where), sandbox)
    return out


def _schedules(steps: list, namespace: dict, path: str, text: str, sandbox) -> list[Schedule]:
    updates: dict = {}  # name -> [(its update, reading the last value), ...] in the order they run
    for stmt, per in steps:
        found = _update_of(stmt)
        if found is None or _a_count(stmt):
            continue
        target, value = found
        name = dotted(target)  # beta, args.beta, self.kl_weight
        update = _reading_itself(value, target) if name else None
        if update is None:
            continue
        held = updates.setdefault(name, (target, stmt, per, [], []))
        held[3].append(compile_user_code(ast.Expression(body=update), path, "eval"))
        held[4].append(_said(text, stmt))
    out = []
    for name, (target, stmt, per, codes, said) in updates.items():
        now = _evaluate(_as_load(target), namespace, {}, path, sandbox)
        if now is None:
            continue

        def values_from(start, codes=codes):
            return _repeated(codes, namespace, start, sandbox)

        values = values_from(now)
        if still(values):
            continue
        loc = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
        out.append(Schedule(name, ", then ".join(said), loc, per, now, values, False, values_from))
    return out


def _global_updates_called(region: list[ast.stmt], namespace: dict):
    """(function, its updates of module globals) for each function of the user's own the step
    calls by name (``loss = loss_fn(recon, x, mu, logvar)``) that declares ``global NAME`` and
    moves NAME from its own last value: the step runs the update once each time it calls it."""
    import inspect
    import textwrap
    import types

    from vaelint.source.frames import is_user_file

    seen = set()
    for node in (n for stmt in region for n in ast.walk(stmt)):
        called = namespace.get(node.func.id) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None
        if not isinstance(called, types.FunctionType) or id(called) in seen or not is_user_file(called.__code__.co_filename):
            continue
        seen.add(id(called))
        try:
            lines, first = inspect.getsourcelines(called)
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except (OSError, TypeError, SyntaxError):
            continue
        ast.increment_lineno(tree, first - 1)
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) else []
        declared = {
            name for stmt in ast.walk(ast.Module(body=body, type_ignores=[])) if isinstance(stmt, ast.Global) for name in stmt.names
        }
        # only a global the function weighs what it returns by (return bce + beta * kld): a weight of its
        # loss, not another module's counter or an EMA's momentum of the same name
        declared &= _weighing_the_return(body)
        updates = [s for s in _updating(body) if (u := _update_of(s)) is not None and isinstance(u[0], ast.Name) and u[0].id in declared]
        if updates:
            yield called, updates, body


def _weighing_the_return(body: list) -> set:
    """The names a function's returned value is multiplied by (``return rec + beta * kl``, or ``loss =
    rec + beta * kl`` then ``return loss``)."""
    returned = {
        n.id
        for r in ast.walk(ast.Module(body=body, type_ignores=[]))
        if isinstance(r, ast.Return) and r.value
        for n in ast.walk(r.value)
        if isinstance(n, ast.Name)
    }
    exprs = [r.value for r in ast.walk(ast.Module(body=body, type_ignores=[])) if isinstance(r, ast.Return) and r.value is not None]
    exprs += [
        a.value
        for a in ast.walk(ast.Module(body=body, type_ignores=[]))
        if isinstance(a, ast.Assign) and any(isinstance(t, ast.Name) and t.id in returned for t in a.targets)
    ]
    out = set()
    for expr in exprs:
        for product in (n for n in ast.walk(expr) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult)):
            out |= {side.id for side in (product.left, product.right) if isinstance(side, ast.Name)}
    return out


def globals_moved(region: list[ast.stmt], namespace: dict) -> list[tuple[dict, str]]:
    """(module namespace, name) of each global a function the step calls moves from its own last
    value (``global beta; beta = min(1.0, beta + 0.05)`` in ``loss_fn``)."""
    out = []
    for called, updates, _body in _global_updates_called(region, namespace):
        out += [(called.__globals__, name) for name in dict.fromkeys(_update_of(s)[0].id for s in updates)]
    return out


def globals_at_the_batch(region: list[ast.stmt], fn, frame_values: dict | None, first: dict, sandbox) -> list[tuple[dict, str, object]]:
    """(module namespace, name, value) of each global :func:`globals_moved` finds, with its value
    when the run's batch came in (``first``: {(id(namespace), name): value}) or, where the step was
    read from the code, its value now. A weight at 0 there (``beta = 0``, moved after the loss
    reads it) is taken at its first value off 0, as a warm-up's first step with a weight is."""
    out = []
    for called, updates, body in _global_updates_called(region, _step_namespace(fn, frame_values)):
        space, path = called.__globals__, called.__code__.co_filename
        for stmt in updates:
            name = _update_of(stmt)[0].id
            if name not in space or any(n == name and s is space for s, n, _v in out):
                continue
            value = first.get((id(space), name), space[name])
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0 and _weighed_before(body, name, stmt):
                value = _once(stmt, space, path, value, sandbox)
            out.append((space, name, value))
    return out


def _weighed_before(body: list, name: str, update: ast.stmt) -> bool:
    """Does the function weigh by ``name`` before it updates it (``loss = rec + beta * kl; beta = ...``)?"""
    weighed = [
        n.lineno
        for n in ast.walk(ast.Module(body=body, type_ignores=[]))
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) and name in {getattr(n.left, "id", None), getattr(n.right, "id", None)}
    ]
    return bool(weighed) and min(weighed) < update.lineno


def _once(stmt: ast.stmt, space: dict, path: str, value, sandbox):
    """The value one run of the update ``stmt`` gives a global at ``value`` (the value where it cannot be read)."""
    target, update = _update_of(stmt)
    code = compile_user_code(ast.Expression(body=_reading_itself(update, target)), path, "eval")
    try:
        with sandbox.active():
            got = eval(code, {**space, _ACC: value})  # noqa: S307 - the user's own update, as its loss runs it
    except Exception:  # noqa: BLE001 - it reads what only the loss computes: left as it was
        return value
    return got if isinstance(got, (int, float)) and not isinstance(got, bool) and math.isfinite(got) else value


def _text_of(path: str) -> str:
    from vaelint.source.files import read_source

    try:
        return read_source(path)
    except OSError:
        return ""


def _updating(region: list[ast.stmt]):
    """The statements of the step that may update a weight: each, and those inside its blocks, except
    inside an ``if`` that is one update itself (``if beta < 1: beta += inc``, read whole)."""
    for stmt in region:
        yield stmt
        if isinstance(stmt, ast.If) and _update_of(stmt) is not None:
            continue
        for _name, _i, block in sub_blocks(stmt):
            yield from _updating(block)


def _update_of(stmt: ast.stmt) -> tuple[ast.expr, ast.expr] | None:
    """(target, its new value) of a statement that sets one variable: ``beta = ...``, ``beta +=
    inc`` (``beta + inc``), ``if beta < 1: beta += inc`` (``beta + inc if beta < 1 else beta``)."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], (ast.Name, ast.Attribute)):
        return stmt.targets[0], stmt.value
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, (ast.Name, ast.Attribute)):
        return stmt.target, ast.copy_location(ast.BinOp(_as_load(stmt.target), stmt.op, stmt.value), stmt.value)
    if isinstance(stmt, ast.If) and len(stmt.body) == 1 and len(stmt.orelse) <= 1:
        then = _update_of(stmt.body[0])
        other = _update_of(stmt.orelse[0]) if stmt.orelse else None
        if then is None or ast.dump(_as_load(then[0])) not in {ast.dump(n) for n in ast.walk(stmt.test)}:
            return None  # a guard of the configuration's (if args.warmup > 0:): the update inside is read
        if stmt.orelse and (other is None or ast.dump(_as_load(other[0])) != ast.dump(_as_load(then[0]))):
            return None
        otherwise = other[1] if other else _as_load(then[0])
        return then[0], ast.copy_location(ast.IfExp(stmt.test, then[1], otherwise), stmt)
    return None


def _a_count(stmt: ast.stmt) -> bool:
    """``step += 1``: a counter (:mod:`.schedules`), not a weight."""
    return isinstance(stmt, ast.AugAssign) and isinstance(stmt.value, ast.Constant) and type(stmt.value.value) is int


def _said(text: str, stmt: ast.stmt) -> str:
    """How the report shows an update, as the value each step gives the variable: ``min(1, beta +
    0.01)``, ``beta + 0.001`` (``beta += 0.001``), ``beta + 0.001 while beta < 1`` (the guarded one)."""
    if isinstance(stmt, ast.Assign):
        return source_segment(text, stmt.value, 90)
    _target, value = _update_of(stmt)
    if isinstance(value, ast.IfExp) and ast.dump(value.orelse) == ast.dump(_as_load(_target)):
        said = f"{ast.unparse(value.body)} while {ast.unparse(value.test)}"
    else:
        said = ast.unparse(value)
    return said if len(said) <= 90 else said[:87] + "..."


def _as_load(target: ast.expr) -> ast.expr:
    import copy

    node = copy.deepcopy(target)
    for n in ast.walk(node):
        if hasattr(n, "ctx"):
            n.ctx = ast.Load()
    return node


def _reading_itself(value: ast.expr, target: ast.expr) -> ast.expr | None:
    """``value`` with each read of ``target`` made a read of the last value, or None when it does
    not read the target (a plain assignment)."""
    import copy

    wanted = ast.dump(_as_load(target))
    found = []

    class _Swap(ast.NodeTransformer):
        def visit(self, node):
            if isinstance(node, (ast.Name, ast.Attribute)) and ast.dump(node) == wanted:
                found.append(node)
                return ast.copy_location(ast.Name(id=_ACC, ctx=ast.Load()), node)
            return super().visit(node)

    swapped = _Swap().visit(copy.deepcopy(value))
    return ast.fix_missing_locations(swapped) if found else None


def _repeated(codes: list, namespace: dict, start: float, sandbox) -> list:
    """(steps, value) at 0 and at each of LATER steps from ``start``, the updates repeated in turn;
    it stops early where the weight no longer moves, and ends at the last step read."""
    scope = dict(namespace)
    values, value, done = [(0, start)], start, 0
    try:
        with sandbox.active():
            for at in LATER[:7]:  # up to 1e6 repeats
                while done < at:
                    got = value
                    for code in codes:
                        scope[_ACC] = got
                        got = eval(code, scope)  # noqa: S307 - the user's own update, as each step runs it
                        if hasattr(got, "item") and getattr(got, "numel", lambda: 0)() == 1:
                            got = got.item()
                        if isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isfinite(got):
                            return []
                    done += 1
                    if math.isclose(got, value, rel_tol=1e-12, abs_tol=0.0):
                        if done - 1 > values[-1][0]:
                            values.append((done - 1, value))  # where it settled, between two readings
                        done = at  # settled: every later step is the same
                    value = float(got)
                values.append((at, value))
    except Exception:  # noqa: BLE001 - it needs what only the step computes: no schedule
        return []
    if values[-1][1] != values[-2][1]:
        return values  # still moving after a million steps
    return values + [(LATER[-1], values[-1][1])]


def before_the_batch(path: list) -> list[ast.stmt]:
    """The statements of the loops around the step that run before it each time round (sa-vae's
    ``if args.warmup > 0: args.beta = min(1, args.beta + ...)`` above ``sents = train_data[i]``)."""
    out = []
    for outer, inner in zip(path, path[1:]):
        if not isinstance(outer, (ast.For, ast.AsyncFor, ast.While)):
            continue  # the function's own statements run once, not each step
        for stmt in getattr(outer, "body", []):
            if stmt is inner:
                break
            out.append(stmt)
    return out


def after_the_step(chain: list, depth: int) -> list[tuple[ast.stmt, str]]:
    """The statements of the loops around the step that run after it each time round (``if beta <
    1: beta += 0.001`` below ``loss.backward()``), each with what counts its runs: "step" in the
    data loop, the loop's variable (or "epoch") in a loop around that. ``chain``: the function's
    node, then the statements down to the one holding the backward; ``chain[depth + 1]`` the data loop."""
    out = []
    for k, (outer, inner) in enumerate(zip(chain[: depth + 2], chain[1 : depth + 3])):
        if not isinstance(outer, (ast.For, ast.AsyncFor, ast.While)):
            continue
        body = list(getattr(outer, "body", []))
        if inner not in body:
            continue
        per = "step" if k == depth + 1 else outer.target.id if isinstance(getattr(outer, "target", None), ast.Name) else "epoch"
        out += [(stmt, per) for stmt in body[body.index(inner) + 1 :]]
    return out
