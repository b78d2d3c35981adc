"""The Python API: check a VAE from a notebook cell or a test.

    >>> report = vaelint.check(model, "32x784", loss=vae_loss)
    >>> report.ok, [f.code for f in report.findings]

``model_or_target`` is an ``nn.Module`` instance, its class, a function returning
one, or a target string as the command line takes it (``"models/vae.py:VAE"``,
``"train.py"``). Inputs are specs (``"16x784"``, ``"8x20:int64:1000"``,
``"labels=16:int64:10"``) or tensors (their shape and dtype are the spec; their
values are the batch the model sees). The check runs as the command's does: in a
worker process (a model object reaches it by fork), the same stages, the same
configuration (``[tool.vaelint]`` of the project holding the model's file,
per-file ignores and ``# vaelint: ignore`` comments included); ``isolate=False``
runs it in this process, on a copy of the model.

A mistake in the call (a bad spec, an unknown rule code) raises :class:`UsageError`;
a model that could not be checked is a report whose ``error`` says why, never an ok one.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

from vaelint.apiobjects import config_for, label
from vaelint.diagnostics import FlowRow, TargetResult
from vaelint.errors import VaelintError

__all__ = ["Finding", "Report", "UsageError", "check"]


class UsageError(VaelintError, ValueError):
    """The call was wrong (what the command line answers with exit 2 before any check)."""


@dataclass(frozen=True)
class Finding:
    """One finding, as the JSON report has it."""

    code: str  # "VAE004"
    name: str  # "kl-sum-mean-mismatch"
    severity: str  # "error" or "warning"
    message: str
    fix: str  # what to write
    path: str | None  # the user's file (absolute), where known
    line: int | None
    col: int | None
    confirmed: bool | None  # by the real forward/backward pass; None: the pass did not run
    beta_eff: str | None  # the loss's effective KL weight, where the check worked it out


class Report:
    """What one call found: the findings, the rules that could not run and why, the
    shape flow, the notes; shown as the text report (``repr``, rich, a notebook)."""

    def __init__(self, results: list[TargetResult], notes: list[str] | None = None):
        self.results = results
        self.notes = [*(notes or []), *(n for r in results for n in r.notes)]

    @property
    def findings(self) -> list[Finding]:
        return [_finding(f, r) for r in self.results for f in r.findings]

    @property
    def error(self) -> VaelintError | None:
        """Why a target could not be checked (the command's exit 2), or None."""
        return next((r.error for r in self.results if r.error is not None), None)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(rule code, why it could not run), for each rule that did not run."""
        return [s for r in self.results for s in r.skipped]

    @property
    def flow(self) -> list[FlowRow]:
        """The shape-flow table's rows: stage, name, symbolic shape, sizes, where."""
        return [row for r in self.results for row in r.flow]

    @property
    def ok(self) -> bool:
        """True when something was checked, every rule ran, and none found anything."""
        return bool(self.results) and self.error is None and not self.findings and not self.skipped

    def text(self, quiet: bool = False, color: bool = False) -> str:
        """The command's text report."""
        from rich.console import Console

        from vaelint.report import text_report

        buf = io.StringIO()
        console = Console(
            file=buf,
            width=120,
            force_terminal=color,
            no_color=not color,
            highlight=False,
            color_system="truecolor" if color else None,
            emoji=False,
        )
        for note in self.notes[: len(self.notes) - sum(len(r.notes) for r in self.results)]:
            console.print(f"note: {note}", soft_wrap=True, markup=False)
        text_report.print_report(self.results, console, quiet)
        return buf.getvalue()

    def to_dict(self) -> dict:
        """The command's JSON report (docs/report.schema.json)."""
        from vaelint.report.json_report import to_dict

        return to_dict(self.results, tuple(self.notes[: len(self.notes) - sum(len(r.notes) for r in self.results)]))

    def __repr__(self) -> str:
        return self.text()

    def __rich__(self):
        from rich.text import Text

        return Text.from_ansi(self.text(color=True))

    def _repr_html_(self) -> str:  # a notebook shows the coloured text report
        import html

        return f"<pre>{html.escape(self.text())}</pre>"


def _finding(f, result: TargetResult) -> Finding:
    loc = f.loc
    return Finding(
        f.code,
        f.name,
        str(f.severity.value),
        f.message,
        f.fix,
        loc.path if loc else None,
        loc.line if loc else None,
        loc.column if loc else None,
        f.confirmed,
        result.beta_effective,
    )


# --------------------------------------------------------------------------- check


def check(
    model_or_target,
    *inputs,
    loss=None,
    init=None,
    beta: float | None = None,
    device: str | None = None,
    isolate: bool = True,
    select=None,
    ignore=None,
    timeout: float | None = None,
    batch_dim: int | None = None,
    loss_kwargs: dict | None = None,
    script_args: str | None = None,
    dynamic: bool = True,
    max_memory: str | None = None,
    cache: bool = True,
) -> Report:
    """Check a VAE as ``vaelint check`` does and return its :class:`Report`.

    ``loss``: a callable, the name of a model method, or ``"path.py:function"``; None
    looks it up by name (``loss_function``, ``vae_loss``, ... on the model or beside
    its class). ``init``: constructor keywords for a class or factory. ``beta`` (the KL
    weight you intend) and ``device`` (``"auto"``, ``"cpu"``, ``"cuda"``): None takes
    the configured value, else 1 and ``"auto"``. ``select`` /
    ``ignore``: rule codes or prefixes. ``cache``: a target string may be answered from
    the result cache (a model object never is).
    """
    settings, request = _request(
        inputs,
        init=init,
        loss=loss,
        beta=beta,
        device=device,
        select=select,
        ignore=ignore,
        timeout=timeout,
        batch_dim=batch_dim,
        loss_kwargs=loss_kwargs,
        script_args=script_args,
        dynamic=dynamic,
        max_memory=max_memory,
    )
    if isinstance(model_or_target, (str, os.PathLike)):
        if not isinstance(loss, (str, type(None))):
            raise UsageError(
                "input",
                "a target string takes loss= as a name or 'path.py:function'; pass the model object to check it with a loss callable",
            )
        return _check_target(os.fspath(model_or_target), settings, request, cache)
    return _check_object(model_or_target, settings, request, loss, isolate)


def _request(
    inputs=(),
    *,
    init=None,
    loss=None,
    beta=None,
    device=None,
    select=None,
    ignore=None,
    timeout=None,
    batch_dim=None,
    loss_kwargs=None,
    script_args=None,
    dynamic=True,
    max_memory=None,
):
    """The settings and the checked request, as the command line makes them."""
    import shlex

    from vaelint.request import check_codes, check_request
    from vaelint.settings.per_file import CommandLine, Settings

    if device not in (None, "auto", "cpu", "cuda"):
        raise UsageError("input", f"device={device!r}: give 'auto', 'cpu' or 'cuda'.")
    try:
        specs = [_spec(i) for i in inputs]
        cli = CommandLine(select=_codes(select), ignore=_codes(ignore), timeout=timeout, device=device)
        check_codes(cli.select + cli.ignore)
        settings = Settings(cli)
        request = check_request(
            settings,
            input=[s.text() for s in specs],
            init={},
            loss=loss if isinstance(loss, str) else None,
            loss_kwarg=[],
            script_args=shlex.join(script_args) if isinstance(script_args, list) else script_args,
            beta=beta,
            no_dynamic=not dynamic,
            no_fixes=False,
            max_memory=max_memory,
            output_file=None,
            also_output=[],
            fix=False,
            diff=False,
            batch_dim=batch_dim,
        )
    except UsageError:
        raise
    except VaelintError as e:
        raise UsageError(e.kind, e.message) from None
    request.specs = [s.with_batch_dim(batch_dim) if batch_dim is not None else s for s in specs]
    request.init, request.loss_kwargs = dict(init or {}), dict(loss_kwargs or {})
    return settings, request


def _codes(value) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [c.strip().upper() for c in items if c.strip()]


def _spec(item):
    """An input spec from a spec string, a tensor (its values kept), or a shape tuple."""
    from vaelint.inputs import InputSpec, parse_input_spec

    if isinstance(item, str):
        return parse_input_spec(item)
    if isinstance(item, (tuple, list)) and all(isinstance(n, int) for n in item):
        return parse_input_spec("x".join(str(n) for n in item))
    import torch

    if isinstance(item, torch.Tensor):
        dtype = str(item.dtype).removeprefix("torch.")
        integral = not item.dtype.is_floating_point and item.dtype != torch.bool
        high = int(item.max()) + 1 if integral and item.numel() else None
        parse_input_spec("x".join(str(n) for n in item.shape) + f":{dtype}")  # refused as the command refuses it
        return InputSpec(tuple(item.shape), dtype, high, real=item.detach().cpu())
    raise UsageError("input", f"an input is a spec string ('32x784'), a tensor or a shape tuple, not a {type(item).__name__}.")


def _check_target(target: str, settings, request, use_cache: bool) -> Report:
    from vaelint.runtime.runner import check_jobs, resolve_jobs, untargeted

    try:
        jobs = resolve_jobs([target], settings, bool(request.specs), " ".join(f"--input {s.text()}" for s in request.specs))
    except VaelintError as e:
        raise UsageError(e.kind, e.message) from None
    notes = list(untargeted)
    if not jobs:
        notes.append(f"no VAE targets in {target}: it has no model class named in a target and no training step")
    results, _failing = check_jobs(jobs, request.options_for, settings, fresh=False, use_cache=use_cache)
    return Report(results, notes)


def _check_object(obj, settings, request, loss, isolate: bool) -> Report:
    from vaelint.frontends.inmemory import Entry, register, release
    from vaelint.settings.suppress import apply

    _not_torchscript(obj)
    config = config_for(obj, settings)
    options = request.options_for(None, config)
    entry = Entry(obj, loss, dict(request.loss_kwargs))
    token = register(entry)
    try:
        result = _run(token, entry, options, isolate)
    finally:
        release(token)
    result.target = label(obj)
    result.findings, result.suppressed = apply(result.findings, config.per_file_ignores, config.root)
    return Report([result])


def _not_torchscript(obj) -> None:
    """An old-style TorchScript model (an instance or subclass of torch.jit.ScriptModule) built
    in this process runs as TorchScript, where no tracer sees its operations: said, with the way
    that works (its file, which vaelint loads with TorchScript off)."""
    import torch

    script = torch.jit.ScriptModule
    if isinstance(obj, script) or (isinstance(obj, type) and issubclass(obj, script)):
        name = obj.__name__ if isinstance(obj, type) else type(obj).__name__
        raise UsageError(
            "input",
            f"{name} is a TorchScript module (torch.jit.ScriptModule): built here, its forward runs as "
            "TorchScript, where vaelint cannot see its operations. Check it from its file, "
            "vaelint.check('model.py:CLASS', ...), which loads it as Python (TorchScript off).",
        )


def _run(token: str, entry, options, isolate: bool) -> TargetResult:
    """In a forked worker (its model is its own), else in this process on a copy."""
    import torch

    from vaelint.runtime.inworker import in_process
    from vaelint.runtime.worker import prepare, run_target

    prepare(1)
    if isolate and not torch.cuda.is_initialized():
        return run_target(token, options, fresh=False)
    from vaelint.frontends.inmemory import restore_scripts

    entry.copy = True
    try:
        with _kept(entry.obj):
            result = in_process(token, options)
    finally:
        restore_scripts(entry)
    if isolate:  # a forked worker cannot use the CUDA this process has set up
        result.notes.append(
            "this process has CUDA set up, which a forked worker cannot use: checked in this "
            "process, on a copy of the model (isolate=False does so always)"
        )
    return result


class _kept:
    """A model checked in this process, where it could not be copied: its mode,
    gradients and buffers as they were before."""

    def __init__(self, obj):
        import torch.nn as nn

        self.model = obj if isinstance(obj, nn.Module) else None

    def __enter__(self):
        if self.model is not None:
            self.modes = [(m, m.training) for m in self.model.modules()]
            self.grads = [(p, p.grad) for p in self.model.parameters()]
            self.buffers = {k: v.clone() for k, v in self.model.state_dict().items()}

    def __exit__(self, *exc):
        if self.model is not None:
            for m, training in self.modes:
                m.training = training  # the flag itself: a module's own train() may be its step
            for p, grad in self.grads:
                p.grad = grad
            self.model.load_state_dict(self.buffers)
        return False
