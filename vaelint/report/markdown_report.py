"""``--output-format markdown``: GitHub-flavoured Markdown for ``$GITHUB_STEP_SUMMARY``
and pull-request comments. Per target a mermaid flowchart of the shape flow
(input -> encoder -> reparameterisation -> decoder -> loss, each box with its
symbolic shape; a box a finding points at is coloured), then the findings with
their fixes. GitHub renders mermaid blocks natively."""

from __future__ import annotations

from vaelint.diagnostics import TargetResult
from vaelint.report.reporters import ReportContext
from vaelint.report.text_report import confirmation_state, summary_line
from vaelint.vocab import Severity

_STAGES = ("input", "encoder", "reparam", "decoder", "loss")
_TITLES = {"input": "input", "encoder": "encoder", "reparam": "reparameterisation", "decoder": "decoder", "loss": "loss"}


def render(results: list[TargetResult], context: ReportContext) -> str:
    """The notes (context.notes): what the run says beside its results (no target in the files given)."""
    notes = context.notes
    out = [f"## vaelint: {notes[0] if notes and not results else summary_line(results)}", ""]
    out += [f"- {_text(note)}" for note in notes[1:] if not results]
    for r in results:
        out += _target(r)
    return "\n".join(out).rstrip() + "\n"


def _target(r: TargetResult) -> list[str]:
    title = f"### `{_code_text(r.target)}`"
    if r.error is not None:
        return [title, "", f"**could not be analysed** ({r.error.kind}): {_text(r.error.message)}", ""]
    out = [
        title,
        "",
        f"input {_text(r.input_text)} · captured by {r.capture_method}"
        + (f" · confirmed on {r.confirmed_on}" if r.confirmed_on else "")
        + (f" · beta_eff = `{r.beta_effective}`" if r.beta_effective else ""),
        "",
    ]
    if r.flow:
        out += ["```mermaid", *flowchart(r), "```", ""]
    if r.findings:
        out += ["| | code | where | finding | fix |", "| --- | --- | --- | --- | --- |"]
        for f in r.findings:
            where = f"`{f.loc.where()}`" if f.loc else ""
            mark = ":x:" if f.severity is Severity.ERROR else ":warning:"
            out.append(f"| {mark} | {f.code} {f.name} | {where} | {_text(f.message)} ({confirmation_state(r, f)}) | {_text(f.fix)} |")
        out.append("")
    else:
        out += ["no findings", ""]
    if r.skipped:
        out += [f"- not checked: {code}: {_text(reason)}" for code, reason in r.skipped] + [""]
    return out


def flowchart(r: TargetResult) -> list[str]:
    """Mermaid lines: one box per flow row, grouped by stage, stages in order."""
    flagged = {(f.loc.path, f.loc.line) for f in r.findings if f.loc is not None}
    lines = ["flowchart LR"]
    present, hot = [], []
    for stage in _STAGES:
        rows = [(i, row) for i, row in enumerate(r.flow) if row.stage == stage]
        if not rows:
            continue
        present.append(stage)
        lines.append(f'  subgraph {stage}["{_TITLES[stage]}"]')
        for i, row in rows:
            shape = row.note or (" x ".join(row.shape) if row.shape else "scalar" if row.shape == [] else "not reached")
            lines.append(f'    n{i}["{_label(row.name)}<br/>{_label(shape)}"]')
            if row.loc is not None and (row.loc.path, row.loc.line) in flagged:
                hot.append(f"n{i}")
        lines.append("  end")
    for a, b in zip(present, present[1:]):
        lines.append(f"  {a} --> {b}")
    if hot:
        lines.append("  classDef finding fill:#ffd7d7,stroke:#c00000,stroke-width:2px")
        lines.append(f"  class {','.join(hot)} finding")
    return lines


def _label(text: str) -> str:
    """Text safe inside a mermaid node label."""
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _text(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _code_text(text: str) -> str:
    return text.replace("`", "'")
