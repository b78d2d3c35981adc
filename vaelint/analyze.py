"""One target through the pipeline: load -> capture -> shapes -> roles -> rules -> confirm.

Each stage lives in its own folder (README, "How it works"); this module only sequences them,
hands each stage the typed result of the one before (Loaded, Shaped, the Context), and turns
whatever goes wrong into a :class:`TargetResult` with an error, never a traceback."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import traceback
import warnings
from dataclasses import dataclass

import torch

from vaelint.capture.batchdim import SequenceFirstData
from vaelint.capture.inputcheck import (
    check_inputs,
    check_token_ids,
    gather_inputs,
    input_misfit,
    keyed_input,
    one_sample_in_training_norm,
    unexplained,
)
from vaelint.capture.route import Captured, CaptureJob
from vaelint.capture.routes import capture_and_run
from vaelint.capturechecks import binary_data, forward_has_loss, guessed_loss_raised, sequence_first_batch
from vaelint.catalogue import offer_fixes, run_rules, selected_rules
from vaelint.confirm.devicechoice import ChoosesCuda, cuda_hidden, cuda_kept_said, forget_device_choices
from vaelint.confirm.forward_backward import fits, lives_on, pick_device
from vaelint.confirm.stage import confirm_findings
from vaelint.contracts.check import name_held_dims
from vaelint.diagnostics import Finding, TargetResult
from vaelint.errorkinds import kind_of
from vaelint.errors import ForwardHasLoss, VaelintError
from vaelint.facts.context import Context, build_context
from vaelint.facts.flow import alike_once, beta_effective, flow_rows, loss_reading
from vaelint.facts.shapes import make_inputs, run_batches
from vaelint.facts.unread import no_sample_read, read_step_is_no_vae, say_zero_weights
from vaelint.frontends import LoadRequest, Program, choose, load_program, parse_ref
from vaelint.frontends.legacycuda import CUDA_DEFAULT
from vaelint.frontends.lossfind import LossPlan
from vaelint.frontends.lossnamedhere import what_to_check
from vaelint.frontends.placeholders import notes_mark, stood_in
from vaelint.frontends.plain import refuse_without_a_forward
from vaelint.inputs import InputSpec
from vaelint.modes import set_training
from vaelint.runtime.timelimit import TimedOut, time_limit
from vaelint.settings.options import Options
from vaelint.source.cells import exported_notebook, where
from vaelint.source.frames import boundary, unclaim_all, user_frame_of_traceback
from vaelint.vocab import ErrorKind

__all__ = ["Options", "analyse"]


@boundary
def analyse(target: str, options: Options) -> TargetResult:
    unclaim_all()  # what the last check in this process read as the user's code is a library again
    result = TargetResult(target)
    # torch's process-wide defaults the user's code may set (set_default_device, set_default_dtype): put back after each target
    device = torch.get_default_device() if hasattr(torch, "get_default_device") else None  # torch >= 2.3
    dtype, grad = torch.get_default_dtype(), torch.is_grad_enabled()
    try:
        with time_limit(options.timeout):
            _seeded_analysis(target, options, result)
    except TimedOut as e:
        loc = user_frame_of_traceback(e.__traceback__)
        running = f" (it was running {where(loc.path, loc.line)})" if loc else ""
        result.error = VaelintError(
            "timeout",
            f"{target}: the analysis did not finish within {options.timeout:g} s{running}. A forward "
            "that never returns, or a model too slow for this input: fix the loop, check with a "
            "smaller --input, or raise --timeout.",
        )
    finally:
        if device is not None:  # asking the device the code set (CUDA, on a CPU build) would raise: set anew
            torch.set_default_device(None if device == torch.device("cpu") else device)
        torch.set_default_dtype(dtype)
        torch.set_grad_enabled(grad)
        CUDA_DEFAULT.clear()  # a legacy CUDA default tensor type, as the run kept it (vaelint/frontends/legacycuda.py)
    return result


def _seeded_analysis(target: str, options: Options, result: TargetResult) -> None:
    try:
        # Seeded for reproducible weights and noise; the caller's RNG state is
        # restored afterwards.
        from vaelint.source.overlay import standing_in

        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]), standing_in(options.sources):
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            imported_before = set(sys.modules)
            try:
                with cuda_kept_said(result.notes):
                    _analyse(target, options, result)
            except SequenceFirstData as seq:  # the data stood in at dim 0 of a (T, B, F) --input: made again
                forget_device_choices(imported_before)
                fresh = TargetResult(target)
                torch.manual_seed(0)
                inputs = [b if a.batch_dim is None or a.batch_dim == 0 else a for a, b in zip(options.inputs, seq.args[1])]
                _analyse(target, dataclasses.replace(options, batch_dim=1, inputs=inputs), fresh)
                fresh.notes.insert(0, f"{seq.args[0]} (the data standing in for the code's files was made again with it there)")
                result.__dict__.update(fresh.__dict__)
            except ChoosesCuda as chose:
                # check it as on a machine without a GPU, where its code picks the CPU:
                # loaded again with CUDA hidden, confirmed on the CPU
                forget_device_choices(imported_before)
                fresh = TargetResult(target)
                # the code's own moves to CUDA stay on the CPU there, as on a machine without one
                with cuda_hidden(), cuda_kept_said(fresh.notes):
                    torch.manual_seed(0)
                    _analyse(target, dataclasses.replace(options, device="cpu"), fresh)
                fresh.notes = [n.replace("this machine has no CUDA", "CUDA is hidden for this check") for n in fresh.notes]
                fresh.notes.insert(
                    0,
                    (
                        f"the model's code puts tensors on this machine's GPU by itself ({chose}) while vaelint's "
                        "stages run on the CPU: it was checked with CUDA hidden, as on a machine without a GPU, "
                        "and confirmed on the CPU"
                    ),
                )
                result.__dict__.update(fresh.__dict__)
    except VaelintError as e:
        from vaelint.frontends.training.ways import after_the_run

        result.error = after_the_run(e, result.notes)  # the run's stop in its step first, where it had one
    except Exception as e:  # noqa: BLE001 - a bug of ours: say so, with where
        frame = traceback.extract_tb(e.__traceback__)[-1]
        result.error = VaelintError(
            "internal",
            f"vaelint failed while analysing {target}: {type(e).__name__}: {e} "
            f"(at {frame.filename}:{frame.lineno}). This is a bug in vaelint; please report it "
            "with the model file." + ("\n" + "".join(traceback.format_exception(e)) if os.environ.get("VAELINT_DEBUG") else ""),
            # VAELINT_DEBUG=1: the whole traceback (the model's output is captured, stderr with it)
        )


def _analyse(target: str, options: Options, result: TargetResult) -> None:
    progress = options.progress or (lambda stage: None)
    loaded = _load_stage(target, options, result, progress)
    shaped = _capture_stage(target, loaded, result, progress)
    # what the program learned while its step ran (a move to a CUDA this machine lacks)
    result.notes.extend(n for n in loaded.program.notes if n not in result.notes)
    ctx = _roles_stage(target, loaded, shaped, options, result)
    progress("rules")
    findings = run_rules(selected_rules(options), ctx, result)
    no_sample_read(loaded.program, ctx, findings)
    read_step_is_no_vae(loaded.program, ctx, findings)
    say_zero_weights(ctx, result)
    if ctx.failure is not None and not findings:
        # a rule claimed the crash but reported nothing about it: never "no findings" on a model that raises
        raise unexplained(target, shaped.specs, ctx.failure, loaded.program.setup_failures)
    result.notes.extend(ctx.notes)
    if loaded.device is not None:
        confirm_findings(ctx, findings, loaded.device, loaded.keep_graph, result, progress)
    if options.fixes:
        offer_fixes(findings, ctx, result)
    result.findings = sorted((reported.finding for _rule, reported in findings), key=Finding.sort_key)
    if options.annotate:
        from vaelint.contracts.proposals import propose

        result.annotations = propose(ctx)


# --------------------------------------------------------------------------- load


@dataclass
class Loaded:
    """Load's hand-off: the program, its inputs, and how the later stages run it."""

    program: Program
    specs: list[InputSpec]  # positional first, keyword (NAME=SPEC) after
    device: str | None  # the confirmation pass's device; None: no pass
    keep_graph: bool  # the run at the user's batch keeps its autograd graph for the pass
    contracts: object  # the user's annotated functions (vaelint/contracts/annotations.py); None: none
    initial_buffers: dict  # for a capture that starts over (BatchNorm's running statistics)
    batch_dim_given: bool = False  # --batch-dim (or the target's batch-dim) says where the batch is

    def start_over(self) -> None:
        """A run changes buffers only, never the weights: put those back."""
        self.program.model.load_state_dict(self.initial_buffers, strict=False)


def _load_stage(target: str, options: Options, result: TargetResult, progress) -> Loaded:
    if options.inputs or not _may_infer_inputs(target):
        check_inputs(options.inputs)
    device = _check_device(options) if options.dynamic else None
    before = notes_mark()
    program = _load(target, options, progress)
    refuse_without_a_forward(target, program, options.inputs)  # model.elbo(x, w) its training calls: what to give
    result.notes.extend(program.notes + stood_in(before) + exported_notebook(program.path))
    specs = gather_inputs(program, options, result.notes)
    from torch.nn.parameter import is_lazy

    set_training(program.model)
    _materialise_lazy(program.model, specs)
    if options.on_model is not None:
        options.on_model(program.model, sum(math.prod(s.shape) for s in specs))
    # a run changes buffers only (BatchNorm's running statistics), never the weights:
    # keep those, not a second copy of the model, for a run that starts over
    initial_buffers = {k: v.clone() for k, v in program.model.named_buffers() if not is_lazy(v)}  # a lazy one: no value yet
    # where the model already is (the CPU, or the GPU the code moved it to) the confirmation pass
    # takes the shape stage's run at the user's batch (kept with its autograd graph) instead of
    # running the forward again
    keep_graph = device is not None and lives_on(program.model, device) and fits(program.model, device) is None
    plan = program.loss
    result.loss_name = plan.name if plan else program.step.description if program.step else None
    return Loaded(
        program,
        specs,
        device,
        keep_graph,
        _contracts(program, options, result),
        initial_buffers,
        options.batch_dim is not None or program.batch_dim_known,
    )


def _materialise_lazy(model, specs) -> None:
    """Lazy modules (nn.LazyConv2d, nn.LazyLinear) have no parameters until a first forward fixes
    their shapes; counting or copying them before one raises. One forward at the user's batch, as
    torch advises, gives them their shapes; a forward that fails leaves them to the stages after."""
    import torch
    from torch.nn.modules.lazy import LazyModuleMixin

    if not any(isinstance(m, LazyModuleMixin) and m.has_uninitialized_params() for m in model.modules()):
        return
    try:
        with torch.no_grad():
            model(*make_inputs(specs, specs[0].batch))
    except Exception:  # noqa: BLE001 - the capture runs the model again and says what it raises
        pass


def _load(target: str, options: Options, progress) -> Program:
    """The front end that knows this way of writing VAE code turns the target into a Program."""
    request = LoadRequest(
        init=options.init,
        loss=options.loss,
        loss_kwargs=options.loss_kwargs,
        inputs=list(options.inputs),
        script_args=list(options.script_args),
        progress=progress,
    )
    return load_program(target, request)  # with TorchScript off while the code loads


# --------------------------------------------------------------------------- capture and shapes


@dataclass
class Shaped:
    """Capture's hand-off: the graph the routes gave (vaelint/capture/routes.py) with
    the shapes stage's runs, and the loss and inputs it was captured with."""

    plan: LossPlan | None
    specs: list[InputSpec]
    captured: Captured
    guessed: bool  # a loss bound by position alone raised, and was dropped


def _capture_stage(target: str, loaded: Loaded, result: TargetResult, progress) -> Shaped:
    """Capture, revised where the first capture shows the loss or the inputs cannot
    serve as they were: the forward returns its own loss, a loss bound by a guess
    raised, a distribution wants binary data. Each check is asked once, in order."""
    shaped = Shaped(loaded.program.loss, loaded.specs, None, False)
    checks = [guessed_loss_raised, binary_data, sequence_first_batch]
    while True:
        try:
            job = CaptureJob(
                loaded.program,
                shaped.plan,
                shaped.specs,
                make_inputs(shaped.specs, shaped.specs[0].batch),
                progress,
                loaded.keep_graph,
                loaded.contracts,
            )
            shaped.captured = capture_and_run(job, run=run_batches)
        except ForwardHasLoss:
            if shaped.plan is None:
                raise
            forward_has_loss(shaped, result)
            loaded.start_over()
            continue
        while checks:
            if checks.pop(0)(shaped, loaded, result):
                loaded.start_over()
                break
        else:
            break
    cap, runs, binder = shaped.captured.capture, shaped.captured.runs, shaped.captured.binder
    check_token_ids(target, shaped.specs, cap, runs)
    result.capture_method = cap.method
    result.fallback_reason = cap.fallback_reason
    result.batch = shaped.specs[0].batch
    if binder is not None and binder.binding is not None:
        result.binding = binder.binding.descriptions
    elif loaded.program.loss_missing_reason:
        result.notes.append(f"binding tried: {', '.join(f'{p} <- {s}' for p, s in result.binding)}")
        result.binding = []
    return shaped


# --------------------------------------------------------------------------- roles


def _roles_stage(target: str, loaded: Loaded, shaped: Shaped, options: Options, result: TargetResult) -> Context:
    """The roles and the facts the rules read; a run that raised is explained by a
    selected rule, or ends the check with exit 2."""
    program, specs = loaded.program, shaped.specs
    cap, runs = shaped.captured.capture, shaped.captured.runs
    ctx = build_context(program, specs, cap, runs, shaped.plan, options.beta)
    ctx.contracts = loaded.contracts
    name_held_dims(ctx)
    if runs.failure is not None:
        program.raise_deferred_error()  # e.g. a tf.* call in a Keras layer's call(): exit 2 naming it
        if kind_of(runs.failure.error) is ErrorKind.DEVICE and torch.cuda.is_available():
            at = runs.failure.loc.where() if runs.failure.loc else "its forward"
            raise ChoosesCuda(f"{type(runs.failure.error).__name__} at {at}")
        # the --input's, not the model's bug
        misfit = (
            keyed_input(ctx, runs.failure, specs)
            or input_misfit(ctx, runs.failure, specs)
            or one_sample_in_training_norm(ctx, runs.failure, specs)
        )
        if misfit is not None:
            raise misfit
        # only the rules the user selected may explain a failed run; otherwise it is exit 2
        if not any(rule.explains(runs.failure, ctx) for rule in selected_rules(options)):
            raise unexplained(target, specs, runs.failure, program.setup_failures)
    _say_which_loss(program, shaped, ctx, result)
    reading = loss_reading(ctx.roles)
    if reading:
        result.notes.append(reading)
    result.flow = flow_rows(ctx)
    if ctx.roles.inputs:
        result.input_text = f"{ctx.shape_text(ctx.roles.inputs[0]).split(' (')[0]} (B={specs[0].batch})"
    beta_effective(ctx, result)
    result.flow = alike_once(result.flow)
    return ctx


def _say_which_loss(program: Program, shaped: Shaped, ctx: Context, result: TargetResult) -> None:
    if shaped.plan is not None or program.step is not None:
        return  # the loss found, or the step's own loss
    if ctx.has_loss:
        paths = ctx.roles.total_paths
        where = "".join(f"[{p!r}]" for p in paths[0]) if len(paths) == 1 else ""
        result.loss_name = f"the forward's own out{where}" if where else "the forward's return value"
        if ctx.roles.total_per_sample:
            result.loss_name += " (one value per sample: its mean is checked, as a training step reduces it)"
    elif not shaped.guessed:
        result.notes.append(
            program.loss_missing_reason
            or "no loss found (no --loss, no loss_function/loss/compute_loss/elbo/vae_loss method or "
            f"function, no 'loss' in the forward's output): the loss rules were skipped.{what_to_check(program)}"
        )


# --------------------------------------------------------------------------- helpers


def _contracts(program, options: Options, result: TargetResult):
    """The user's annotated functions the capture watches (vaelint/contracts/annotations.py);
    None when the model's files have none (nothing is watched: no cost)."""
    from vaelint.contracts.annotations import find_contracts, may_have_contracts

    try:
        if not options.annotate and not may_have_contracts(program):
            return None
        return find_contracts(program, watch_unannotated=options.annotate) or None
    except Exception as e:  # noqa: BLE001 - annotations vaelint cannot read must not stop the check
        # never a silent pass: the summary lists VAE014 as not checked, and why
        result.skipped.append(("VAE014", f"the model's jaxtyping annotations could not be read ({type(e).__name__}: {e})"))
        return None


def _may_infer_inputs(target: str) -> bool:
    """A target whose front end may find its inputs itself (a training script that
    builds a known data set): --input is checked after loading, not before."""
    ref = parse_ref(target)
    # a whole file is a script (or not a target at all: its front end says so)
    return ref.name is None or choose(ref).infers_inputs


def _check_device(options: Options) -> str:
    device = pick_device(options.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VaelintError(
            "input", "--device cuda: no CUDA device is available here (torch.cuda.is_available() is False). Use --device auto or cpu."
        )
    return device
