"""The Program of a training step: the model its step calls, its inputs (given, or
inferred from its data loader), what was not run, its schedules, and the step as a
function of the batch that runs in the sandbox."""

from __future__ import annotations

import ast
import dataclasses
import os
import re

from vaelint.errors import VaelintError
from vaelint.frontends.base import Program, Step
from vaelint.frontends.training.accumulating import accumulating_schedules, after_the_step, before_the_batch
from vaelint.frontends.training.astbuild import SAVED
from vaelint.frontends.training.batchspecs import batch_size_of
from vaelint.frontends.training.gatedterms import first_gated_step
from vaelint.frontends.training.loaderbatches import inferred_inputs, whole_batches
from vaelint.frontends.training.runtime import StepReady, lacking
from vaelint.frontends.training.stepmodules import model_of as _model_of
from vaelint.frontends.training.stepmodules import referenced_modules
from vaelint.frontends.training.steppedobjects import iterator_schedules, stepped_iterators
from vaelint.source.astutil import source_segment
from vaelint.source.cells import where
from vaelint.source.frames import display_path


def step_program(frontend, ref, request, plan, ready: StepReady, runtime, sandbox, sites, home, failed: list | None = None) -> Program:
    """``failed``: the setup's lines that failed (``path:line: error``), which may be why
    the step finds no model (``self.model`` built from a file that is not here)."""
    fn = ready.fn
    if not plan.frame_values:  # read from the code: the frame's variables when the step was reached
        plan.frame_values = dict(ready.values)
    modules = referenced_modules(fn)
    if not modules:
        from vaelint.frontends.training.nomodel import no_modules

        raise VaelintError("load", no_modules(plan, fn, failed or []))
    model = _model_of(modules)
    loader = _loader(ready, sandbox)
    inputs, origin = inferred_inputs(loader) if not request.inputs else ([], "")
    counters: dict = {}  # a counter the step reads, set for every run (see _first_weighted_step)
    iterators = stepped_iterators(fn, plan.region, sandbox)  # next(beta): each run starts from a copy
    path = os.path.realpath(ref.path)
    program = Program(
        frontend,
        ref,
        path,
        _Namespace(fn.__globals__),
        model,
        name=ref.name or os.path.basename(path),
        init=dict(request.init),
        module_sites=sites,
        step=_step(plan, fn, counters, sandbox, home, iterators, runtime),
        inputs=inputs,
        inputs_origin=origin,
        notes=_not_run(plan, sandbox) + _kept_on_cpu(runtime),
    )
    runtime.notes = program.notes  # a move to CUDA the step makes is said when it runs
    frame = plan.frames[plan.boundary.frame_index]
    program.schedules = _schedules(plan, fn, sandbox, home) + iterator_schedules(iterators, plan.region, frame.scope.path, sandbox)
    program.schedules += _stepped_objects(plan, fn, sandbox, home, {s.name for s in program.schedules})
    program.schedules += _accumulating(plan, fn, frame, sandbox, home, {s.name for s in program.schedules})
    _first_weighted_step(program, fn, counters, plan)
    first_gated_step(program, fn, counters, plan, sandbox, _feeding_the_loss(plan), source_text(frame.scope, home))
    _other_optimisers(program, plan, fn, sandbox)
    from vaelint.frontends.training.livenotes import mentions_a_device, names_no_accelerator

    paths = {f.scope.path for f in plan.frames}
    if not mentions_a_device(program, home, paths):
        # as for a run of it (liveprogram.py): code that names no device runs on the CPU wherever it runs
        program.device_note = "the training code never places a tensor on a device: it runs on the CPU as written"
    elif names_no_accelerator(program, home, paths):
        program.device_note = (
            "the training code names no accelerator (no cuda, mps, xpu): every device it places tensors on is the CPU, "
            "so it runs on the CPU as written"
        )
    configured = getattr(loader, "batch_size", None)
    if isinstance(configured, int) and configured > 1:
        program.configured_batch = configured
        program.full_batches = whole_batches(loader, configured)
        loc = getattr(loader, "loc", None)
        program.configured_batch_text = f"DataLoader(batch_size={configured})" + (f" at {loc.where()}" if loc else "")
    return program


def _accumulating(plan, fn, frame, sandbox, home, counted: set) -> list:
    """The weights the step, or the loops around it before the batch or after the backward, move
    from their own last value (vaelint/frontends/training/accumulating.py), not read already."""
    chain = [frame.scope.node, *frame.place.statements()]
    before = before_the_batch(chain[: plan.boundary.depth + 2])
    later = after_the_step(chain, plan.boundary.depth)
    text = source_text(frame.scope, home)
    found = accumulating_schedules(fn, [*before, *plan.region], frame.scope.path, text, sandbox, plan.frame_values, later)
    return [s for s in found if s.name not in counted]


def _other_optimisers(program: Program, plan, fn, sandbox) -> None:
    """The optimisers the step reaches and whether a backward follows the VAE's: VAE011 then
    tells a VAE-GAN's discriminator, trained by that later backward, from dead parameters."""
    from vaelint.frontends.training.liveoptim import backward_after, optimisers_in, read_optimisers
    from vaelint.frontends.training.schedules import _step_namespace

    site_file = plan.frames[-1].scope.path if plan.frames else program.path
    program.backward_after = backward_after(site_file, plan.site.place.line)
    if not program.backward_after:
        return  # only another backward trains what the VAE loss does not reach
    namespace = _step_namespace(fn, plan.frame_values)
    # the setup leaves optimisers out: those it built, else those its code would build
    program.optimisers = optimisers_in(namespace, {}) or read_optimisers(site_file, namespace, sandbox)


def _loader(ready: StepReady, sandbox):
    """The step's data loader, built in the sandbox; None when it cannot be built."""
    from vaelint.frontends.placeholders import MissingImport
    from vaelint.frontends.training.runtime import StandIn

    try:
        with sandbox.active():
            loader = ready.loader() if ready.loader is not None else None
    except Exception:  # noqa: BLE001 - the loader cannot be built: nothing is known of it
        return None
    # a loader from a failed line or a package not installed (dlutils' batch_provider):
    # nothing is known of it either, and reading it would raise
    return None if isinstance(loader, (MissingImport, StandIn)) else loader


def _not_run(plan, sandbox) -> list[str]:
    """What the report says the check did not do: loading weights, the writes blocked."""
    from vaelint.source.files import read_source

    # the skipped loads are statements of the step's own file, which need not be the entry script
    text = read_source(plan.site.place.scope.path) if plan.skipped_loads else ""
    notes = [
        f"{display_path(plan.site.place.scope.path)}:{stmt.lineno}: {source_segment(text, stmt.value, 70)} "
        "was not run: vaelint checks the model as the code builds it, without loading weights"
        for stmt in plan.skipped_loads
    ]
    notes += [
        f"{where(path, line)}: {text} was not run: {what} trains, and vaelint never trains on the user's behalf"
        for path, line, text, what in plan.skipped_training
    ]
    return notes + sandbox.said()


def _kept_on_cpu(runtime) -> list[str]:
    moves = list(dict.fromkeys(runtime.kept_on_cpu))
    if not moves:
        return []
    return [f"the setup's {', '.join(moves[:3])} stayed on the CPU: this machine has no {lacking(moves)} (the check runs on the CPU)"]


def _say_moves(moves: list, runtime) -> None:
    """A step's moves to CUDA kept on the CPU, each said once with its line."""
    if runtime is None or runtime.notes is None:
        return
    for _phase, what, path, line in moves:
        note = step_move_note(what, path, line)
        if note not in runtime.notes:
            runtime.notes.append(note)


def step_move_note(what: str, path: str, line: int) -> str:
    """``the step's .cuda() at train.py:24 left its tensor on the CPU: ...``"""
    at = f" at {where(path, line)}" if path else ""
    return f"the step's {what}{at} left its tensor on the CPU: this machine has no {lacking([what])} (the check runs on the CPU)"


def _step(plan, fn, counters: dict, sandbox, home, iterators: dict, runtime=None) -> Step:
    """The step as a function of the batch, run in the sandbox with its counters set,
    and each iterator it advances (``next(beta)``) a fresh copy: every run is the first
    step, however many runs the check makes."""
    import copy
    from types import SimpleNamespace

    from vaelint.frontends.training.livecuda import cuda_kept_on_cpu
    from vaelint.source.frames import SourceLoc

    moves = SimpleNamespace(moves=[], taken=True)  # CUDA moves kept on the CPU, the model's forward's too
    # globals the functions the step calls move each call (global beta; beta = min(1.0, beta + 0.05)):
    # each run starts from their values when the batch came in, as the first step does
    from vaelint.frontends.training.accumulating import globals_at_the_batch

    moved = globals_at_the_batch(plan.region, fn, plan.frame_values, runtime.globals_then if runtime is not None else {}, sandbox)

    def run_step(*inputs, **named):
        for space, name, value in moved:
            space[name] = value
        fresh = {name: copy.deepcopy(pristine) for name, pristine in iterators.items()}
        if runtime is not None:
            runtime.batch_now = batch_size_of(inputs)  # a batch the step draws itself is made this size
        try:
            with sandbox.active(), counters_set(fn, {**counters, **fresh}), cuda_kept_on_cpu(moves):
                return fn(*inputs, **named)
        finally:
            _say_moves(moves.moves, runtime)

    step_scope = plan.frames[plan.boundary.frame_index].scope
    description = step_description(step_scope.path, step_scope.qualname, plan.region_lines, plan.site.place.line)
    boundary_stmt = plan.boundary.sources[0] if plan.boundary.sources else step_scope.node
    return Step(
        run_step,
        list(plan.batch_names),
        description,
        batch_text=plan.boundary.text(source_text(step_scope, home)),
        loc=SourceLoc(step_scope.path, boundary_stmt.lineno, boundary_stmt.col_offset + 1, step_scope.name),
        lines=plan.region_lines,
    )


def _first_weighted_step(program, fn, counters: dict, plan=None) -> None:
    """A schedule that is 0 at the first step (``min(1, step / warmup)``) takes a
    term out of the loss there: the step is checked at the first counter value
    read where the weight is not 0, and the report says so."""

    settable = {n.removeprefix(SAVED) for n in fn.__code__.co_freevars} | set(fn.__globals__)
    feeding = _feeding_the_loss(plan)
    for s in [s for s in program.schedules if s.now >= 0 and any(v < 0 for _c, v in s.values)]:
        # negative once only its counter moves (global_step - len(loader) * warmup at epoch 6, global_step
        # left at 0): it reads a count the run advances too, at states no run reaches; not read
        program.schedules.remove(s)
        program.notes.append(
            f"{s.name} turns negative when only {s.counter} moves: it reads another count as well, so its course is not read"
        )
    for i, s in enumerate(program.schedules):
        if s.now != 0 or (s.name if s.held else s.counter) not in settable:
            continue
        if feeding is not None and re.split(r"[.\[( ]", s.name)[0] not in feeding:
            continue  # a count the step keeps for after its backward (current_iter for checkpoints): it weighs no term
        later = next(((c, v) for c, v in s.values if v != 0), None)
        if later is None:
            continue
        if s.held:
            counters[s.name] = later[1]  # set before the step: the step reads the variable as left
        else:
            counters[s.counter] = later[0]
        program.schedules[i] = dataclasses.replace(s, now=later[1], values=[later, *[(c, v) for c, v in s.values if c > later[0]]])
        program.notes.append(
            f"{s.name} is 0 at {s.counter} = {s.values[0][0]}, so the step is checked at {s.counter} = {later[0]} "
            f"({s.name} = {later[1]:.3g}), the first step read where the term it weighs counts"
        )


def _feeding_the_loss(plan) -> set[str] | None:
    """The names the step's backward reads, and those its statements before it compute them
    from (a slice back from the loss); None when the step's statements are not known."""
    from vaelint.source.astutil import loads, walk_statements, writes_of

    if plan is None or not plan.region or getattr(plan.site, "loss", None) is None:
        return None
    line = plan.site.place.line
    needed = loads(plan.site.loss)
    statements = list(walk_statements(plan.region))
    if not any(st.lineno <= line <= (st.end_lineno or st.lineno) for st in statements):
        # the backward is in a function the step calls (train_step(model, x, beta=beta)): what
        # the step hands it is what it may weigh its terms by
        return needed | set().union(*(loads(st) for st in statements))
    for stmt in reversed([st for st in statements if st.lineno < line]):
        if writes_of(stmt) & needed:
            needed |= loads(stmt) if not isinstance(stmt, (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With)) else set()
    return needed


def counters_set(fn, counters: dict):
    """While inside, the step's counters (closure variables or globals) hold the given values."""
    import contextlib

    @contextlib.contextmanager
    def setting():
        saved = []
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        for held in [n for n in cells if n.startswith(SAVED)]:
            cells.setdefault(held.removeprefix(SAVED), cells[held])  # step += 1's start
        for name, value in counters.items():
            if name in cells:
                saved.append((cells[name], "cell", cells[name].cell_contents))
                cells[name].cell_contents = value
            else:
                saved.append((name, "global", fn.__globals__.get(name)))
                fn.__globals__[name] = value
        try:
            yield
        finally:
            for key, kind, value in reversed(saved):
                if kind == "cell":
                    key.cell_contents = value
                else:
                    fn.__globals__[key] = value

    return setting()


def _schedules(plan, fn, sandbox, home) -> list:
    """Weights the step computes from its counters (an annealed KL weight)."""
    from vaelint.frontends.training.calleeschedules import callee_schedules
    from vaelint.frontends.training.counternames import module_of
    from vaelint.frontends.training.schedules import (
        _step_namespace,
        counters_of,
        find_schedules,
        handed_counters,
        lead_statements,
        loop_ends,
    )

    frame = plan.frames[plan.boundary.frame_index]
    path = frame.place.statements()[: plan.boundary.depth]
    loops = [s for s in path if isinstance(s, (ast.For, ast.AsyncFor))]
    counters = counters_of(frame.scope.node, loops, plan.index_var, module_of(frame.scope)) | handed_counters(plan, frame)
    ends = loop_ends(loops, _step_namespace(fn, plan.frame_values), frame.scope.path, sandbox)
    found = find_schedules(
        fn,
        plan.region,
        counters,
        frame.scope.path,
        source_text(frame.scope, home),
        sandbox,
        # down to the data loop, from the top of the function that holds it
        lead_statements([frame.scope.node, *frame.place.statements()[: plan.boundary.depth + 1]]),
        plan.frame_values,
        ends,
    )
    # a loss function handed the epoch, which computes the weight from it (read up to the loop's end)
    # (and an object told the counters above the data loop: criterion.set_epoch(epoch), read by its forward)
    calls = [*before_the_batch([frame.scope.node, *frame.place.statements()[: plan.boundary.depth + 1]]), *plan.region]
    inside = callee_schedules(calls, counters, _step_namespace(fn, plan.frame_values), {}, sandbox, ends) if counters else []
    found += [s for s in inside if s.name not in {o.name for o in found}]
    from vaelint.frontends.training.handedschedules import handed_schedules

    found += [
        s for s in handed_schedules(plan, frame, _step_namespace(fn, plan.frame_values), sandbox) if s.name not in {o.name for o in found}
    ]
    return found + [s for s in _trainers_counters(plan, frame, sandbox) if s.name not in {o.name for o in found}]


def _trainers_counters(plan, frame, sandbox) -> list:
    """A LightningModule's step a real Trainer ran: its counters are the module's own,
    ``self.current_epoch`` and ``self.global_step`` (the loop is the Trainer's), read as the
    Lightning front end reads them (``vae_loss(..., self.current_epoch)`` warming its KL up)."""
    module = (plan.frame_values or {}).get("self")
    if module is None or not any(c.__name__ == "LightningModule" for c in type(module).__mro__):
        return []
    from vaelint.frontends.training.calleeschedules import callee_schedules
    from vaelint.frontends.training.moduleschedules import find_module_schedules

    method = getattr(module, getattr(frame.scope.node, "name", ""), None)
    found = find_module_schedules(method, module, frame.scope.path, "", sandbox) if callable(method) else []
    namespace = {**getattr(method, "__globals__", {}), **plan.frame_values}
    counters = {"self.current_epoch", "self.global_step"}
    return found + [s for s in callee_schedules(plan.region, counters, namespace, {}, sandbox) if s.name not in {f.name for f in found}]


def _stepped_objects(plan, fn, sandbox, home, counted: set) -> list:
    """``beta = annealer()`` with ``annealer.step()`` later in the loop: read on an advanced copy."""
    from vaelint.frontends.training.steppedobjects import stepped_object_schedules

    frame = plan.frames[plan.boundary.frame_index]
    loops = [s for s in frame.place.statements()[: plan.boundary.depth + 1] if isinstance(s, (ast.For, ast.AsyncFor, ast.While))]
    found = stepped_object_schedules(
        fn,
        plan.region,
        loops[-1].body if loops else plan.region,
        frame.scope.path,
        source_text(frame.scope, home),
        sandbox,
        plan.frame_values,
    )
    return [s for s in found if s.name not in counted]


def step_description(path: str, qualname: str, lines: tuple[int, int], backward: int) -> str:
    """``the training step of train.py:train (lines 56-61, backward at line 61)``;
    in a notebook ``the training step of nb.ipynb (cell 9, lines 2-6, backward at line 6)``."""
    from vaelint.source.cells import cell_of

    first, last = lines
    cells = [cell_of(path, n) for n in (first, last, backward)]
    if all(cells) and len({c[0] for c in cells}) == 1:
        (cell, a), (_, b), (_, c) = cells
        return f"the training step of {display_path(path)} (cell {cell}, lines {a}-{b}, backward at line {c})"
    name = f"{display_path(path)}:{qualname}" if qualname else display_path(path)
    return f"the training step of {name} (lines {first}-{last}, backward at line {backward})"


def source_text(scope, home) -> str:
    if scope.path == home.path:
        return home.text
    from vaelint.source.files import read_source

    try:
        return read_source(scope.path)
    except (OSError, ValueError):
        return ""


class _Namespace:
    """A module-like view of the globals the step runs in (rules read ``.__dict__``)."""

    def __init__(self, globals_: dict):
        self.__dict__ = globals_
