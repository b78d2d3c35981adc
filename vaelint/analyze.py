"""One target through the pipeline: load -> capture -> shapes -> roles -> rules -> confirm.

Each stage lives in its own module; this one only sequences them and turns
whatever goes wrong into a :class:`TargetResult` with an error, never a
traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import os
import signal
import sys
import threading
import traceback
import warnings

import torch
import torch.fx as fx
from torch.fx.proxy import TraceError

from vaelint.capture import result as capture_mod
from vaelint.capture.symbolic import capture_fx
from vaelint.capture.recording import capture_recording
from vaelint.confirm.forward_backward import confirm_run, fits, pick_device, whole_model_checks
from vaelint.facts.context import Context
from vaelint.contracts.dimnames import from_annotations
from vaelint.diagnostics import Finding, TargetResult
from vaelint.confirm.devicechoice import ChoosesCuda, asserts_on_cuda, cuda_hidden, forget_device_choices
from vaelint.errorkinds import kind_of
from vaelint.errors import ForwardHasLoss, VaelintError
from vaelint.facts.flow import beta_effective, flow_rows, loss_reading
from vaelint.frames import boundary, user_frame_of_traceback
from vaelint.frontends.sourcemap import where
from vaelint.facts.graphview import GraphView
from vaelint.capture.inputcheck import binary_retry, check_inputs, check_token_ids, unexplained
from vaelint.frontends import LoadRequest, Program, choose, parse_ref
from vaelint.capture.binding import Binder
from vaelint.frontends.lossfind import LossPlan
from vaelint.settings.options import Options  # noqa: F401 - its home before vaelint/settings/options.py
from vaelint.facts.roles import forward_roles, loss_roles
from vaelint.capture.ops import RANDOM_OPS
from vaelint.rulebase import SkipRule, drop_deferred
from vaelint.facts.shapes import make_inputs, run_batches
from vaelint.vocab import ConfirmNeed, ErrorKind


def selected_rules(options: Options):
    from vaelint.rules import all_rules

    out = []
    for cls in all_rules():
        if options.select and not any(cls.code.startswith(s) for s in options.select):
            continue
        if any(cls.code.startswith(s) for s in options.ignore):
            continue
        out.append(cls())
    return out


@boundary
def analyse(target: str, options: Options) -> TargetResult:
    result = TargetResult(target)
    try:
        with _time_limit(options.timeout):
            _seeded_analysis(target, options, result)
    except _TimedOut as e:
        loc = user_frame_of_traceback(e.__traceback__)
        running = f" (it was running {where(loc.path, loc.line)})" if loc else ""
        result.error = VaelintError(
            "timeout",
            f"{target}: the analysis did not finish within {options.timeout:g} s{running}. A forward "
            "that never returns, or a model too slow for this input: fix the loop, check with a "
            "smaller --input, or raise --timeout.",
        )
    return result


class _TimedOut(BaseException):
    """Raised in the analysing thread when the target's time is up (a BaseException,
    so the user's ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise _TimedOut()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _seeded_analysis(target: str, options: Options, result: TargetResult) -> None:
    try:
        # Seeded for reproducible weights and noise; the caller's RNG state is
        # restored afterwards.
        from vaelint.frontends.overlay import standing_in

        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]), standing_in(options.sources):
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            imported_before = set(sys.modules)
            try:
                _analyse(target, options, result)
            except ChoosesCuda as chose:
                # check it as on a machine without a GPU, where its code picks the CPU:
                # loaded again with CUDA hidden, confirmed on the CPU
                forget_device_choices(imported_before)
                fresh = TargetResult(target)
                with cuda_hidden():
                    torch.manual_seed(0)
                    _analyse(target, dataclasses.replace(options, device="cpu"), fresh)
                fresh.notes.insert(0, (
                    f"the model's code puts tensors on this machine's GPU by itself ({chose}) while vaelint's "
                    "stages run on the CPU: it was checked with CUDA hidden, as on a machine without a GPU, "
                    "and confirmed on the CPU"
                ))
                result.__dict__.update(fresh.__dict__)
    except VaelintError as e:
        result.error = e
    except Exception as e:  # noqa: BLE001 - a bug of ours: say so, with where
        frame = traceback.extract_tb(e.__traceback__)[-1]
        result.error = VaelintError(
            "internal",
            f"vaelint failed while analysing {target}: {type(e).__name__}: {e} "
            f"(at {frame.filename}:{frame.lineno}). This is a bug in vaelint; please report it "
            "with the model file.",
        )


def _load(target: str, options: Options, progress) -> Program:
    """The front end that knows this way of writing VAE code turns the target into a Program."""
    ref = parse_ref(target)
    request = LoadRequest(
        init=options.init, loss=options.loss, loss_kwargs=options.loss_kwargs, inputs=list(options.inputs),
        script_args=list(options.script_args), progress=progress,
    )
    return choose(ref).load(ref, request)


def _analyse(target: str, options: Options, result: TargetResult) -> None:
    if options.inputs or not _may_infer_inputs(target):
        check_inputs(options.inputs)
    device = _check_device(options) if options.dynamic else None
    progress = options.progress or (lambda stage: None)
    program = _load(target, options, progress)
    result.notes.extend(program.notes)
    specs = _inputs(program, options, result)
    program.model.train()
    if options.on_model is not None:
        options.on_model(program.model, sum(math.prod(s.shape) for s in specs))
    # a run changes buffers only (BatchNorm's running statistics), never the weights:
    # keep those, not a second copy of the model, for a run that starts over
    initial_buffers = {k: v.clone() for k, v in program.model.named_buffers()}
    # on the CPU the confirmation pass takes the shape stage's run at the user's
    # batch (kept with its autograd graph) instead of running the forward again
    keep_graph = device == "cpu" and fits(program.model, device) is None
    plan = program.loss
    result.loss_name = plan.name if plan else program.step.description if program.step else None
    contracts = _contracts(program, options, result)

    # capture -> shapes
    try:
        cap, runs, binder = _capture_and_run(program, plan, specs, progress, keep_graph, contracts)
    except ForwardHasLoss:
        result.notes.append(
            f"the forward returns its own loss (out['loss']), so the {plan.name} found by name was not "
            "called again; give --loss to analyse another"
        )
        plan = None
        result.loss_name = None
        program.model.load_state_dict(initial_buffers, strict=False)
        cap, runs, binder = _capture_and_run(program, plan, specs, progress, keep_graph, contracts)
    guessed = _guess_raised(cap, runs, binder)
    if guessed:
        # the loss was called with parameters bound by position alone, and that call
        # raised: a guess, not the user's call, so no finding comes of it; the model is
        # checked without that loss, and the report says why
        program.loss_missing_reason = (
            f"the loss {plan.name} could not be bound from the code alone ({binder.binding.guess_text()}: "
            f"by position) and that call raised ({_first_line(runs.failure.error)}): name its parameters "
            "as forward returns them (return recon, mu, logvar -> def loss(recon, x, mu, logvar)), or call it "
            "in the training code, and vaelint binds them as written"
        )
        result.binding = binder.binding.descriptions
        plan = None
        result.loss_name = None
        program.model.load_state_dict(initial_buffers, strict=False)
        cap, runs, binder = _capture_and_run(program, plan, specs, progress, keep_graph, contracts)
    binary = binary_retry(runs.failure, specs)
    if binary is not None:
        # a distribution that validates its support: the data is binary, so draw it
        # that way rather than stop
        specs = binary
        program.model.load_state_dict(initial_buffers, strict=False)
        cap, runs, binder = _capture_and_run(program, plan, specs, progress, keep_graph, contracts)
        result.notes.append(
            "a distribution in the model checks that its data lies in its support, so the float "
            "inputs were drawn in {0, 1} (as --input SHAPE:float32:2 would)"
        )
    check_token_ids(target, specs, cap, runs)
    result.capture_method = cap.method
    result.fallback_reason = cap.fallback_reason
    result.batch = specs[0].batch
    if binder is not None and binder.binding is not None:
        result.binding = binder.binding.descriptions
    elif program.loss_missing_reason:
        result.notes.append(f"binding tried: {', '.join(f'{p} <- {s}' for p, s in result.binding)}")
        result.binding = []

    # roles
    ctx = _context(program, specs, cap, runs, plan, options.beta)
    ctx.contracts = contracts
    from vaelint.contracts.check import name_held_dims

    name_held_dims(ctx)
    # only the rules the user selected may explain a failed run; otherwise it is exit 2
    if runs.failure is not None:
        program.raise_deferred_error()  # e.g. a tf.* call in a Keras layer's call(): exit 2 naming it
    if runs.failure is not None and kind_of(runs.failure.error) is ErrorKind.DEVICE and torch.cuda.is_available():
        where = runs.failure.loc.where() if runs.failure.loc else "its forward"
        raise ChoosesCuda(f"{type(runs.failure.error).__name__} at {where}")
    if runs.failure is not None and not any(rule.explains(runs.failure, ctx) for rule in selected_rules(options)):
        raise unexplained(target, specs, runs.failure)
    if plan is None and program.step is not None:
        pass  # the step's own loss
    elif plan is None and ctx.has_loss:
        result.loss_name = "the forward's own out['loss']"
    elif plan is None and not guessed:
        result.notes.append(
            program.loss_missing_reason
            or "no loss found (no --loss, no loss_function/loss/compute_loss/elbo/vae_loss method or "
            "function, no 'loss' in the forward's output): the loss rules were skipped"
        )
    reading = loss_reading(ctx.roles)
    if reading:
        result.notes.append(reading)
    result.flow = flow_rows(ctx)
    result.input_text = f"{ctx.shape_text(ctx.roles.inputs[0]).split(' (')[0]} (B={specs[0].batch})" if ctx.roles.inputs else ""
    beta_effective(ctx, result)

    # rules
    progress("rules")
    findings = []
    for rule in selected_rules(options):
        unmet = next((why for why in map(ctx.unmet, rule.needs) if why), None)
        if unmet is not None:
            result.skipped.append((rule.code, unmet))
            continue
        try:
            findings += [(rule, f) for f in rule.check(ctx)]
        except SkipRule as why:
            result.skipped.append((rule.code, str(why)))
        except Exception as e:  # noqa: BLE001 - one rule's bug must not hide the others' findings
            result.notes.append(_rule_bug(rule, "check", e))

    findings = _once_each(drop_deferred(findings))
    if runs.failure is not None and not findings:
        # a rule claimed the crash but reported nothing about it: never "no findings" on a model that raises
        raise unexplained(target, specs, runs.failure)
    result.notes.extend(ctx.notes)

    # confirm
    if device is not None and device.startswith("cuda") and runs.failure is not None and asserts_on_cuda(runs.failure.error):
        # the model raises at the user's batch: on CUDA that error may be a device-side
        # assert (binary_cross_entropy of values outside [0, 1]), which leaves the process
        # no usable GPU; the CPU raises it as an exception the rules can read
        result.notes.append(
            f"the model raises at batch {runs.failure.batch} on the CPU, so the confirmation pass ran "
            "there as well (on CUDA the same error can be a device-side assert)"
        )
        device = "cpu"
    if device is not None:
        progress("confirmation")
        needs = set().union(*(_confirm_needs(rule, f, ctx) for rule, f in findings))
        reuse = runs.runs[runs.batch] if keep_graph else None
        obs = confirm_run(
            cap, specs, device, ctx.roles.total_value, doubled=ConfirmNeed.DOUBLED_BATCH in needs,
            reuse=reuse, retain_graph=ConfirmNeed.GRAPH in needs, keep=ctx.read_after_run(),
            random_nodes=ctx.nodes_by_op(*RANDOM_OPS),
            contracts=contracts if ConfirmNeed.CONTRACT_RUN in needs else None,
        )
        if obs.skipped:
            result.notes.append(obs.skipped)
        else:
            result.confirmed_on = device
            for rule, f in findings:
                try:
                    f.confirmed = rule.confirm(f, ctx, obs)
                except Exception as e:  # noqa: BLE001
                    result.notes.append(_rule_bug(rule, "confirm", e))
            result.checks = whole_model_checks(ctx, obs)
    if options.fixes:
        _offer_fixes(findings, ctx, result)
    result.findings = sorted((f for _r, f in findings), key=Finding.sort_key)
    if options.annotate:
        from vaelint.contracts.proposals import propose

        result.annotations = propose(ctx)


def _offer_fixes(findings, ctx, result: TargetResult) -> None:
    """Each finding's edit, from its rule (not yet checked again: vaelint/fixes/verify.py)."""
    for rule, f in findings:
        try:
            f.autofix = rule.autofix(f, ctx)
        except Exception as e:  # noqa: BLE001 - a fix that cannot be worded is no fix, never a lost finding
            result.notes.append(_rule_bug(rule, "word a fix for", e))


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


def _guess_raised(cap, runs, binder) -> bool:
    """Did the loss, called with a guessed binding, raise (after the forward ran)?"""
    if binder is None or binder.binding is None or not binder.binding.guessed or runs.failure is None:
        return False
    node = runs.failure.node
    if node is None:
        return True  # the forward returned (the binding was decided): the loss raised
    forward = [n for n in cap.graph.nodes if "forward_output" in n.meta]
    view = GraphView(cap.graph, cap.modules)
    return not any(view.depends_on(f, node) or f is node for f in forward)


def _first_line(error) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"{type(error).__name__}: {text[:160]}"


def _once_each(findings: list) -> list:
    """One finding per rule, place and message: a line the step runs twice (a loss
    helper called for the labelled and the unlabelled batch) is one finding."""
    seen, out = set(), []
    for rule, f in findings:
        loc = f.loc
        key = (f.code, (loc.path, loc.line, loc.column) if loc else f.message)
        if key not in seen:
            seen.add(key)
            out.append((rule, f))
    return out


def _may_infer_inputs(target: str) -> bool:
    """A target whose front end may find its inputs itself (a training script that
    builds a known data set): --input is checked after loading, not before."""
    from vaelint.frontends import choose

    ref = parse_ref(target)
    # a whole file is a script (or not a target at all: its front end says so)
    return ref.name is None or choose(ref).infers_inputs


def _inputs(program: Program, options: Options, result: TargetResult) -> list:
    """The inputs, positional first and keyword (NAME=SPEC) after, in the order
    given; or those the front end inferred (the report says from what)."""
    given = list(options.inputs) or list(program.inputs)
    if not options.inputs and program.inputs:
        result.notes.append(f"input {' '.join(s.text() for s in program.inputs)}: {program.inputs_origin}")
    if not given and program.step is not None:
        raise VaelintError(
            "input",
            f"no input shape: the training step reads its batch from {program.step.batch_text or 'its data'}, "
            "whose shape vaelint cannot tell without loading data. Give it with --input, one per item of "
            "the batch in order, e.g. --input 32x1x28x28 --input 32:int64:10.",
        )
    check_inputs(given)
    return [s for s in given if not s.name] + [s for s in given if s.name]


def _confirm_needs(rule, finding, ctx) -> set:
    try:
        return set(rule.confirm_needs(finding, ctx))
    except Exception:  # noqa: BLE001 - its confirm will say what went wrong
        return set(ConfirmNeed)


def _rule_bug(rule, stage: str, e: Exception) -> str:
    frame = traceback.extract_tb(e.__traceback__)[-1]
    return (
        f"{rule.code} could not {stage} this model ({type(e).__name__}: {e} at "
        f"{os.path.basename(frame.filename)}:{frame.lineno}); a bug in vaelint, please report it"
    )


def _check_device(options: Options) -> str:
    device = pick_device(options.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VaelintError(
            "input",
            "--device cuda: no CUDA device is available here (torch.cuda.is_available() is "
            "False). Use --device auto or cpu.",
        )
    return device


def _context(program, specs, cap, runs, plan, beta) -> Context:
    """The roles found in the captured graph, and everything the rules read."""
    view = GraphView(cap.graph, cap.modules)
    forward_out = dict(
        sorted(
            ((n.meta["forward_output"], n) for n in cap.graph.nodes if "forward_output" in n.meta),
            key=lambda item: tuple((0, k, "") if isinstance(k, int) else (1, 0, str(k)) for k in item[0]),
        )
    )
    roles = forward_roles(view, forward_out)
    output_struct = _output_structure(cap)
    if (plan is not None or program.step is not None) and output_struct is not None:
        loss_roles(view, roles, output_struct)
    elif isinstance(output_struct, dict) and isinstance(output_struct.get("loss"), fx.Node):
        # no loss function, but the forward returns its own loss (pythae's ModelOutput)
        loss_roles(view, roles, {"loss": output_struct["loss"]})
    ctx = Context(program, specs, cap, view, roles, runs, plan, beta)
    ctx.dim_names = from_annotations(
        program.model,
        [ctx.shape(n).sizes if ctx.shape(n) else None for n in roles.inputs],
        [ctx.shape(n).sizes if ctx.shape(n) else None for n in forward_out.values()],
        ctx.latent_size,
    )
    return ctx


def _capture_and_run(program, plan: LossPlan | None, specs, progress=None, keep_graph: bool = False, contracts=None):
    """torch.fx first; the recording route when fx cannot trace the model, or when
    the fx graph fails where the eager model does not. A Keras model is recorded
    at once: its layers run Python (argument conversion, seed generators) that
    fx cannot trace, and the attempt would only cost time."""
    model = program.model
    inputs0 = make_inputs(specs, specs[0].batch)
    keywords = tuple(s.name for s in specs if s.name)
    program.before_capture(inputs0)
    names = capture_mod.input_names(program, len(specs), keywords)
    attributes = _attributes(model)
    binding_facts = _binding_facts(program, plan)
    fx_cap = fx_runs = None
    if not program.captures_symbolically():
        reason = None
    else:
        binder = Binder(plan, names, *binding_facts) if plan else None
        try:
            try:
                cap = capture_fx(program, plan.fn if plan else None, binder, len(specs), keywords, progress, contracts)
            finally:
                # what the trace stored on the model (self.x = x.cuda(...) in the loss stores
                # a Proxy) must not meet a real run: it would fail on the Proxy, not on its own error
                _restore_attributes(attributes)
            if progress:
                progress("forward")  # the shape runs execute the captured forward and loss
            runs = run_batches(cap, specs, keep_graph=keep_graph)
            if runs.failure is None:
                return cap, runs, binder
            fx_cap, fx_runs = cap, runs
            reason = f"the fx graph raised at batch {specs[0].batch}"
        except VaelintError:
            raise
        except Exception as e:  # noqa: BLE001 - anything fx cannot trace
            reason = _trace_reason(e)
    _restore_attributes(attributes)  # and what the fx graph's runs stored (self.x = ...)
    if progress:
        progress("forward")
    binder = Binder(plan, names, *binding_facts) if plan else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        program.reseed(0)
        with torch.enable_grad() if keep_graph else torch.no_grad():
            cap = capture_recording(
                program, plan.fn if plan else None, binder, inputs0, reason, keywords, progress, program.module_sites,
                keep_autograd=keep_graph, contracts=contracts,
            )
    runs = run_batches(cap, specs, keep_graph=keep_graph)
    if fx_cap is not None and runs.failure is not None and not isinstance(fx_runs.failure.error, TraceError):
        # Both routes fail: a real error of the model; keep the whole fx graph (but
        # never for an error of fx's own making: the concrete run's error is the real one)
        return fx_cap, fx_runs, fx_cap.binder
    return cap, runs, binder


def _binding_facts(program: Program, plan) -> tuple:
    """(the forward's returned names, where the code calls the loss): what the
    user's code says about binding the loss (vaelint/capture/bindnames.py)."""
    from vaelint.capture.bindnames import call_site_sources, return_names

    if plan is None or program.step is not None:
        return {}, None
    names = return_names(program.forward_fn())
    paths = [program.path]
    try:
        loss_file = inspect.getsourcefile(getattr(plan.fn, "__func__", plan.fn))
    except TypeError:
        loss_file = None
    if loss_file:
        paths.append(os.path.realpath(loss_file))
    folder = os.path.dirname(program.path)
    try:
        paths += sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".py"))[:30]
    except OSError:
        pass
    return names, call_site_sources(plan.fn, program.model, list(dict.fromkeys(paths)))


def _attributes(model) -> list:
    """Each module's plain attributes and buffers, as they are before tracing."""
    return [(m, dict(m.__dict__), dict(m._buffers)) for m in model.modules()]


def _restore_attributes(saved: list) -> None:
    for module, attributes, buffers in saved:
        for key in [k for k in module.__dict__ if k not in attributes]:
            del module.__dict__[key]
        module.__dict__.update(attributes)
        module._buffers.clear()
        module._buffers.update(buffers)


def _trace_reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"torch.fx could not trace it symbolically ({type(e).__name__}: {text[:160]})"


def _output_structure(cap):
    out_nodes = [n for n in cap.graph.nodes if n.op == "output"]
    if not out_nodes:
        return None
    return out_nodes[0].args[0]
