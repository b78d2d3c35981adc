"""Typed results: findings, shape-flow rows, one target's result.

Rules produce these; reporters only render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vaelint.errors import VaelintError
from vaelint.source.frames import SourceLoc
from vaelint.vocab import Severity


@dataclass
class Finding:
    """What a report shows of one finding: portable (pickled from the worker, cached).
    The graph node and the rule's typed record stay in the worker (vaelint/rulebase.py,
    Reported)."""

    code: str
    name: str
    severity: Severity
    message: str
    loc: SourceLoc | None
    fix: str
    confirmed: bool | None = None
    # the edit that removes it (vaelint/fixes/edits.py, Fix), when its rule offers one
    autofix: object = field(default=None, compare=False)

    def sort_key(self):
        loc = self.loc
        return (loc.path if loc else "", loc.line if loc else 0, loc.column if loc else 0, self.code)


@dataclass
class FlowRow:
    stage: str  # input, encoder, reparam, decoder, loss
    name: str
    shape: list[str] | None  # the symbols, ["B", "Z"]; None: the run never reached it
    sizes: dict[str, int]  # each symbol's size at the user's batch, {"B": 32, "Z": 16}
    loc: SourceLoc | None
    note: str = ""  # e.g. "sum over B, 784" for loss terms
    node: object = field(default=None, repr=False, compare=False)  # the graph node; not reported
    # the sizes at the user's batch, one per symbol of ``shape`` (None: not known)
    at_batch: tuple[int, ...] | None = None


@dataclass
class Check:
    """A whole-model check of the confirmation pass (the loss is finite, gradients flow)."""

    name: str
    ok: bool
    detail: str


@dataclass
class TargetResult:
    target: str
    error: VaelintError | None = None
    findings: list[Finding] = field(default_factory=list)
    flow: list[FlowRow] = field(default_factory=list)
    capture_method: str | None = None  # "torch.fx" or "recording"
    fallback_reason: str | None = None
    input_text: str = ""  # "B x 784 (B=32)"
    batch: int | None = None
    confirmed_on: str | None = None  # "cpu", "cuda", or None when the pass did not run
    loss_name: str | None = None
    binding: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (rule code, why it could not run)
    beta_effective: str | None = None
    checks: list[Check] = field(default_factory=list)
    suppressed: int = 0  # findings silenced by # vaelint: ignore or per-file-ignores
    output: list[str] = field(default_factory=list)  # what the model's own code printed (text report only)
    # vaelint annotate: the annotations to add (vaelint/contracts/proposals.py, Proposal)
    annotations: list = field(default_factory=list)
    # the files the check read (the target's, its user modules, files its code opened),
    # recorded by the worker for the result cache (vaelint/cache/store.py)
    dependencies: list[str] = field(default_factory=list)
    # files read only to find a name (a call of the loss) they did not hold: path -> names
    absent_names: dict[str, list[str]] = field(default_factory=dict)
    # what it looked for and did not find: (files, top-level modules, the user folders searched)
    # (vaelint/cache/reads.py ``missing``); a cached result holds while they are still missing
    missing: tuple = ((), (), ())
    # the environment variables the check read, with the values it saw (None: unset)
    environment: dict[str, str | None] = field(default_factory=dict)
    # the user's folders its code listed, with a digest of their names (None: no such folder)
    listings: dict[str, str | None] = field(default_factory=dict)
    # the installed packages its code imported: top module file -> "size:mtime"
    installed: dict[str, str] = field(default_factory=dict)
    cached: bool = False  # answered from the result cache

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        return "findings" if self.findings else "clean"
