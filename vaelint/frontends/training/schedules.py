"""Weights a training step computes from its counters: an annealed KL weight.

``kl_weight = kl_anneal_function(args.anneal, step, args.k, args.x0)`` or
``beta = min(1.0, epoch / warmup)`` changes from step to step; the check runs
one step (the first), where such a weight is often almost 0. Here each
assignment of the step that reads a counter (a name the loop increments, the
loop's own variable, the batch index; a LightningModule's ``global_step`` and
``current_epoch``) is evaluated again at later counter values, without running
the step: the report shows the schedule, and the rules judge where it goes.
"""

from __future__ import annotations

import ast
import math

from vaelint.frontends.base import Schedule
from vaelint.frontends.training.astbuild import SAVED
from vaelint.frontends.training.counternames import a_sweep, a_weight, bare_counter, guarded_names, module_of, names_of
from vaelint.frontends.training.scheduleblocks import _evaluate, _evaluate_block, _only_names_set, _set_in_branches
from vaelint.frontends.training.settling import settled_at
from vaelint.source.astutil import loads, source_segment, target_names, walk_statements, writes_of
from vaelint.source.frames import SourceLoc

# counter values a schedule is read at: the step run, then further and further on, and last two off
# the round numbers (a cyclical schedule is at the same point of its cycle at each round number)
LATER = (10, 100, 1_000, 2_500, 5_000, 10_000, 100_000, 1_000_000, 100_000_000, 100_001_237, 100_004_801)


def counters_of(scope_node: ast.AST, path_loops: list[ast.stmt], index_var: str | None, root: ast.AST | None = None) -> set[str]:
    """Names that count steps: incremented anywhere in the function holding the
    loop (``step += 1``, ``it = it + 1``), the loops' own variables around the
    step (``epoch``; not a sweep's, ``for beta in BETAS`` over a list written out in ``root``,
    the module), and the data loop's index."""
    out = set()
    body = scope_node.body if hasattr(scope_node, "body") else []
    guarded = guarded_names(body)
    for stmt in walk_statements(body):
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add):
            if not a_weight(stmt, guarded.get(id(stmt), set())):  # beta += 0.001: a warm-up, not a count
                out |= target_names(stmt.target)
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.BinOp) and isinstance(stmt.value.op, ast.Add):
            names = set().union(*(target_names(t) for t in stmt.targets))
            out |= names & loads(stmt.value)
    for loop in path_loops:
        if isinstance(loop, (ast.For, ast.AsyncFor)) and not a_sweep(loop.iter, root or scope_node):
            out |= target_names(loop.target)
    if index_var:
        out.add(index_var)
    return out


def find_schedules(
    fn,
    region: list[ast.stmt],
    counters: set[str],
    path: str,
    text: str,
    sandbox,
    lead: list[ast.stmt] = (),
    frame_values: dict | None = None,
    ends: dict | None = None,
) -> list[Schedule]:
    """The step's assignments that read a counter, read at later counter values; ``lead``: the
    assignments of the loops around the step that come before it (``beta = min(1, epoch / 200)``
    at the top of the epoch loop), whose variable the step reads as it was left; ``frame_values``:
    the step's frame's variables when the batch came in (``cap`` of ``def train(epoch, cap)``);
    ``ends``: a counter's last value where its loop is a ``range`` (the schedule is read up to it)."""
    if not counters:
        return []
    ends = ends or {}
    namespace = _step_namespace(fn, frame_values)
    out = []
    counted: dict = {}  # step += 1 before the weight is read: the weight sees the counted value
    held = {id(stmt) for stmt in lead}
    guarded: set = set()  # assignments read with the ``if`` around them (a warm-up, then 1.0)
    for stmt in [*lead, *walk_statements(region)]:
        if id(stmt) in guarded:
            continue
        if (
            isinstance(stmt, ast.AugAssign)
            and isinstance(stmt.op, ast.Add)
            and isinstance(stmt.target, ast.Name)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, int)
        ):
            counted[stmt.target.id] = counted.get(stmt.target.id, 0) + stmt.value.value
        if isinstance(stmt, ast.If) and id(stmt) in held:
            out += _branch_schedules(stmt, counters, namespace, counted, path, text, sandbox, ends)
            continue
        if isinstance(stmt, ast.If) and loads(stmt.test) & counters and _only_names_set(stmt):
            # ``if epoch < warmup: w = ramp else: w = 1.0`` in the step: the branch the counter
            # takes decides the weight, so the ramp alone is never read past its branch
            found = _branch_schedules(stmt, counters, namespace, counted, path, text, sandbox, ends, held=False)
            if found:
                out += found
                guarded |= {
                    id(a)
                    for a in walk_statements([stmt])
                    if isinstance(a, ast.Assign) and target_names(a.targets[0]) & {f.name for f in found}
                }
                continue
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Tuple):
            out += _pair_schedules(stmt, counters, namespace, counted, path, text, sandbox)
            continue
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        out += _assigned_schedules(stmt, counters, namespace, counted, held, path, text, sandbox, ends)
    return out


def _assigned_schedules(
    stmt: ast.Assign, counters: set, namespace: dict, counted: dict, held: set, path: str, text: str, sandbox, ends: dict
) -> list:
    """``name = expression`` reading counters: along each counter it reads, the one that moves it
    soonest (``beta_schedule(n * epoch + i, n)``; along epoch a cyclical weight is at the same
    point of its cycle each round epoch); where none moves it, a factor of it read alone."""
    read = loads(stmt.value) & counters
    if not read:
        return []
    along = []
    for counter in sorted(read):
        now = namespace.get(counter, 0)
        if not isinstance(now, (int, float)) or isinstance(now, bool):
            now = 0
        now += counted.get(counter, 0)
        values = _read_along(stmt, counter, now, held, namespace, path, sandbox, ends)
        if values:
            along.append((_first_move(values), counter, values))
    if not along:
        return _inline_schedules(stmt, counters, namespace, counted, path, text, sandbox, ends)
    _soonest, counter, values = min(along, key=lambda a: a[0])
    loc = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
    schedule = Schedule(stmt.targets[0].id, source_segment(text, stmt.value, 90), loc, counter, values[0][1], values, id(stmt) in held)
    return [_ending(schedule, ends.get(counter))]


def _inline_schedules(stmt, counters: set, namespace: dict, counted: dict, path: str, text: str, sandbox, ends: dict) -> list:
    """A weight written inline in the step's loss, a factor that reads a counter while the other
    factor does not (``loss = rec + kl_weight(epoch) * kl``, ``rec + min(1, step / 1000) * kl``):
    the factor alone, read at later counter values (the whole line needs the step's tensors)."""
    out = []
    for product in (n for n in ast.walk(stmt.value) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult)):
        for side, other in ((product.left, product.right), (product.right, product.left)):
            read = sorted(loads(side) & counters)
            if not read or loads(other) & counters:
                continue
            counter = read[0]
            now = namespace.get(counter, 0)
            now = (now if isinstance(now, (int, float)) and not isinstance(now, bool) else 0) + counted.get(counter, 0)
            values = _moving(now, lambda v, e=side, c=counter: _evaluate(e, namespace, {c: v}, path, sandbox), ends.get(counter))
            if values:
                loc = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
                schedule = Schedule(source_segment(text, side, 60), source_segment(text, side, 90), loc, counter, values[0][1], values)
                out.append(_ending(schedule, ends.get(counter)))
    return out


def _first_move(values: list) -> float:
    """The counter's value at which the weight first leaves its value at the step run."""
    return next((c for c, v in values if not math.isclose(v, values[0][1], rel_tol=1e-9, abs_tol=1e-12)), math.inf)


def _read_along(stmt: ast.Assign, counter: str, now, held: set, namespace: dict, path: str, sandbox, ends: dict) -> list:
    """The assignment's value at later values of ``counter`` ([]: it does not move with it)."""
    then = getattr(stmt, "_vaelint_then", []) if id(stmt) in held else []
    if then:  # beta = epoch / warmup; if beta > 1: beta = 1 -- the variable as the block leaves it
        block, name = [stmt, *then], stmt.targets[0].id
        return _moving(now, lambda v: _evaluate_block(block, name, namespace, {counter: v}, path, sandbox), ends.get(counter))
    return _moving(now, lambda v: _evaluate(stmt.value, namespace, {counter: v}, path, sandbox), ends.get(counter))


def _branch_schedules(
    stmt: ast.If, counters: set, namespace: dict, counted: dict, path: str, text: str, sandbox, ends: dict, held: bool = True
) -> list:
    """A weight set in a branch of an ``if`` in a loop around the step (``if warm_up_length != 0:
    beta = min(beta_end, epoch / warm_up_length * beta_end) else: beta = beta_end``) or in the
    step: the variable as the whole block leaves it, at later values of the counter the test reads
    (the one that decides the branch: ``if epoch < warmup``), up to its loop's end."""
    read = loads(stmt) & counters
    if not read:
        return []
    counter = sorted(loads(stmt.test) & counters or read)[0]
    now = namespace.get(counter, 0)
    now = (now if isinstance(now, (int, float)) and not isinstance(now, bool) else 0) + counted.get(counter, 0)
    out = []
    for name, first in _set_in_branches(stmt).items():
        block = [stmt, *getattr(stmt, "_vaelint_then", [])]
        values = _moving(
            now, lambda v, name=name, block=block: _evaluate_block(block, name, namespace, {counter: v}, path, sandbox), ends.get(counter)
        )
        if not values:
            continue
        taken = next(
            (
                a
                for a in walk_statements([stmt])
                if isinstance(a, ast.Assign)
                and a.targets[0:1]
                and isinstance(a.targets[0], ast.Name)
                and a.targets[0].id == name
                and loads(a.value) & counters
            ),
            first,
        )
        loc = SourceLoc(path, taken.lineno, taken.col_offset + 1)
        out.append(
            _ending(Schedule(name, source_segment(text, taken.value, 90), loc, counter, values[0][1], values, held), ends.get(counter))
        )
    return out


def _pair_schedules(stmt: ast.Assign, counters: set, namespace: dict, counted: dict, path: str, text: str, sandbox) -> list:
    """``kl_weight, beta = self.kl_weight_at(step)``: each name the tuple unpacks, read at later
    counter values (a helper that hands back the weight with another value, BouncyButton/koi)."""
    read = loads(stmt.value) & counters
    names = [e.id if isinstance(e, ast.Name) else None for e in stmt.targets[0].elts]
    if not read or any(isinstance(e, ast.Starred) for e in stmt.targets[0].elts):
        return []
    counter = sorted(read)[0]
    now = namespace.get(counter, 0)
    now = (now if isinstance(now, (int, float)) and not isinstance(now, bool) else 0) + counted.get(counter, 0)
    out = []
    for index, name in enumerate(names):
        values = _moving(now, lambda v, index=index, counter=counter: _evaluate(stmt.value, namespace, {counter: v}, path, sandbox, index))
        if name and values:
            loc = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
            out.append(Schedule(name, source_segment(text, stmt.value, 90), loc, counter, values[0][1], values))
    return out


def still(values: list) -> bool:
    """Do (counter value, weight) readings show no schedule: fewer than two, or one value throughout?"""
    return len(values) < 2 or all(math.isclose(v, values[0][1], rel_tol=1e-9, abs_tol=1e-12) for _c, v in values)


def _ending(schedule: Schedule, end: int | None) -> Schedule:
    """The schedule with the last value its counter takes, where it was read up to it."""
    from dataclasses import replace

    return replace(schedule, last=end) if end is not None and schedule.values[-1][0] == end else schedule


def loop_ends(loops: list[ast.stmt], namespace: dict, path: str, sandbox) -> dict:
    """``{counter: its last value}`` for the loops around the step that run a ``range`` (``for epoch
    in range(1, args.epochs + 1)``, ``tqdm(range(n))``, ``trange(n)``) whose bounds can be read."""
    out = {}
    for loop in loops:
        call = loop.iter
        if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Call) and _called(call) != "range":
            call = call.args[0]  # tqdm(range(E))
        if not isinstance(loop.target, ast.Name) or not isinstance(call, ast.Call) or _called(call) not in ("range", "trange"):
            continue
        bounds = [_evaluate(a, namespace, {}, path, sandbox) for a in call.args]
        if not bounds or any(b is None or b != int(b) for b in bounds) or len(bounds) > 3:
            continue
        steps = range(*(int(b) for b in bounds))
        if len(steps):
            out[loop.target.id] = steps[-1]
    return out


def _called(call: ast.Call) -> str | None:
    return call.func.id if isinstance(call.func, ast.Name) else call.func.attr if isinstance(call.func, ast.Attribute) else None


def _moving(now, evaluate, end: int | None = None) -> list:
    """(counter value, weight) from ``now`` on through LATER (up to ``end``, the counter's last value
    where its loop ends there); [] where it cannot be read or does not move (no schedule)."""
    if end is not None and end <= now:
        # the loop's only (or last) pass: a weight that would move later ends where it is
        moving = _moving(now, evaluate)
        return moving[:1]
    values = []
    later = [v for v in LATER if v > now] if end is None else [*(v for v in LATER if now < v < end), *([end] if end > now else [])]
    for value in (now, *later):
        got = evaluate(value)
        if got is None:
            return []
        values.append((value, got))
    if still(values):
        return []
    return settled_at(values, evaluate)


def _step_namespace(fn, frame_values: dict | None) -> dict:
    """What the step's expressions read: its globals, its frame's variables when the batch came in,
    and its closure's cells."""
    namespace = {**fn.__globals__, **(frame_values or {})}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            # a counter the step reads before it counts (step += 1) is held as its value when the
            # batch came in (vaelint/frontends/training/livecompile.py)
            namespace[name.removeprefix(SAVED)] = cell.cell_contents
        except ValueError:
            pass
    return namespace


def handed_counters(plan, frame) -> set[str]:
    """Parameters of the function that holds the step which its caller hands a counter:
    ``for epoch in range(E): train(epoch)`` makes ``epoch`` of ``def train(epoch)`` one."""
    i = plan.boundary.frame_index
    node = frame.scope.node
    callers = [*plan.callers, *plan.frames[:i]]
    if not callers or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return set()
    caller = callers[-1]
    caller_loops = [s for s in caller.place.statements() if isinstance(s, (ast.For, ast.AsyncFor))]
    counting = counters_of(caller.scope.node, caller_loops, None, module_of(caller.scope))
    params = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
    names = names_of(caller.scope, node.name)
    out = set()
    for call in (n for n in ast.walk(caller.place.statement) if isinstance(n, ast.Call)):
        called = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
        if called not in names:
            continue
        skip = 1 if isinstance(call.func, ast.Attribute) and params[:1] in (["self"], ["cls"]) else 0
        # the counter itself (train(epoch)); a value computed from it (train(beta=min(1, epoch / 20))) is a
        # weight, read as a schedule in the caller (vaelint/frontends/training/handedschedules.py)
        out |= {params[k + skip] for k, arg in enumerate(call.args) if k + skip < len(params) and bare_counter(arg, counting)}
        out |= {kw.arg for kw in call.keywords if kw.arg in params and bare_counter(kw.value, counting)}
    return out


def lead_statements(path: list) -> list[ast.stmt]:
    """The plain assignments each statement on the way to the step makes before the next one
    (the epoch loop's ``beta = ...`` above its data loop; ``path[0]`` may be the function that
    holds the step, whose body sets ``beta`` before its data loop). Each carries the statements
    after it that set its variable again before the step (``if beta > 1: beta = 1``), as
    ``_vaelint_then``."""
    out = []
    for outer, inner in zip(path, path[1:]):
        body = getattr(outer, "body", [])
        for k, stmt in enumerate(body):
            if stmt is inner:
                break
            branch_set = _set_in_branches(stmt) if isinstance(stmt, ast.If) else {}
            if isinstance(stmt, ast.Assign) or branch_set:
                names = set().union(*(target_names(t) for t in stmt.targets)) if isinstance(stmt, ast.Assign) else set(branch_set)
                then = []
                for later in body[k + 1 :]:
                    if later is inner:
                        break
                    if names & set().union(*(writes_of(w) for w in walk_statements([later]))):
                        then.append(later)
                stmt._vaelint_then = then
                out.append(stmt)
    return out
