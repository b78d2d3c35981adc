"""One target through the pipeline: load -> capture -> shapes -> roles -> rules -> confirm.

Each stage lives in its own module; this one only sequences them and turns
whatever goes wrong into a :class:`TargetResult` with an error, never a
traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import traceback
import warnings
from dataclasses import dataclass, field

import torch

from vaelint import capture as capture_mod
from vaelint.confirm import confirm_run, pick_device
from vaelint.context import Context
from vaelint.dimnames import from_annotations
from vaelint.diagnostics import Check, Finding, FlowRow, TargetResult
from vaelint.errors import VaelintError
from vaelint.frames import SourceLoc, boundary, display_path, user_frame_of_traceback
from vaelint.inputs import InputSpec
from vaelint.build import build_model
from vaelint.lossbind import Binder, LossPlan, discover_loss
from vaelint.roles import GraphView, Roles, forward_roles, loss_roles
from vaelint.rulebase import SkipRule
from vaelint.reductions import loss_scales
from vaelint.shapes import make_inputs, run_batches


@dataclass
class Options:
    inputs: list[InputSpec]
    init: dict = field(default_factory=dict)
    loss: str | None = None
    loss_kwargs: dict = field(default_factory=dict)
    beta: float = 1.0
    device: str = "auto"
    dynamic: bool = True
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    timeout: float | None = 60.0  # seconds per target


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
        where = f" (it was running {display_path(loc.path)}:{loc.line})" if loc else ""
        result.error = VaelintError(
            "timeout",
            f"{target}: the analysis did not finish within {options.timeout:g} s{where}. A forward "
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
        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            _analyse(target, options, result)
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


def _check_inputs(options: Options) -> None:
    if not options.inputs:
        raise VaelintError(
            "input",
            "no input shape: give the model's input with --input, e.g. --input 32x784 "
            "(dim 0 is the batch), or configure the target's input in [tool.vaelint].",
        )
    batches = {s.batch for s in options.inputs}
    if len(batches) != 1:
        raise VaelintError(
            "input",
            "the --input specs disagree on the batch size (dim 0): "
            f"{', '.join(s.text() for s in options.inputs)}. Give every input the same batch size.",
        )
    if options.inputs[0].batch < 2:
        raise VaelintError(
            "input",
            f"--input {options.inputs[0].text()}: use a batch of at least 2 (dim 0); with one "
            "sample, batch bugs cannot show and BatchNorm cannot train.",
        )


def _analyse(target: str, options: Options, result: TargetResult) -> None:
    _check_inputs(options)
    device = _check_device(options) if options.dynamic else None
    # positional inputs first, keyword inputs (NAME=SPEC) after them, in the order given
    specs = [s for s in options.inputs if not s.name] + [s for s in options.inputs if s.name]
    loss_name = options.loss.rpartition(":")[2] if options.loss else None
    loaded = build_model(target, options.init, (loss_name,) if loss_name else ())
    loaded.model.train()
    _initial_state = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    plan = discover_loss(loaded, options.loss, options.loss_kwargs)
    result.loss_name = plan.name if plan else None
    if plan is None:
        result.notes.append(
            "no loss found (no --loss, no loss_function/loss/compute_loss/elbo/vae_loss method or "
            "function): the loss rules were skipped"
        )

    # capture -> shapes
    cap, runs, binder = _capture_and_run(loaded, plan, specs)
    if runs.failure is not None and _outside_support(runs.failure.error) and _floats_without_high(specs):
        # a distribution that validates its support (Bernoulli(...).log_prob(x)): the data
        # is binary, so draw it that way rather than stop
        specs = [InputSpec(s.shape, s.dtype, 2, s.name) if _is_plain_float(s) else s for s in specs]
        loaded.model.load_state_dict(_initial_state)
        cap, runs, binder = _capture_and_run(loaded, plan, specs)
        result.notes.append(
            "a distribution in the model checks that its data lies in its support, so the float "
            "inputs were drawn in {0, 1} (as --input SHAPE:float32:2 would)"
        )
    _check_token_ids(target, specs, cap, runs)
    result.capture_method = cap.method
    result.fallback_reason = cap.fallback_reason
    result.batch = specs[0].batch
    if binder is not None and binder.binding is not None:
        result.binding = binder.binding.descriptions

    # roles
    ctx = _context(loaded, specs, cap, runs, plan, options.beta)
    # only the rules the user selected may explain a failed run; otherwise it is exit 2
    if runs.failure is not None and not any(rule.explains(runs.failure, ctx) for rule in selected_rules(options)):
        raise _unexplained(target, specs, runs.failure)
    reading = loss_reading(ctx.roles)
    if reading:
        result.notes.append(reading)
    result.flow = flow_rows(ctx)
    result.input_text = f"{ctx.shape_text(ctx.roles.inputs[0]).split(' (')[0]} (B={specs[0].batch})" if ctx.roles.inputs else ""
    _beta_effective(ctx, result)

    # rules
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

    # confirm
    if device is not None:
        obs = confirm_run(cap, specs, device, lambda out: _total_value(ctx.roles, out))
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
    result.findings = sorted((f for _r, f in findings), key=Finding.sort_key)


def _outside_support(error: BaseException) -> bool:
    return isinstance(error, ValueError) and "support" in str(error)


def _is_plain_float(spec: InputSpec) -> bool:
    return spec.dtype.startswith(("float", "bfloat")) and spec.high is None


def _floats_without_high(specs) -> bool:
    return any(_is_plain_float(s) for s in specs)


def _check_token_ids(target: str, specs, cap, runs) -> None:
    """Token ids drawn above an embedding's size are a usage error, not a bug of the model."""
    failure = runs.failure
    if failure is None or failure.node is None or not isinstance(failure.error, IndexError):
        return
    view = GraphView(cap.graph, cap.modules)
    if view.op(failure.node) != "embedding":
        return
    if failure.node.op == "call_module":
        size = getattr(cap.modules.get(failure.node.target), "num_embeddings", None)
    else:
        weight = next((a for a in failure.node.all_input_nodes if a.op == "get_attr"), None)
        shape = runs.runs[runs.batch].shapes.get(weight) if weight is not None else None
        size = shape[0] if shape else None
    ints = [s for s in specs if s.dtype.startswith("int") and (s.high or 2) > (size or 0)]
    if size is None or not ints:
        return
    spec = ints[0]
    where = f" ({display_path(failure.loc.path)}:{failure.loc.line})" if failure.loc else ""
    fixed = InputSpec(spec.shape, spec.dtype, size, spec.name).text()
    raise VaelintError(
        "input",
        f"{target}: --input {spec.text()} draws token ids up to {(spec.high or 2) - 1}, but the embedding "
        f"that reads them{where} has {size} entries. Give HIGH no larger than the vocabulary: "
        f"--input {fixed}.",
    )


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


def _context(loaded, specs, cap, runs, plan, beta) -> Context:
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
    if plan is not None and output_struct is not None:
        loss_roles(view, roles, output_struct)
    ctx = Context(loaded, specs, cap, view, roles, runs, plan, beta)
    ctx.dim_names = from_annotations(
        loaded.model,
        [ctx.shape(n).sizes if ctx.shape(n) else None for n in roles.inputs],
        [ctx.shape(n).sizes if ctx.shape(n) else None for n in forward_out.values()],
        ctx.latent_size,
    )
    return ctx


def _unexplained(target: str, specs, failure) -> VaelintError:
    where = f" at {display_path(failure.loc.path)}:{failure.loc.line}" if failure.loc else ""
    text = str(failure.error)
    if "support" in text:
        hint = (
            "The input vaelint drew (floats in [0, 1)) lies outside a distribution's support: give "
            "--input the values the model's data has, e.g. SHAPE:float32:2 for binary data."
        )
    elif "accelerator" in text or "cuda" in text.lower():
        hint = (
            "The model (or its loss) moves a tensor to CUDA by itself (.cuda(), device='cuda'), which "
            "fails on a machine without a GPU: create it where the inputs are (device=x.device, "
            ".to(x.device)), or run vaelint on a GPU machine."
        )
    elif "dtype" in text or "scalar type" in text:
        hint = "Give --input the dtype the model expects (float32 unless it embeds token ids: SHAPE:int64:VOCAB)."
    else:
        hint = "This is not a shape error vaelint can explain; fix it so the model runs on that input."
    return VaelintError(
        "trace",
        f"{target}: running the model on input {specs[0].text()} raised{where}: "
        f"{type(failure.error).__name__}: {_first_line(failure.error)} {hint}",
    )


def _beta_effective(ctx: Context, result: TargetResult) -> None:
    """beta_eff as a formula, and each loss term's reductions in the flow table."""
    import math

    scales = loss_scales(ctx)
    if scales is None:
        return
    formula = scales.formula(math.prod(ctx.specs[0].shape[1:]), ctx.latent_size)
    weight = scales.kl.explicit
    if not math.isclose(weight, 1.0, rel_tol=1e-3):
        formula = f"{weight:g}" if formula == "1" else f"{weight:g}*{formula}"
    result.beta_effective = formula
    described = {scales.rec.term: scales.rec} | {kl.term: kl for kl in scales.kls}
    for row in result.flow:
        if row.stage == "loss" and row.node in described:
            row.note = described[row.node].describe()


def _capture_and_run(loaded, plan: LossPlan | None, specs):
    """torch.fx first; the recording route when fx cannot trace the model, or when
    the fx graph fails where the eager model does not."""
    model = loaded.model
    inputs0 = make_inputs(specs, specs[0].batch)
    keywords = tuple(s.name for s in specs if s.name)
    names = capture_mod.input_names(model, len(specs), keywords)
    binder = Binder(plan, names) if plan else None
    reason = None
    try:
        cap = capture_mod.capture_fx(model, plan.fn if plan else None, binder, len(specs), keywords)
        runs = run_batches(cap, specs)
        if runs.failure is None:
            return cap, runs, binder
        fx_cap, fx_runs = cap, runs
        reason = f"the fx graph raised at batch {specs[0].batch}"
    except VaelintError:
        raise
    except Exception as e:  # noqa: BLE001 - anything fx cannot trace
        fx_cap = fx_runs = None
        reason = _trace_reason(e)
    binder = Binder(plan, names) if plan else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        with torch.no_grad():
            cap = capture_mod.capture_recording(model, plan.fn if plan else None, binder, inputs0, reason, keywords)
    runs = run_batches(cap, specs)
    if fx_cap is not None and runs.failure is not None:
        # Both routes fail: a real error of the model; keep the whole fx graph.
        return fx_cap, fx_runs, fx_cap.wrapper._binder
    return cap, runs, binder


def whole_model_checks(ctx: Context, obs) -> list[Check]:
    """The loss is a finite scalar; each stage's gradient is finite and non-zero."""
    import math

    checks = []
    if ctx.loss is not None and obs.error is None:
        value = obs.loss_value
        ok = value is not None and math.isfinite(value)
        checks.append(Check("loss", ok, f"{value:.6g}" if value is not None else "not a scalar"))
    if obs.grads:
        for stage, names in ctx.stage_params().items():
            grads = [obs.grads.get(n) for n in names if n in obs.grads]
            if not grads:
                continue
            norm = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads if g is not None))
            ok = math.isfinite(norm) and norm > 0
            checks.append(Check(f"{stage} gradient", ok, f"norm {norm:.3g}"))
    if obs.backward_error is not None:
        checks.append(Check("backward", False, str(obs.backward_error).splitlines()[0]))
    return checks


def _trace_reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"torch.fx could not trace it symbolically ({type(e).__name__}: {text[:160]})"


def _output_structure(cap):
    out_nodes = [n for n in cap.graph.nodes if n.op == "output"]
    if not out_nodes:
        return None
    return out_nodes[0].args[0]


def loss_reading(roles: Roles) -> str | None:
    """How a loss that returns several values was read, when that took a decision."""
    paths = roles.total_paths
    text = [capture_mod.path_text(p, "loss") for p in paths]
    if roles.loss_parts and len(paths) > 1:
        return (
            f"the loss returns {len(paths)} terms that none of its values adds up ({', '.join(text)}): "
            "read as their sum, as a training step that adds them does"
        )
    if roles.loss_total is not None and paths and paths[0] not in ((), (0,), ("loss",)):
        return f"the loss returns several values; {text[0]} is computed from the others and is read as the total"
    return None


def _total_value(roles: Roles, out):
    """The total loss from the loss's return value, as the graph read it (the
    element that sums the others, or the sum of independent terms)."""
    if isinstance(out, torch.Tensor):
        return out
    values = []
    for path in roles.total_paths:
        try:
            value = capture_mod.get_path(out, path)
        except (KeyError, IndexError, TypeError):
            return None
        if not isinstance(value, torch.Tensor):
            return None
        values.append(value)
    return sum(values[1:], values[0]) if values else None


def flow_rows(ctx: Context) -> list[FlowRow]:
    rows: list[FlowRow] = []
    roles = ctx.roles

    def add(stage, name, node, named=True, note=""):
        if node is None:
            return
        fact = ctx.shape(node)
        symbols = ctx.symbols(node) if named else (fact.symbols() if fact else None)
        sizes = {}
        if fact and fact.sizes is not None:
            for sym, size in zip(symbols, fact.sizes):
                if not sym.isdigit():
                    key = "B" if "B" in sym and not sym.isidentifier() or sym == "B" else sym
                    sizes[key] = ctx.batch if key == "B" else size
        rows.append(FlowRow(stage, name, symbols, sizes, node.meta.get("loc"), note, node=node))

    for i, ph in enumerate(roles.inputs):
        if ph.meta.get("loc") is None:
            ph.meta["loc"] = _forward_def(ctx)
        names_in = ctx.capture.input_names
        add("input", names_in[i] if i < len(names_in) else ph.name, ph)
    r = roles.reparam
    if r is not None:
        add("encoder", "mu", r.mu)
        add("encoder", "logvar" if "exp" in r.scale_ops else "scale", r.logvar)
        add("reparam", "eps", r.eps)
        add("reparam", "z", r.z)
    if roles.recon is not None:
        add("decoder", "recon", roles.recon)
    scales = loss_scales(ctx)
    kls = {kl.term for kl in scales.kls} if scales is not None else set(roles.kl_terms[:1])
    for node in roles.rec_terms:
        add("loss", "rec", node, named=False)
    for node in roles.kl_terms:
        add("loss", "kl" if node in kls else "reg", node, named=False)
    if roles.loss_total is not None:
        add("loss", "loss", roles.loss_total, named=False)
    return rows


def _forward_def(ctx: Context) -> SourceLoc | None:
    """Where the model's forward is defined: the place its inputs come in."""
    import inspect
    import os

    try:
        fn = type(ctx.loaded.model).forward
        lines, start = inspect.getsourcelines(fn)
        return SourceLoc(os.path.realpath(inspect.getsourcefile(fn)), start, 1, "forward")
    except (OSError, TypeError):
        return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if text.endswith(".") else text + "."
