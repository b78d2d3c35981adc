"""The step read off the frames of a VAE backward (:mod:`.live`): the frame that took the
batch (or holds what the model was given), the statements from the batch to the backward,
and those statements compiled as a function of the batch that closes over the frame's
variables as they were when the batch came in."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field

from vaelint.errors import VaelintError
from vaelint.frontends.training.batchpattern import around_next, batch_pattern
from vaelint.frontends.training.live import Capture, Taken
from vaelint.frontends.training.livecallargs import frames_then_the_call
from vaelint.frontends.training.livehoist import NAME, hoisted_input, named
from vaelint.frontends.training.liveinner import tensors_in
from vaelint.frontends.training.livestepnames import converted_in_the_step, cut_beside, rebound_after_the_call
from vaelint.frontends.training.sites import Frame, Site, SourceFile, backward_of, enclosing_blocks, parse_file
from vaelint.source.astutil import Place, Scope, loads, place_at, target_names, walk_statements, writes_of
from vaelint.source.frames import display_path

# --------------------------------------------------------------------------- the step, from the frames


@dataclass
class LiveStep:
    """What :func:`step_from` read off the frames: enough for the plan and the step's function."""

    file: SourceFile
    scope: Scope
    place: Place  # the statement of the step's frame on the way to the backward
    kind: str  # "loop", "assign", "free", "param"
    source: ast.stmt  # the statement that bound the batch (a loop, an assignment, the def)
    pattern: ast.expr | None  # the batch's part of its target (None: names)
    names: list[str]  # the batch variables, in order
    region: list[ast.stmt]  # the step's statements, the batch's binding excluded
    values: dict  # the frame's variables when the batch came in
    is_module: bool
    site: Site
    frames: list = field(default_factory=list)  # Frame per user frame from the step's to the backward's
    callers: list = field(default_factory=list)  # Frame per user frame that called the step's, outermost first
    loader: object = None
    batch_value: object = None  # the batch as the run had it (its tensors give unspecified inputs)
    module_globals: dict = field(default_factory=dict)  # the frame's module namespace


def scope_of(file: SourceFile, frame) -> Scope | None:
    code = frame.f_code
    if code.co_name == "<module>":
        return file.scopes[""]
    best = None
    for scope in file.scopes.values():
        node = scope.node
        if scope.is_module or node.name != code.co_name:
            continue
        if node.lineno <= frame.f_lineno <= (node.end_lineno or node.lineno):
            if best is None or node.lineno >= best.node.lineno:
                best = scope
    return best


def located_frame(frame, at=None):
    """(file, scope, place) of a running frame in the user's source: the statement at ``at``
    ((line, column)) or, with none, where the frame runs now; None for each part not found."""
    from vaelint.frontends.training.live import position

    file = parse_file(os.path.realpath(frame.f_code.co_filename))
    scope = scope_of(file, frame) if file is not None else None
    place = place_at(scope, at if at is not None else position(frame)) if scope is not None else None
    return file, scope, place


def _holds(value, obj) -> bool:
    if value is obj:
        return True
    if isinstance(value, (tuple, list)):
        return any(v is obj for v in value)
    if isinstance(value, dict):
        return any(v is obj for v in value.values())
    return False


def step_from(capture: Capture) -> LiveStep:
    """The step's frame, its batch and its statements, read off a VAE backward's frames."""
    frames = capture.frames
    if not frames:
        raise VaelintError("load", "the backward was reached from no file of the user's (a library ran the whole loop)")
    parsed = []
    for frame, line, values in frames:
        parsed.append((frame, line, values, *located_frame(frame, line)))
    usable = [p for p in parsed if p[5] is not None]
    if not usable:
        raise VaelintError("load", "the backward's frames could not be read back to the user's source")
    site_frame = usable[-1]
    site_stmt = site_frame[5].statement
    loss_expr = backward_of(site_stmt) or (site_stmt.value if isinstance(site_stmt, ast.Expr) else ast.Name("loss", ast.Load()))
    site = Site(site_frame[5], loss_expr, "")

    chosen = _chosen(usable, capture)
    if chosen is None:
        raise VaelintError(
            "load",
            f"{display_path(site.place.scope.path)}:{site.place.line}: the step's backward was reached, but no "
            "variable of the code holds the batch the model was given (a data loader's batch, or the tensors "
            "passed to the model)",
        )
    start = next(i for i, e in enumerate(usable) if e[0] is chosen.frame_obj)
    chosen.step.frames = [Frame(e[4], e[5]) for e in usable[start:]]
    chosen.step.callers = [Frame(e[4], e[5], values=e[2]) for e in usable[:start]]
    chosen.step.site = site
    return chosen.step


@dataclass
class _Chosen:
    frame_obj: object
    step: LiveStep


def _chosen(usable, capture: Capture) -> _Chosen | None:
    """Where the step's batch is held: the statement that took it, a frame it was relayed to, a
    step function it was handed to, the tensors the model was given; else the statement that took
    it in a block the step is not in (a try that restarts the loader on StopIteration)."""
    taken = capture.taken
    entry = next((e for e in usable if taken is not None and taken.frame is not None and e[0] is taken.frame), None)
    chosen = _from_taken(entry, taken) if entry is not None else None
    if chosen is None and taken is not None:
        chosen = _relayed(usable, taken)
    if chosen is None and taken is not None:
        from vaelint.frontends.training.livehanded import handed_in

        handed = handed_in(usable, taken)  # training_step(self, batch, ...) a real Trainer called
        chosen = _Chosen(*handed) if handed is not None else None
    if chosen is None:
        chosen = _from_model_inputs(usable, capture)
    if chosen is None and entry is not None:
        chosen = _from_taken(entry, taken, outward=True)
    return chosen


def _from_taken(entry, taken: Taken, outward: bool = False) -> _Chosen | None:
    frame, line, values, file, scope, place = entry
    source_place = place_at(scope, taken.line)
    if source_place is None:
        return None
    source = source_place.statement
    after = taken.after if taken.after is not None else values
    if isinstance(source, (ast.For, ast.AsyncFor)):
        pattern, names = batch_pattern(source.target, source.iter, after)
        if pattern is None:
            return None
        region = _region_in_loop(source, place)
        if region is None:
            return None
        kind = "loop"
    elif isinstance(source, (ast.Assign, ast.AnnAssign)):
        target = source.targets[0] if isinstance(source, ast.Assign) else source.target
        around = around_next(source, set(after))
        if around is not None:  # x = next(batches)[0].float().view(-1, 784): the batch, then that
            pattern, names = ast.Name(around[0], ast.Store()), [around[0]]
        else:
            pattern, names = batch_pattern(target, source.value, after)
        if pattern is None:
            pattern, names = target, sorted(target_names(target))
        region = _region_after(source_place, place, outward)
        if region is None:
            return None
        region = [around[1], *region] if around is not None else region
        kind = "assign"
    else:
        return None
    step = LiveStep(
        file,
        scope,
        place,
        kind,
        source,
        pattern,
        names,
        region,
        after,
        scope.is_module,
        None,
        loader=taken.loader,
        batch_value=taken.value,
        module_globals=frame.f_globals,
    )
    return _Chosen(frame, step)


def _relayed(usable, taken: Taken) -> _Chosen | None:
    """The batch taken in a frame that is not on the way to the backward (a loader wrapper's
    ``__iter__`` that yields the DataLoader's batches, a generator of the user's) and handed on
    to a loop that is: that loop takes the batch, as if from the loader itself."""
    import dataclasses

    value = taken.value
    items = list(value) if isinstance(value, (tuple, list)) else []
    for entry in reversed(usable):
        frame, _line, values, _file, _scope, place = entry
        if place is None:
            continue
        for stmt in reversed(place.statements()):
            if not isinstance(stmt, (ast.For, ast.AsyncFor)):
                continue
            held = [values.get(n) for n in target_names(stmt.target)]
            if any(v is value or any(v is item for item in items) for v in held if v is not None):
                relay = dataclasses.replace(taken, frame=frame, line=(stmt.lineno, stmt.col_offset), after=values, pristine=None)
                return _from_taken(entry, relay)
    return None


def _region_in_loop(loop: ast.stmt, place: Place) -> list[ast.stmt] | None:
    """The loop's body, from its start to the statement on the way to ``place``."""
    stmts = place.statements()
    if not any(s is loop for s in stmts):
        return None
    k = next(i for i, s in enumerate(stmts) if s is loop)
    if k + 1 >= len(stmts):
        return None
    inner = stmts[k + 1]
    body = loop.body
    idx = next((i for i, s in enumerate(body) if s is inner), None)
    return None if idx is None else list(body[: idx + 1])


def _region_after(source: Place, place: Place, outward: bool = False) -> list[ast.stmt] | None:
    """The statements after ``source`` in its block, to the one on the way to ``place``; ``outward``,
    where that block ends first (``try: batch = next(it) except StopIteration: ...`` before the step,
    an ``if`` that takes the batch), the rest of it, then the enclosing block's statements after it."""
    stmts = place.statements()
    rest: list[ast.stmt] = []
    for block, index in reversed(enclosing_blocks(source)):
        end = next((i for i, s in enumerate(block) if any(s is t for t in stmts)), None)
        if end is not None:
            return rest + list(block[index + 1 : end + 1]) if end > index else None
        if not outward:
            return None
        rest += block[index + 1 :]
    return None


def _trained_calls(capture: Capture, usable) -> list:
    """The model calls an optimiser of the step holds the parameters of, first, then those whose
    parameters the backward's loss reaches: a network that only made the data (a random
    "simulator" z -> x in the setup, called before the VAE) is not the step's model."""
    from vaelint.frontends.training.liveinner import parameters_reached
    from vaelint.frontends.training.liveoptim import optimisers_in

    calls = capture.model_calls
    frame, _line, values = usable[-1][:3] if usable else (None, None, {})
    held = {id(p) for o in optimisers_in(values, frame.f_globals if frame is not None else {}) for g in o.param_groups for p in g["params"]}
    reached = capture.reached if capture.reached is not None else parameters_reached([capture.loss])
    ranked, taken = [], set()  # by identity: a call's arguments are tensors, which == compares elementwise
    # calls whose output the loss reaches first, then those autograd recorded: one under no_grad (a shape
    # check on X[:1] before the loop) or a forward building lazy layers before the optimiser is no step's
    feeding = _feeding_the_loss(capture, calls)
    calls = sorted(calls, key=lambda c: (id(c) not in feeding, not getattr(c, "graded", True)))
    for ids in (held, reached, None):
        for c in calls:
            if id(c) not in taken and (ids is None or any(id(p) in ids for p in getattr(c[0], "parameters", list)())):
                ranked.append(c)
                taken.add(id(c))
    return ranked


def _feeding_the_loss(capture: Capture, calls: list) -> set:
    """id()s of the calls whose output's autograd nodes the loss's graph holds (all, where none is known)."""
    from vaelint.frontends.training.autogradwalk import autograd_nodes

    if capture.loss is None or not any(getattr(c, "out_fns", ()) for c in calls):
        return {id(c) for c in calls}
    nodes = {id(n) for n in autograd_nodes([capture.loss.grad_fn], limit=None)}
    return {id(c) for c in calls if any(f in nodes for f in getattr(c, "out_fns", ()))}


def _from_model_inputs(usable, capture: Capture) -> _Chosen | None:
    """No loader's batch on the stack (an index loop over a tensor, full-batch training,
    a generator): the batch is what the model was given, in the innermost frame that
    holds it in a variable."""

    trained = _trained_calls(capture, usable)[:1]
    inputs = [t for _m, args in trained for t in tensors_in(args)]
    if not inputs:
        return None
    for frame, _line, values, file, scope, place, read in frames_then_the_call(usable, trained[0]):
        names = []
        for t in inputs:
            held, values = _holding(frame, values, scope, place, t)
            name = _read_by_the_step(scope, place, held)
            if name is not None and name not in names:
                names.append(name)
        hoisted = None
        if not names:
            # model(data[i : i + 32]) in an index loop: the slice, named where it is written
            region, kind, source = _region_for_names(scope, place, [NAME])
            hoisted = hoisted_input(region or [], values, frame.f_globals, inputs)
            if hoisted is not None:
                names, values = [NAME], {**values, NAME: hoisted[1]}
        if not names and read is not None:
            names = list(read[1])  # the data the model's statement read, joined with a state
        if not names:
            continue
        region, kind, source = _region_for_names(scope, place, names)
        if hoisted is not None and region is not None:
            region = named(region, hoisted[0])
        if region is None:
            continue
        # `tgts = tgts[:, 1:].reshape(-1)` after model(srcs, tgts): the name holds another value at
        # the backward; the step is given what the model was given
        rebound = rebound_after_the_call(region, names, inputs, values)
        names += list(rebound)
        names += converted_in_the_step(region, values, names)
        names += cut_beside(source, names, values)  # x, dec_in, y = enc[sl], dec[sl], tgt[sl]
        pattern = None
        step = LiveStep(
            file,
            scope,
            place,
            kind,
            source,
            pattern,
            names,
            region,
            values,
            scope.is_module,
            None,
            batch_value=tuple(rebound.get(n, values[n]) for n in names),
            module_globals=frame.f_globals,
        )
        return _Chosen(frame, step)
    return None


def _holding(frame, values: dict, scope: Scope, place: Place, t) -> tuple[list, dict]:
    """(the frame's names that hold the model's input ``t``, the frame's values with them)."""
    from vaelint.frontends.training.livehanded import a_view_of

    held = [n for n, v in values.items() if v is t and not n.startswith("__")]
    # or the variable the model's input is a view of (model(x.squeeze(-1)), model(x.view(B, -1)))
    held = held or [n for n, v in values.items() if not n.startswith("__") and a_view_of(v, t)][:1]
    if not held and not scope.is_module:
        # a global the function reads (``for epoch in range(E): model(X, A)`` in main(), X and A
        # made at the module's top): the step is this function's loop, not the module's call of it
        # (a function without a loop, ``def train(epoch)`` called by the module's epoch loop, is not)
        held = [n for n in frame.f_code.co_names if n not in values and frame.f_globals.get(n) is t][:1]
        held = held if held and _region_for_names(scope, place, held)[1] == "free" else []
        values = {**values, **{n: t for n in held}}
    return held, values


def _read_by_the_step(scope: Scope, place: Place, held: list[str]) -> str | None:
    """Of the names that hold the model's input (``x = batches[i]; x_enc = x``), the one the step
    its binding starts reads (an encoder-only inner loop given ``x_enc``); the first otherwise."""
    if len(held) > 1:
        for name in held:
            region, _kind, _source = _region_for_names(scope, place, [name])
            if region and any(name in loads(stmt) for stmt in region):
                return name
    return held[0] if held else None


def _region_for_names(scope: Scope, place: Place, names: list[str]):
    """(region, kind, the binding statement) for batch variables found in a frame: the
    statements after the last one on the way that binds them, or the innermost loop
    body after it (full-batch training: ``for epoch in range(E): model(features)``)."""
    blocks = enclosing_blocks(place)
    stmts = place.statements()
    wanted = set(names)
    # the last binding on the way: at each depth, the statements before the path's
    bind_depth, bind_index = -1, -1
    for depth, (block, index) in enumerate(blocks):
        for i in range(index):
            if any(wanted & writes_of(s) for s in walk_statements([block[i]])):
                bind_depth, bind_index = depth, i
        if depth < len(blocks) - 1 and isinstance(stmts[depth], (ast.For, ast.AsyncFor)) and wanted & target_names(stmts[depth].target):
            bind_depth, bind_index = depth + 1, -1  # bound by the loop over it: the loop's body
    # the innermost loop on the way after the binding: its body is the step
    for depth in range(len(blocks) - 2, max(bind_depth, 0) - 1, -1):
        stmt = stmts[depth]
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)) and (depth > bind_depth or blocks[depth][1] > bind_index):
            inner = stmts[depth + 1]
            body = stmt.body
            idx = next((i for i, s in enumerate(body) if s is inner), None)
            if idx is not None:
                return list(body[: idx + 1]), "free", stmt
    if bind_depth < 0:
        if scope.is_module:
            return None, "", None
        block, index = blocks[0]
        return list(block[: index + 1]), "param", scope.node
    block, index = blocks[bind_depth]
    if bind_index < 0:
        # bound by the innermost loop's own target (``for x in batches(data, 64)``, a generator
        # of the code's): that loop's body is the step
        return list(block[: index + 1]), "free", stmts[bind_depth - 1]
    return list(block[bind_index + 1 : index + 1]), "free", block[bind_index]
