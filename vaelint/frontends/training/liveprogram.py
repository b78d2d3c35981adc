"""The Program of training code found by running it (:mod:`.liverun`): the run to the first VAE
backward, the step read off its frames (:mod:`.livestep`), handed to the same Program builder as
the rest of the training front end (:mod:`.program`)."""

from __future__ import annotations

import ast
import os

from vaelint.errors import ChoosesCuda, VaelintError, error_text
from vaelint.frontends.lightningstep import quiet_logging
from vaelint.frontends.training.batchspecs import listed_items, nested_specs, valued, with_batch
from vaelint.frontends.training.liveafterpass import stopped_later_in_its_loop
from vaelint.frontends.training.livebatchsize import record_loader, stop_text, the_loaders_batch
from vaelint.frontends.training.livecudaguard import met_another_device
from vaelint.frontends.training.livehints import batch_given_whole, step_raised_a_shape_error
from vaelint.frontends.training.livemodelmoves import say_where_things_are
from vaelint.frontends.training.livenoise import frozen_only
from vaelint.frontends.training.livenotes import imported_step, later_loops, moves, outside, passed_over, reaches, split_backwards
from vaelint.frontends.training.livesetupfailed import own_setup_failed
from vaelint.frontends.training.livewhy import stopped_at_a_missing_package, stopped_by_a_transform
from vaelint.frontends.training.madebatches import made_in_full
from vaelint.frontends.training.ownbatch import at_batch
from vaelint.frontends.training.torchlibs import claim_trainer_libraries
from vaelint.source.frames import display_path


def live_program(frontend, ref, request, home):
    """Run ``ref`` as written to its first VAE backward; its Program (none reached: why, raised)."""
    from vaelint.frontends.training.live import Watch
    from vaelint.frontends.training.livebatch import batch_maker
    from vaelint.frontends.training.livemodelraised import model_that_raised
    from vaelint.frontends.training.liverun import LiveRuntime, run_target
    from vaelint.frontends.training.sandbox import Sandbox

    request.progress("build")
    _fresh_check(home)
    make = batch_maker(list(request.inputs))
    watch = Watch(list(request.inputs), None)
    watch.make_batch = lambda loader: (record_loader(watch, loader), make(loader, watch.taking))[1]
    runtime = LiveRuntime(home.path, batch_count=lambda: watch.batches, watch_now=lambda: (watch.taken, watch.rounds))
    sandbox = Sandbox(home.path, data_given=bool(request.inputs))
    sandbox.on_step = watch.stepped
    sites: dict = {}
    capture = run_target(ref, request, home, watch, runtime, sandbox, sites)
    if getattr(runtime, "argv_error", None) is not None:
        raise runtime.argv_error
    watch.built = [m for m in watch.built if not _half_built(m, runtime)]
    failed = capture is None and (_own_step_failed(runtime, watch) or stopped_by_a_transform(runtime))
    if capture is None and runtime.stops and met_another_device(runtime.stops[0][1]):
        where, error = runtime.stops[0]
        raise ChoosesCuda(f"{type(error).__name__} at {where}" if where else type(error).__name__)
    trained = None if failed else _lightning(ref, request, watch, capture, sandbox, sites)
    if trained is not None:
        if capture is None and runtime.stops:  # the module handed to the trainer; the run stopped before a batch
            from vaelint.frontends.training.livewhy import why_not

            trained.notes.insert(0, f"running the code as written did not reach its step ({why_not(runtime, watch, home).rstrip('.')})")
        return trained
    if capture is None and (raised := model_that_raised(frontend, ref, request, home, runtime, watch)) is not None:
        return raised  # a shape error inside the model: VAE013 says it on the batch the step gave it
    if capture is None:
        raise _no_step(frontend, ref, request, home, runtime, watch, sandbox, sites, make, failed)
    if ref.name and not reaches(capture, ref.name):
        raise outside(ref, capture, imported_step(capture))
    notes = _reached_notes(ref, runtime, capture)
    notes += passed_over(watch, split := split_backwards(watch, capture)) + later_loops(home, capture)  # before _let_go
    program = _program(frontend, ref, request, home, capture, runtime, sandbox, sites, make)
    program.notes[:0], program.split_backward = notes + moves(runtime, watch), split
    _finish(program, request, watch, home, capture)
    _let_go(capture, watch, runtime)
    return program


def _fresh_check(home) -> None:
    """What an earlier check of this process said is forgotten (uses of failed imports, modules
    left out, folders committed empty); the libraries the code trains through are its own."""
    from vaelint.frontends.installadvice import NOT_INSTALLED
    from vaelint.frontends.placeholders import LEFT_OUT, MISSING_USED
    from vaelint.frontends.training.livelistings import HELD_EMPTY

    for said in (MISSING_USED, LEFT_OUT, HELD_EMPTY, NOT_INSTALLED):
        said.clear()
    _keras_on_torch(home)
    claim_trainer_libraries(home)


def _no_step(frontend, ref, request, home, runtime, watch, sandbox, sites, make, failed) -> VaelintError:
    """The run reached no VAE backward: what ran and where it stopped, with the backwards it passed over."""
    from vaelint.frontends.training.livewhy import why_not
    from vaelint.frontends.training.uncalled import said as never_trains

    # a script run whole whose training function nothing it runs reaches: said beside where it stopped
    untrained = never_trains(display_path(home.path), home.tree) if ref.name is None else ""
    error = VaelintError("load", f"{ref.spec}: no training step to check: {why_not(runtime, watch, home, sandbox).rstrip('.')}{untrained}.")
    error.own_step_failed = failed
    error.noise_elsewhere = watch.numpy_noise  # noise the run could not follow: reading the code decides
    error.definition_failed = any(getattr(e, "definition", False) for _where, e in runtime.stops[:1])
    error.step_raised = bool(watch.model_calls and runtime.stops and runtime.stops[0][0])  # past the model, in the step
    # the backwards the run passed over (a classifier's, a discriminator's): reading the code
    # tries other steps before these
    error.passed_sites = {(os.path.realpath(c.frames[-1][0].f_code.co_filename), c.frames[-1][1][0]) for c in watch.passed if c.frames}
    # a package the code uses that is not here stops the user's run there too (piq in a metric after
    # a plain AE's epoch, a VAE phase after it): the stop is the answer, not the backward passed over
    error.missing_package = stopped_at_a_missing_package(runtime)
    error.own_setup_failed = own_setup_failed(runtime, request, sandbox, error.message)
    error.batch_whole = batch_given_whole(runtime, watch)  # model(batch) of a TensorDataset's [x]: VAE013 where read
    error.shape_stop = step_raised_a_shape_error(runtime, watch)  # h[:, 1] of a B x 1 x k output: VAE013 where read
    # --input's batch of a size the code's loaders never make, raising a shape error: run again at theirs
    error.loader_batch = the_loaders_batch(runtime, watch, request)
    error.stop_text = stop_text(runtime) if runtime.stops else ""
    later = stopped_later_in_its_loop(runtime, watch)  # torch.cuda.synchronize() after a VQ-VAE's opt.step()
    if watch.passed and not error.missing_package and (not runtime.stops or runtime.stopped_here or watch.rounds or later):
        if (frozen := frozen_only(watch)) is not None:
            # samples drawn under no_grad (a world model's latents): the backwards passed over train another net
            error.message, error.own_step_failed = f"{ref.spec}: no training step of a VAE to check: {frozen}", True
            return error
        # only backwards whose loss reaches no random sample (a VQ-VAE, a WAE; or a pretraining
        # phase, which reading the code leaves out): the first is the step when nothing else is
        passed = _passed_step(watch)
        error.build = lambda: _passed_program(frontend, ref, request, home, passed, runtime, watch, sandbox, sites, make)
    return error


def _passed_step(watch):
    """Of the backwards passed over, the first whose loss reaches the weights that make a drawn
    sample's heads (a VAE-GAN's encoder loss beside its KL, where the sample reached the generator
    detached in the critic's step before it); else the first (a VQ-VAE's, a WAE's)."""
    from vaelint.frontends.training.autogradwalk import autograd_nodes
    from vaelint.frontends.training.liveinner import parameters_reached

    nodes = autograd_nodes(list(watch.noisy_nodes.values()), limit=None) if watch.noisy_nodes else []
    heads = {id(n.variable) for n in nodes if getattr(n, "variable", None) is not None}
    for capture in watch.passed if heads else ():
        if capture.loss is None:
            continue  # an earlier batch's, let go of (its frames and batch are gone): not buildable
        if heads & parameters_reached([capture.loss]):
            return capture
    return watch.passed[0]


def _own_step_failed(runtime, watch) -> bool:
    """Did the step itself raise on the code's own data (its own loader's batch, no --input, nothing
    stood in: ``for x in loader: model(x)`` on a TensorDataset's ``[x]``), or its model on any data (an
    API its code uses is gone: np.int)? The user's run fails the same way: it is what they must hear."""
    from vaelint.frontends.training.livedata import STOOD_IN
    from vaelint.frontends.training.livehints import a_shape_error, in_a_module
    from vaelint.frontends.training.livestepped import BrokenByAStep

    if runtime.stops and isinstance(runtime.stops[0][1], BrokenByAStep):
        return True  # its backward refused the weights a step before it changed: on any data
    if not runtime.stops or watch.taken is None or not watch.model_calls:
        return False
    _where, error = runtime.stops[0]
    if isinstance(error, (AttributeError, NameError, ImportError)) and in_a_module(error) and "StandIn" not in str(error):
        return True
    if watch.specs or STOOD_IN or a_shape_error(error):  # unlike sizes: VAE003/VAE013 say it, with a fix
        return False
    return (
        # a print of a term the loss dict no longer has (terms["mse"]: KeyError), a name the step lost
        isinstance(error, (TypeError, ValueError, LookupError, RuntimeError, AttributeError, NameError))
        and not isinstance(error, VaelintError)
        and "cuda" not in str(error).lower()
    )


def _half_built(module, runtime) -> bool:
    """Did ``module``'s own ``__init__`` raise (``self.lpips = load_weights()`` past
    ``super().__init__()``, where it was seen built)? Such a module is no model to check: the
    run's stop says why."""
    for _where, error in getattr(runtime, "stops", []):
        tb = getattr(error, "__traceback__", None)
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is module:
                return True
            tb = tb.tb_next
    return False


def _let_go(capture, watch, runtime) -> None:
    """The run's forward is over once its step is read: its loss, the frames' variables and the
    model calls it watched hold that forward's autograd graph (every activation), which the
    checks that follow never read. A run frame kept by a stop's traceback holds them too."""
    capture.loss, capture.frames, capture.model_calls = None, [], []
    watch.model_calls, watch.noise, watch.noisy_nodes, watch.passed, watch.first_output = [], [], {}, [], None
    for error in [watch.reached, *(e for _where, e in getattr(runtime, "stops", []))]:
        if isinstance(error, BaseException):
            error.__traceback__ = None  # the frames it ran through hold the loss


def _keras_on_torch(home) -> None:
    """Keras imported by the script or its repository's files loads on the torch backend (its fit backpropagates through torch)."""
    from vaelint.frontends.keras.loading import imports_keras, use_torch_backend
    from vaelint.frontends.training.repofiles import neighbours

    if any(imports_keras(f.tree) for f in [home, *neighbours(home.path)]):
        use_torch_backend(home.path)


def _finish(program, request, watch, home, capture) -> None:
    """The inputs the run's batch says, whether the code can put a tensor on a wrong device,
    which of its data sets stood in, and which parameters other backwards train."""
    from vaelint.frontends.training.livecudaguard import GUARDS_PASSED
    from vaelint.frontends.training.livedata import STOOD_IN
    from vaelint.frontends.training.liveoptim import backward_elsewhere, optimisers_in, trained_by_other_optimisers

    program.notes.extend(n for n in STOOD_IN if n not in program.notes)
    program.notes.extend(
        f"the code's check at {w} stops it without CUDA: vaelint let it past, as a GPU machine would, and ran the "
        "code on the CPU (its moves to CUDA kept there)"
        for w in GUARDS_PASSED
    )
    step, site = program.live_step, capture.frames[-1] if capture.frames else None
    later = site is not None and backward_elsewhere(site[0].f_code.co_filename, site[1][0])
    program.sampled_at = f"{display_path(site[0].f_code.co_filename)}:{site[1][0]}" if site is not None and capture.vae else ""
    program.optimisers = optimisers_in(step.values, step.module_globals)
    program.trained_elsewhere = _trained_by(watch.passed) | trained_by_other_optimisers(
        program.optimisers, _parameters_reached(capture.loss), later
    )
    say_where_things_are(program, watch, home)
    _inputs_of(program, request, program.live_step.batch_value, program.live_step.loader)
    made_in_full(program)  # no loader, and the code makes every batch the same number of rows


def _trained_by(passed) -> set:
    """id()s of the parameters the losses of the backwards the run passed over before the VAE's
    reach (a discriminator's): read from the loss, or kept where the loss was let go."""
    return set().union(*(c.reached if c.loss is None else _parameters_reached(c.loss) for c in passed))


def _inputs_of(program, request, batch_value, loader) -> None:
    """The inputs the run's batch says: of a known data set (what it is, and its loader's batch
    size), else of the tensors the code made; with ``--input`` given for only the first items of
    the batch, the rest as the code made them (a data set's labels)."""
    from vaelint.frontends.training.datasets import infer_inputs
    from vaelint.frontends.training.livebatch import OWN_ROWS
    from vaelint.frontends.training.livebatch import as_known as _as_known
    from vaelint.inputs import MADE_BY_THE_CODE, parse_input_spec

    size = getattr(loader, "batch_size", None) if loader is not None else None
    (specs, nested), origin = nested_specs(program, batch_value, size if isinstance(size, int) else None), ""
    program.batch_dim_known = isinstance(size, int) and any(s.batch == size for s in specs)
    known = infer_inputs(_as_known(loader)) if loader is not None else None
    named = [parse_input_spec(t) for t in known.specs] if known is not None else []
    if named and len(named) == len(specs) and all(k.shape == s.shape for k, s in zip(named, specs)):
        # what the data set is, as the code built it (its collate function kept the items' layout)
        specs, origin = valued(named, specs, known.origin.startswith("TensorDataset")), f"inferred from {known.origin}"
    elif specs:
        origin = f"{MADE_BY_THE_CODE} ({', '.join(s.shown() for s in specs)})"
    positional = [s for s in request.inputs if not s.name]
    if request.inputs and specs and loader is not None and any(loader is own for own in OWN_ROWS):
        # the loader gave rows of the code's own tensors, made from --input's rows and changed by the code
        program.inputs, program.inputs_over_given = specs, True
        program.inputs_origin = (
            "the rows of the data set the code made: its data file stood in as rows of --input, and the code changed "
            f"them before its TensorDataset ({' x '.join(map(str, specs[0].sample_shape))} a sample, not --input's "
            f"{' x '.join(map(str, positional[0].sample_shape)) if positional else '?'})"
        )
    elif not request.inputs and specs:
        program.inputs, program.inputs_origin = specs, origin
    elif positional and len(specs) > len(positional) and not any(s.name for s in request.inputs):
        batch = positional[0].batch
        rest = [parse_input_spec(with_batch(s, batch)) for s in specs[len(positional) :]]
        program.inputs = [*positional, *rest]
        program.inputs_origin = f"the rest of the batch, {origin}"
    listed_items(program)  # a list of lengths in the batch: given to the step as a list
    if nested and program.inputs is specs:
        program.inputs_origin += nested


def _lightning(ref, request, watch, capture, sandbox, sites):
    """A LightningModule the code built and handed to a trainer (``instantiate(cfg.model)``,
    ``trainer.fit(model)``): its training_step is the step, as for a LightningModule named as
    the target. Where the trainer ran it (Lightning installed) the loss reaches its parameters;
    where the trainer stands in, the run ends with the module built and no backward."""
    from types import SimpleNamespace

    from vaelint.frontends.lightning import LightningFrontend
    from vaelint.frontends.training.livestep import step_from

    if capture is not None:
        try:
            step_from(capture)
            quiet_logging(*dict.fromkeys(watch.built))  # its training_step's self.log() (the Trainer's loop is over)
            return None  # the user's own frames hold the step
        except VaelintError:
            module = lightning_module(watch, capture.loss)
    else:
        module = lightning_module(watch)
    if module is None:
        return None
    program = LightningFrontend()._program(ref, request, module, None, SimpleNamespace(sandbox=sandbox, sites=sites))
    program.notes.insert(0, f"the step is {type(module).__name__}.training_step: the code hands the module to a trainer")
    if watch.taken is not None:  # the batch its trainer took from the loader
        _inputs_of(program, request, watch.taken.value, watch.taken.loader)
    return program


def _passed_program(frontend, ref, request, home, capture, runtime, watch, sandbox, sites, make):
    from vaelint.frontends.training.livenotes import stopped_after

    program = _program(frontend, ref, request, home, capture, runtime, sandbox, sites, make)
    drawn = (
        "this step draws its noise with NumPy (np.random), which the run cannot follow into the loss"
        if watch.numpy_noise
        else "the loss this step backpropagates reaches no random sample the step draws"
    )
    program.notes[:0] = [f"{drawn}: it is checked as the model's training step", *moves(runtime, watch), *stopped_after(runtime, watch)]
    _finish(program, request, watch, home, capture)
    return program


def _program(frontend, ref, request, home, capture, runtime, sandbox, sites, make):
    """The step read off the capture, compiled, handed to the training front end's Program builder."""
    from vaelint.frontends.training.livecompile import compile_step
    from vaelint.frontends.training.livestep import step_from
    from vaelint.frontends.training.program import step_program
    from vaelint.frontends.training.runtime import StepReady

    step, taken = step_from(capture), capture.taken
    if step.is_module and step.loader is not None and taken.pristine:
        step.module_globals.update(taken.pristine)  # a warm-up object as the batch found it
    first = step.source.lineno if step.kind != "param" else step.region[0].lineno
    runtime.path = step.scope.path
    runtime.zipped, runtime.globals_then = (taken.parts, taken.moved or {}) if taken is not None else ((), {})  # zip(a, b); global beta
    runtime.site = (step.site.place.scope.path, step.site.place.statement.lineno, step.site.place.statement.end_lineno)
    spec_batch = request.inputs[0].batch if request.inputs else None
    runtime.batches = lambda loader, frame=None: at_batch(lambda: make(loader, frame), getattr(runtime, "batch_now", None), spec_batch)
    fn = compile_step(step, runtime, name=step.scope.name if not step.is_module else "step")
    ready = StepReady(fn, 0, (lambda: step.loader) if step.loader is not None else None)
    program = step_program(frontend, ref, request, _plan(home, step, first), ready, runtime, sandbox, sites, home, [])
    program.live_step = step
    return program


def _said(error) -> str:
    return error.message if isinstance(error, VaelintError) else error_text(error)


def _reached_notes(ref, runtime, capture) -> list[str]:
    """What the report says of how the run reached the step: through a script that calls the named
    target, by vaelint's own call of it, or at the top level of a module the code imports."""
    notes = []
    imported = imported_step(capture)
    if imported is not None:
        notes.append(
            f"the step checked is the one at {imported[0]}, run when the code imports its module ({imported[1]}): "
            "that module trains at its top level, before the script's own code runs (put its training under "
            '`if __name__ == "__main__":` to check the script\'s own step)'
        )
    if ref.name and runtime.via and not runtime.guard_stops:
        notes.append(
            f"{ref.name} was reached through {display_path(runtime.via)}, the script that calls it, run as "
            f"`python {os.path.basename(runtime.via)}` runs it (--script-args gives its arguments)"
        )
    if ref.name and runtime.guard_stops:
        where, error = runtime.guard_stops[0]
        notes.append(
            f"the script's own way to {ref.name} did not reach it ({where + ': ' if where else ''}{_said(error)}), "
            f"so vaelint called {ref.name} itself, its parameters standing in"
        )
    return notes


def _plan(home, step, first: int):
    from vaelint.frontends.training.liverun import LiveBoundary
    from vaelint.frontends.training.rewrite import Plan

    kind = {"loop": "loop", "assign": "next", "free": "free", "param": "param"}[step.kind]
    statements = step.place.statements()
    depth = next((i for i, s in enumerate(statements) if s is step.source), len(statements) - 1)
    boundary = LiveBoundary(0, depth, 0, kind, [step.source] if kind != "param" else [], list(step.names))
    index_var = None
    if step.kind == "loop" and isinstance(step.source.target, ast.Tuple):
        index_var = next((e.id for e in step.source.target.elts if isinstance(e, ast.Name) and e.id not in step.names), None)
    last = step.site.place.line if step.site.place.scope is step.scope else step.place.statement.end_lineno
    return Plan(
        step.file, {}, step.frames, step.site, boundary, list(step.names), region_lines=(first, last), region=step.region,
        index_var=index_var, callers=list(step.callers), frame_values=dict(step.values),
    )  # fmt: skip


def lightning_module(watch, loss=None):
    """The LightningModule the code built and a trainer runs (its training_step computes the
    loss, the trainer's library backpropagates it): the outermost one whose parameters the
    loss reaches, or, with no loss, the outermost one built."""
    modules = list(dict.fromkeys(watch.built))
    inside = {id(sub) for m in modules for sub in m.modules() if sub is not m}
    modules = [m for m in modules if id(m) not in inside]
    if loss is not None:
        reached = _parameters_reached(loss)
        modules = [m for m in modules if any(id(p) in reached for p in m.parameters())]
    return modules[0] if len(modules) == 1 else None


def _parameters_reached(loss) -> set:
    from vaelint.frontends.training.liveinner import parameters_reached

    return parameters_reached([loss])
