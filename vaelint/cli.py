"""The command line: ``vaelint check TARGET... [options]`` (README, "Usage").

Exit status: 0 no findings, 1 findings (at or above ``fail-on``), 2 a usage
error or a target that could not be analysed. Bad input never shows a Python
traceback. Options given on the command line override ``[tool.vaelint]``.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from vaelint.cisetup import ci as ci_command
from vaelint.errors import VaelintError
from vaelint.output import emit, write
from vaelint.output import import_reporter as _import_reporter
from vaelint.plugins import check_format, format_names
from vaelint.report.reporters import TEXT
from vaelint.request import Color, Device, check_codes, check_request, codes, loss_kwargs_of
from vaelint.runtime.runner import resolve_jobs, untargeted
from vaelint.runtime.runner import shown_target as _shown
from vaelint.vocab import Severity

app = typer.Typer(
    # typer's own shell completion: `vaelint --install-completion` / `--show-completion SHELL`
    add_completion=True,
    # help text shown as written (no rich markup read into it, no <bool> beside flags)
    rich_markup_mode=None,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Shape-debugging analyzer for PyTorch variational autoencoders.",
)


def _usage_error(message: str) -> None:
    typer.echo(f"vaelint: error: {message}", err=True)
    raise typer.Exit(2)


def _version(value: bool) -> None:
    if value:
        from vaelint.version import __version__

        typer.echo(f"vaelint {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Shape-debugging analyzer for PyTorch variational autoencoders."""


@app.command()
def check(
    ctx: typer.Context,
    targets: List[str] = typer.Argument(
        None, metavar="TARGET", help="PATH.py:NAME (a model class or factory), or PATH.py (its configured targets)."
    ),
    input: List[str] = typer.Option(
        [],
        "--input",
        metavar="SPEC",
        help="[NAME=]SHAPE[:DTYPE[:HIGH]], e.g. 32x784; repeat per forward input (a batch item that is a dict: NAME.KEY=SPEC per key).",
    ),
    init: List[str] = typer.Option([], "--init", metavar="NAME=VALUE", help="Constructor keyword NAME=VALUE (a Python literal)."),
    loss: Optional[str] = typer.Option(None, "--loss", metavar="REF", help="PATH.py:function, PATH.py:Class, or a model method name."),
    loss_kwarg: List[str] = typer.Option([], "--loss-kwarg", metavar="NAME=VALUE", help="Extra loss keyword NAME=VALUE."),
    script_args: Optional[str] = typer.Option(
        None, "--script-args", metavar="ARGS", help="A training script's own arguments, as `python script.py ARGS` takes them."
    ),
    batch_dim: Optional[int] = typer.Option(
        None,
        "--batch-dim",
        metavar="N",
        help="The dim of the inputs the batch size sets (default: 0, or what the code shows: 1 for a sequence-first RNN's input).",
    ),
    beta: Optional[float] = typer.Option(None, "--beta", metavar="BETA", help="The KL weight you intend (beta-VAE); default 1."),
    device: Optional[Device] = typer.Option(None, "--device", help="Where the confirmation pass runs (default auto)."),
    no_dynamic: bool = typer.Option(False, "--no-dynamic", help="Skip the real forward/backward confirmation pass."),
    format: str = typer.Option(
        TEXT,
        "--output-format",
        "--format",
        metavar="FORMAT",
        autocompletion=lambda: list(format_names()),
        help="text (for people), json, sarif, github, markdown, junit (JUnit XML), gitlab (GitLab code quality), "
        "or an installed plugin's (entry point group vaelint.reporters).",
    ),
    output_file: Optional[str] = typer.Option(None, "--output-file", metavar="PATH", help="Write the report here instead of stdout."),
    also_output: List[str] = typer.Option(
        [],
        "--also-output",
        metavar="FORMAT=PATH",
        help="FORMAT=PATH: also write the report in FORMAT to PATH, from the same run (repeatable).",
    ),
    select: Optional[str] = typer.Option(
        None, "--select", metavar="CODES", help="Comma-separated rule codes or prefixes (replaces the configured ones)."
    ),
    extend_select: Optional[str] = typer.Option(None, "--extend-select", metavar="CODES", help="Codes to add to the selected ones."),
    ignore: Optional[str] = typer.Option(
        None, "--ignore", metavar="CODES", help="Comma-separated rule codes or prefixes (replaces the configured ones)."
    ),
    extend_ignore: Optional[str] = typer.Option(None, "--extend-ignore", metavar="CODES", help="Codes to add to the ignored ones."),
    fail_on: Optional[Severity] = typer.Option(None, "--fail-on", help="The lowest severity that makes the exit status 1."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even with findings (exit 2 stays 2)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Findings and the summary only, no shape-flow table."),
    statistics: bool = typer.Option(False, "--statistics", help="A count per rule code after the report."),
    config_path: Optional[str] = typer.Option(None, "--config", metavar="PATH", help="Read [tool.vaelint] from this file only."),
    isolated: bool = typer.Option(False, "--isolated", help="Read no configuration file."),
    show_settings: bool = typer.Option(False, "--show-settings", help="Print the merged settings and where each came from."),
    timeout: Optional[float] = typer.Option(
        None, "--timeout", metavar="SECONDS", min=0, help="Seconds per target (0: no limit; default 60)."
    ),
    max_memory: Optional[str] = typer.Option(
        None, "--max-memory", metavar="SIZE", help="Resident memory a target's worker may use, e.g. 8G or 512M."
    ),
    color: Color = typer.Option(Color.auto, "--color", help="Colour in the text report (NO_COLOR is honoured)."),
    fix: bool = typer.Option(False, "--fix", help="Apply the verified safe fixes to the files, then report what remains."),
    diff: bool = typer.Option(
        False, "--diff", help="Print the verified fixes as a unified diff and change nothing (exit 1 if there are any)."
    ),
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes", help="Include fixes that change the loss's scale or make a choice."),
    no_fixes: bool = typer.Option(
        False, "--no-fixes", help="Work out no edits (a plain check offers them unchecked; --fix and --diff check each again)."
    ),
    jobs_option: Optional[int] = typer.Option(
        None, "--jobs", "-j", metavar="N", min=1, help="Targets checked side by side (default: the cores, bounded by memory)."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Neither read nor write the result cache (.vaelint_cache/; VAELINT_NO_CACHE=1 too)."
    ),
) -> None:
    """Check VAE models for shape, loss and reparameterization bugs."""
    from vaelint.settings.per_file import CommandLine, Settings

    cli = CommandLine(
        select=codes(select),
        extend_select=codes(extend_select),
        ignore=codes(ignore),
        extend_ignore=codes(extend_ignore),
        fail_on=fail_on.value if fail_on else None,
        timeout=timeout,
        device=device.value if device else None,
        config=config_path,
        isolated=isolated,
    )
    try:
        _import_reporter(check_format(format))  # now, while a worker imports torch (vaelint/runtime/spare.py), not after it
        check_codes(cli.select + cli.extend_select + cli.ignore + cli.extend_ignore)
        settings = Settings(cli)
        request = check_request(
            settings,
            input=input,
            init=init,
            loss=loss,
            loss_kwarg=loss_kwarg,
            script_args=script_args,
            beta=beta,
            no_dynamic=no_dynamic,
            no_fixes=no_fixes,
            max_memory=max_memory,
            output_file=output_file,
            also_output=also_output,
            fix=fix,
            diff=diff,
            batch_dim=batch_dim,
        )
        if show_settings:
            _show_settings(settings, targets or [])
            raise typer.Exit(0)
        jobs = resolve_jobs(
            targets or [], settings, bool(request.specs), " ".join(f"--input {s.text()}" for s in request.specs), bool(request.script_args)
        )
    except VaelintError as e:
        _usage_error(e.message)
    # the command line's own process has run no torch op (see main): its workers keep torch's threads
    fresh = bool(ctx.obj and ctx.obj.get("fresh_process"))
    results, failing, fixed_note = _run_checks(
        request, jobs, fresh, format, jobs_option, no_cache, fix or diff, diff, unsafe_fixes, output_file, exit_zero
    )
    if not results:
        _no_targets(targets, format, output_file, color, quiet, statistics, request.extra_outputs)
    if fixed_note:
        typer.echo(f"vaelint: {fixed_note}", err=True)
    for note in untargeted:  # files given that hold a model no target names (pre-commit's list)
        typer.echo(f"vaelint: {note}", err=True)
    emit(results, format, output_file, color, quiet, statistics, notes=tuple(untargeted))
    for extra_format, path in request.extra_outputs:
        emit(results, extra_format, path, Color.never, quiet, statistics, notes=tuple(untargeted))
    if any(r.error is not None for r in results):
        raise typer.Exit(2)
    raise typer.Exit(1 if failing and not exit_zero else 0)


def _run_checks(request, jobs, fresh, format, jobs_option, no_cache, fixing, diff, unsafe_fixes, output_file, exit_zero=False):
    """(results, the findings that fail the run, the --fix note): the targets checked,
    with a progress line on a terminal; with --fix or --diff, the fix rounds (``--diff``
    ends here: exit 1 when it has fixes to show, 0 with ``--exit-zero``, 2 on an error)."""
    from vaelint.runtime.concurrency import default_jobs
    from vaelint.runtime.runner import check_jobs, fix_rounds

    settings, options_for = request.settings, request.options_for
    workers = jobs_option or default_jobs(len(jobs))
    shown = None
    if format == TEXT and sys.stderr.isatty():  # progress.wanted; rich's Live is imported only then
        from vaelint.report.progress import Progress

        shown = Progress(len(jobs))
    try:
        results, failing = check_jobs(jobs, options_for, settings, fresh, shown, use_cache=not no_cache, parallel=workers)
    finally:
        if shown is not None:
            shown.close()
    if not results or not fixing:
        return results, failing, None
    from vaelint.fixes import apply as fixes

    results, failing, sources, count, last = fix_rounds(results, failing, jobs, options_for, settings, fresh, shown, unsafe_fixes, workers)
    note = fixes.summary("would fix" if diff else "fixed", count, len(sources), last)
    for line in fixes.rejected_lines(results):
        typer.echo(f"vaelint: {line}", err=True)
    if diff:
        write(fixes.diff_text(sources), output_file)
        typer.echo(f"vaelint: {note}", err=True)
        raise typer.Exit(2 if any(r.error is not None for r in results) else (1 if sources and not exit_zero else 0))
    fixes.write(sources)  # the results above are the written files' (checked on the same text)
    return results, failing, note


def _no_targets(targets, format, output_file, color, quiet, statistics, extra_outputs) -> None:
    """File mode with no configured target in these files: said on stderr; a machine
    format still writes its (empty) document, so a CI step that parses it works."""
    files = [t for t in (targets or []) if t.endswith((".py", ".ipynb"))]
    notes = [
        f"no VAE targets in {len(files)} file{'s' * (len(files) != 1)}: configure "
        "[[tool.vaelint.targets]] or annotate forward inputs (jaxtyping)",
        *untargeted,
    ]
    for note in notes:
        typer.echo(f"vaelint: {note}", err=True)
    if format != TEXT:
        emit([], format, output_file, color, quiet, statistics, notes=notes)
    for extra_format, path in extra_outputs:
        if extra_format != TEXT:
            emit([], extra_format, path, Color.never, quiet, statistics, notes=notes)
    raise typer.Exit(0)


def _show_settings(settings, targets: list[str]) -> None:
    files = [t.rpartition(":")[0] if ":" in t else t for t in targets if t.rpartition(":")[0].endswith(".py") or t.endswith(".py")]
    configs = [(f, settings.for_file(f)) for f in files] or [(None, settings.base())]
    for file, config in configs:
        if file:
            typer.echo(f"settings for {file}:")
        for name, value, source in settings.explain(config):
            typer.echo(f"  {name:20} {value}  ({source})")


@app.command()
def clean() -> None:
    """Remove the result cache (.vaelint_cache/ of this project, or VAELINT_CACHE_DIR)."""
    from vaelint.cache import store as result_cache
    from vaelint.settings.per_file import CommandLine, Settings

    try:
        folder = result_cache.folder_for(Settings(CommandLine()).base().root)
    except VaelintError as e:
        _usage_error(e.message)
    said = result_cache.clean(folder)
    typer.echo(f"vaelint: {said}", err=True)
    if not said.startswith(("removed", "no cache")):
        raise typer.Exit(2)


@app.command()
def rule(
    code: Optional[str] = typer.Argument(None, metavar="CODE", help="A rule code such as VAE003."),
    all_: bool = typer.Option(False, "--all", help="List the whole catalogue."),
) -> None:
    """Show a rule's page: what it finds, why it is bad, an example, the fix."""
    from vaelint.rules import all_rules

    try:
        rules = all_rules()
    except VaelintError as e:  # a plugin's rule pack that does not load
        _usage_error(e.message)
    if all_ or code is None:
        for r in rules:
            typer.echo(f"{r.code}  {r.name:<22} {r.summary}")
        return
    match = [r for r in rules if r.code == code.upper()]
    if not match:
        _usage_error(f"unknown rule {code!r}; `vaelint rule --all` lists them.")
    typer.echo(match[0].page())


@app.command()
def annotate(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="TARGET", help="PATH.py:NAME, the model (class or factory) to annotate."),
    input: List[str] = typer.Option(
        [],
        "--input",
        metavar="SPEC",
        help="[NAME=]SHAPE[:DTYPE[:HIGH]], e.g. 32x784; repeat per forward input (a batch item that is a dict: NAME.KEY=SPEC per key).",
    ),
    init: List[str] = typer.Option([], "--init", metavar="NAME=VALUE", help="Constructor keyword NAME=VALUE (a Python literal)."),
    loss: Optional[str] = typer.Option(None, "--loss", metavar="REF", help="PATH.py:function, PATH.py:Class, or a model method name."),
    loss_kwarg: List[str] = typer.Option([], "--loss-kwarg", metavar="NAME=VALUE", help="Extra loss keyword NAME=VALUE."),
    write: bool = typer.Option(False, "--write", help="Write the annotations into the files (default: print a unified diff)."),
    timeout: Optional[float] = typer.Option(
        None, "--timeout", metavar="SECONDS", min=0, help="Seconds for the analysis (0: no limit; default 60)."
    ),
) -> None:
    """Write jaxtyping annotations from the solved shapes: forward, encode, decode,
    reparameterize, sample and the loss; a unified diff, or --write."""
    from vaelint.contracts.writer import apply
    from vaelint.contracts.writer import write as write_file
    from vaelint.frontends.base import parse_ref
    from vaelint.inputs import parse_input_spec
    from vaelint.runtime.worker import prepare, run_target
    from vaelint.settings.options import Options
    from vaelint.source.literals import parse_init

    try:
        specs = [parse_input_spec(s) for s in input]
        options = Options(
            inputs=specs,
            init=parse_init(init),
            loss=loss,
            loss_kwargs=loss_kwargs_of(loss_kwarg),
            dynamic=False,
            annotate=True,
            timeout=None if timeout == 0 else (timeout or 60.0),
        )
        ref = parse_ref(target)
        if not ref.name or not ref.path.endswith(".py"):
            raise VaelintError(
                "input", f"{target!r}: name the model as PATH.py:NAME, e.g. vaelint annotate models/vae.py:VAE --input 32x784."
            )
    except VaelintError as e:
        _usage_error(e.message)
    fresh = bool(ctx.obj and ctx.obj.get("fresh_process"))
    prepare(1, [ref.path], fresh=fresh)
    result = run_target(_shown(target), options, fresh=fresh)
    if result.error is not None:
        typer.echo(f"vaelint: {result.error.message}", err=True)
        raise typer.Exit(2)
    by_path: dict = {}
    for p in result.annotations:
        by_path.setdefault(p.path, []).append(p)
    try:
        edits = [e for e in (apply(path, proposals) for path, proposals in by_path.items()) if e.added]
    except VaelintError as e:
        _usage_error(e.message)
    if not edits:
        typer.echo(
            f"vaelint: nothing to annotate in {target}: every tensor parameter and return value of its forward, encode, decode, reparameterize, sample and loss is annotated already, or none was reached.",
            err=True,
        )
        raise typer.Exit(0)
    for edit in edits:
        if write:
            write_file(edit)
            typer.echo(f"{edit.path}: {edit.added} annotation{'s' * (edit.added != 1)} written", err=True)
        else:
            typer.echo(edit.diff(), nl=False)
    raise typer.Exit(0)


app.command("ci")(ci_command)


def main() -> None:
    try:
        # this process runs no torch op itself: its workers keep torch's threads
        app(obj={"fresh_process": True})  # ends with SystemExit(code), as a click application does
        code = 0
    except KeyboardInterrupt:
        typer.echo("vaelint: interrupted", err=True)
        code = 2
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    from vaelint.runtime import spare

    spare.discard()  # a worker started with the process (vaelint/runtime/launch.py) that got no target
    # The report is written: end here. Tearing down an interpreter that imported
    # torch costs about 0.4 s, a third of a small check; nothing is left to clean.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
