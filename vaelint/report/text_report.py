"""The default report, for people: the shape flow, the loss binding, the findings."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vaelint.diagnostics import TargetResult
from vaelint.report.reporters import ReportContext
from vaelint.vocab import Severity


def render(results: list[TargetResult], context: ReportContext) -> str:
    """The report as text: with a terminal's colour codes where ``context.color`` allows them."""
    import io

    buf = io.StringIO()
    console = Console(
        file=buf,
        width=context.width,
        force_terminal=context.color,
        no_color=not context.color,
        color_system="auto" if context.color else None,
        highlight=False,
        emoji=False,  # user text (paths, targets, messages) prints as written, ':100:' too
    )
    print_report(results, console, context.quiet, context.statistics)
    return buf.getvalue()


def print_report(results: list[TargetResult], console: Console, quiet: bool = False, statistics: bool = False) -> None:
    """The report on ``console``; ``quiet``: findings and the summary only (no flow table,
    notes or checks); ``statistics``: a count per rule code after it."""
    for r in results:
        if quiet:
            _quiet_target(r, console)
        else:
            _target(r, console)
            console.print()
    if statistics:
        for line in statistics_lines(results):
            console.print(line)
    console.print(summary_line(results))


def statistics_lines(results: list[TargetResult]) -> list[str]:
    counts: dict[tuple[str, str], int] = {}
    for f in (f for r in results for f in r.findings):
        counts[(f.code, f.name)] = counts.get((f.code, f.name), 0) + 1
    return [f"{n:5}  {code}  {name}" for (code, name), n in sorted(counts.items())]


def _quiet_target(r: TargetResult, console: Console) -> None:
    if r.error is not None:
        console.print(f"{escape(r.target)}: [red]could not be analysed[/red] ({r.error.kind}): {escape(r.error.message)}", soft_wrap=True)
        return
    for f in r.findings:
        _finding(r, f, console, blank=False)


def summary_line(results: list[TargetResult]) -> str:
    findings = [f for r in results for f in r.findings]
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    failed = sum(r.error is not None for r in results)
    n = len(results)
    parts = []
    if findings:
        kinds = []
        if errors:
            kinds.append(f"{errors} error{'s' * (errors != 1)}")
        if warnings:
            kinds.append(f"{warnings} warning{'s' * (warnings != 1)}")
        parts.append(f"{len(findings)} finding{'s' * (len(findings) != 1)} ({', '.join(kinds)})")
    else:
        parts.append("no findings")
    text = f"{parts[0]} in {n} target{'s' * (n != 1)}"
    suppressed = sum(r.suppressed for r in results)
    if suppressed:
        text += f" ({suppressed} suppressed)"
    unchecked = not_checked_text(results)
    if unchecked:
        text += f"; {unchecked}"
    if failed:
        text += f"; {failed} could not be analysed"
    cached = sum(r.cached for r in results)
    if cached:
        text += f"; {cached} from the cache" if n > 1 else "; from the cache"
    return text


def not_checked_text(results: list[TargetResult]) -> str:
    """``7 rules not checked (no loss found)``: never a silent "no findings" when
    rules could not run; empty when every rule ran."""
    pairs = [(r.target, code, reason) for r in results if r.error is None for code, reason in r.skipped]
    if not pairs:
        return ""
    reasons: dict[str, int] = {}
    for _t, _c, reason in pairs:
        short = reason.split(": ")[0].split(" (")[0].strip()
        reasons[short] = reasons.get(short, 0) + 1
    top = sorted(reasons, key=lambda k: -reasons[k])
    why = "; ".join(top[:2]) + ("; ..." if len(top) > 2 else "")
    n = len(pairs)
    targets = len({t for t, _c, _r in pairs})
    in_targets = f" in {targets} targets" if targets > 1 else ""
    return f"{n} rule{'s' * (n != 1)} not checked{in_targets} ({why})"


def _target(r: TargetResult, console: Console) -> None:
    if r.error is not None:
        cached = "   [dim](from the cache)[/dim]" if r.cached else ""
        console.print(f"[bold]{escape(r.target)}[/bold]   [red]could not be analysed[/red] ({r.error.kind}){cached}")
        console.print(f"  {escape(r.error.message)}", soft_wrap=True)
        _output(r, console)
        return
    how = f"captured by {r.capture_method}"
    confirmed = f"confirmed on {r.confirmed_on}" if r.confirmed_on else _not_run(r)
    cached = "   [dim](from the cache: nothing it reads has changed)[/dim]" if r.cached else ""
    console.print(f"[bold]{escape(r.target)}[/bold]   input {escape(r.input_text)}   {how}   {confirmed}{cached}", soft_wrap=True)
    if r.fallback_reason:
        console.print(f"  [dim]{escape(r.fallback_reason)}; recorded a concrete run instead[/dim]", soft_wrap=True)
    if r.flow:
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for col in ("stage", "value", "shape", "sizes", "where"):
            table.add_column(col)
        for row in r.flow:
            shape = "not reached" if row.shape is None else (" x ".join(row.shape) if row.shape else "scalar")
            if row.note:
                shape = row.note
            where = row.loc.where() if row.loc else ""
            table.add_row(row.stage, row.name, escape(shape), escape(_sizes(row)), escape(where))
        console.print(table)
    if r.beta_effective:
        console.print(f"  beta_eff = {escape(r.beta_effective)}")
    if r.loss_name:
        bound = ", ".join(f"{p} <- {s}" for p, s in r.binding)
        call = f"({bound})" if r.binding else ""
        console.print(f"  loss {escape(r.loss_name)}{escape(call)}", soft_wrap=True)
    if r.checks:
        parts = []
        for c in r.checks:
            mark = "ok" if c.ok else "[red]FAILED[/red]"
            parts.append(f"{escape(c.name)} {escape(c.detail)} {mark}")
        console.print("  checks: " + "; ".join(parts), soft_wrap=True)
    for note in r.notes:
        console.print(f"  [dim]note: {escape(note)}[/dim]", soft_wrap=True)
    _output(r, console)
    for reason, codes in _skipped_by_reason(r.skipped):
        console.print(f"  [yellow]not checked[/yellow]: {', '.join(codes)}: {escape(reason)}", soft_wrap=True)
    for f in r.findings:
        _finding(r, f, console)


def confirmation_state(r: TargetResult, f) -> str:
    """``confirmed``, ``not confirmed`` or ``unconfirmed: why``."""
    if f.confirmed is True:
        return "confirmed"
    if f.confirmed is False:
        return "not confirmed"
    if r.confirmed_on is None:
        return f"unconfirmed: no confirmation pass ({_not_run(r).split('(', 1)[1]}"
    return "unconfirmed: a run cannot show it"


def _not_run(r: TargetResult) -> str:
    """Why no confirmation pass ran: skipped or stopped, its note says why (a weight it could not swap, the
    device's memory); else --no-dynamic. Before, every such report said --no-dynamic (helper-found)."""
    if any("confirmation pass" in n or "confirmation run" in n for n in r.notes):
        return "not run (the confirmation pass was skipped: see the notes)"
    return "not run (--no-dynamic)"


def _finding(r: TargetResult, f, console: Console, blank: bool = True) -> None:
    loc = f.loc.where(column=True) if f.loc else r.target
    colour = "red" if f.severity is Severity.ERROR else "yellow"
    state = escape(confirmation_state(r, f))
    if blank:
        console.print()
    console.print(
        f"{escape(loc)}: [{colour} bold]{f.code}[/{colour} bold] {f.name}: {escape(f.message)}  [dim]\\[{state}][/dim]", soft_wrap=True
    )
    console.print(f"  fix: {escape(f.fix)}", soft_wrap=True)
    offered = fix_offer(f)
    if offered:
        console.print(f"  [dim]{escape(offered)}[/dim]", soft_wrap=True)


def fix_offer(f) -> str:
    """What became of the finding's edit: ``[*] fixable with --fix: ...``, or why it is not offered."""
    fix = f.autofix
    if fix is None:
        return ""
    if fix.verified:
        how = "--fix" if fix.applicability == "safe" else "--fix --unsafe-fixes"
        return f"[*] fixable with {how} (checked again: the finding goes, nothing new): {fix.message}"
    if fix.rejected:
        return f"no automatic fix: the edit `{fix.message}` was tried and {fix.rejected}"
    how = "--fix" if fix.applicability == "safe" else "--fix --unsafe-fixes"
    return f"[*] fixable with {how} (checked again before it is written; --diff shows it): {fix.message}"


def _output(r: TargetResult, console: Console) -> None:
    """A few lines of what the model's own code printed (never in machine formats)."""
    if not r.output:
        return
    console.print(f"  [dim]the model's code printed {len(r.output)} line{'s' * (len(r.output) != 1)}:[/dim]")
    if r.error is not None and len(r.output) > SHOWN_OUTPUT_LINES:
        # a run that failed said why last (argparse's "error: ..." after its usage): its first and last
        # lines, and an "error: ..." line between them (jsonargparse says it before 60 lines of detail)
        head, tail = r.output[:2], r.output[-(SHOWN_OUTPUT_LINES - 2) :]
        head += _said_the_error(r.output[2 : len(r.output) - len(tail)])
        more = len(r.output) - len(head) - len(tail)
    else:
        head, tail = r.output[:SHOWN_OUTPUT_LINES], []
        more = len(r.output) - len(head)
    for line in head:
        console.print(f"  [dim]| {escape(line[:200])}[/dim]", soft_wrap=True)
    if more:
        console.print(f"  [dim]| ... {more} more[/dim]")
    for line in tail:
        console.print(f"  [dim]| {escape(line[:200])}[/dim]", soft_wrap=True)


SHOWN_OUTPUT_LINES = 6


def _said_the_error(lines: list[str]) -> list[str]:
    """The first "error: ..." line of ``lines`` and the first items of the list of errors under it
    (jsonargparse's "- Expected 'torchvision.transforms.Compose' to be ...")."""
    first = next((i for i, line in enumerate(lines) if line.lstrip().lower().startswith("error:")), None)
    if first is None:
        return []
    return [lines[first]] + [line for line in lines[first + 1 :] if line.lstrip().startswith("- ")][:2]


def _skipped_by_reason(skipped) -> list[tuple[str, list[str]]]:
    """One line per reason, naming every rule it stopped."""
    grouped: dict[str, list[str]] = {}
    for code, reason in skipped:
        grouped.setdefault(reason, []).append(code)
    return list(grouped.items())


def _sizes(row) -> str:
    """``32 x 784``: the sizes at the user's batch, or the symbols where they are not known."""
    if not row.shape:
        return ""
    return " x ".join(str(s) for s in row.at_batch) if row.at_batch is not None else " x ".join(row.shape)
