"""A loss term the step adds only from some count on: ``if epoch >= warmup: loss += kl * 20`` (a
KL switched on after warm-up epochs, ms0k/voxel-vae's). At the first step the branch is not taken,
so the loss checked held no KL ("the loss has no KL term", VAE002 and VAE007 not checked) while
every later step trains one. The step is checked at the first count read where the branch is
taken, as a weight that is 0 at the first step is (program._first_weighted_step), and the report
says so."""

from __future__ import annotations

import ast

from vaelint.frontends.training.astbuild import SAVED
from vaelint.source.astutil import loads, source_segment, walk_statements, writes_of
from vaelint.source.frames import SourceLoc, display_path

# the counts tried after the first: small ones first (a warm-up of a few epochs), then larger
_TRIED = (*range(1, 21), 25, 30, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 100_000)


def first_gated_step(program, fn, counters: dict, plan, sandbox, feeding: set | None, text: str) -> None:
    """Set ``counters`` so the step runs where a branch that adds to its loss is taken."""
    from vaelint.frontends.training.counternames import module_of
    from vaelint.frontends.training.schedules import _step_namespace, counters_of, loop_ends

    if feeding is None:
        return
    frame = plan.frames[plan.boundary.frame_index]
    loops = [s for s in frame.place.statements()[: plan.boundary.depth] if isinstance(s, (ast.For, ast.AsyncFor))]
    names = counters_of(frame.scope.node, loops, plan.index_var, module_of(frame.scope))
    settable = {n.removeprefix(SAVED) for n in fn.__code__.co_freevars} | set(fn.__globals__)
    namespace = _step_namespace(fn, plan.frame_values)
    ends = loop_ends(loops, namespace, frame.scope.path, sandbox)
    earlier: set = set()  # what the step computed before each statement (rec, kl)
    for stmt in walk_statements(plan.region):
        computed, earlier = set(earlier), earlier | writes_of(stmt)
        if not isinstance(stmt, ast.If) or not any(writes_of(s) & feeding for s in [*stmt.body, *stmt.orelse]):
            continue
        read = sorted(loads(stmt.test) & names & settable)
        if len(read) != 1 or read[0] in counters:
            continue
        counter = read[0]
        now = namespace.get(counter, 0)
        now = now if isinstance(now, int) and not isinstance(now, bool) else 0
        taken = lambda v, test=stmt.test, c=counter: _taken(test, namespace, c, v, frame.scope.path, sandbox)  # noqa: E731
        end = ends.get(counter)
        counts = [v for v in _TRIED if v > now and (end is None or v <= end)]
        if taken(now) is False and any(writes_of(s) & feeding for s in stmt.body):
            later, warm_up = next((v for v in counts if taken(v)), None), False
        elif taken(now) is True and _adds_a_term(stmt, feeding, computed):
            # if epoch < warmup: loss = rec  else: loss = rec + beta * kl: a warm-up branch, left for good
            later, warm_up = next((v for v in counts if taken(v) is False), None), True
            later = later if later is not None and all(taken(v) is False for v in counts if v >= later) else None
        else:
            continue
        if later is None:
            continue
        counters[counter] = later
        where = SourceLoc(frame.scope.path, stmt.lineno, stmt.col_offset + 1)
        test = f"`{source_segment(text, stmt.test, 60)}` ({display_path(where.path)}:{where.line})"
        program.notes.append(
            f"the step computes another loss while {test}, a warm-up, as at {counter} = {now}: it is checked at "
            f"{counter} = {later}, the first count read past it, with the loss training goes on with"
            if warm_up
            else f"the step adds to its loss only where {test}, not at {counter} = {now}: it is checked at {counter} = "
            f"{later}, the first count read where that branch is taken"
        )
        return


def _adds_a_term(stmt: ast.If, feeding: set, computed: set) -> bool:
    """Does the ``else`` of ``if warm-up: loss = rec else: loss = rec + beta * kl`` set the loss from a
    term the step computed before it (``kl``) that the branch taken first leaves out? A weight set
    apart in each branch (``beta = 0.0`` / a ramp) is a schedule's, not a term left out."""
    first = set().union(*(loads(s) for s in stmt.body if writes_of(s) & feeding), set())
    then = set().union(*(loads(s) for s in stmt.orelse if writes_of(s) & feeding), set())
    return bool((then - first) & computed)


def _taken(test: ast.expr, namespace: dict, counter: str, value: int, path: str, sandbox) -> bool | None:
    """The branch's test with the counter at ``value``: True, False, or None where it cannot be read."""
    from vaelint.source.files import compile_user_code

    try:
        code = compile_user_code(ast.Expression(body=test), path, "eval")
        with sandbox.active():
            got = eval(code, {**namespace, counter: value})  # noqa: S307 - the user's own test, as the step evaluates it
    except Exception:  # noqa: BLE001 - it reads what only the step computes: not read
        return None
    return got if isinstance(got, bool) else None
