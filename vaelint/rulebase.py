"""What a rule is: a code, a page of documentation, examples, and a check.

Like Fixit's lint rules, every rule carries VALID and INVALID examples; the
test suite runs each one through the whole pipeline, so a rule's page and its
behaviour cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterable

from vaelint.diagnostics import Finding
from vaelint.vocab import ConfirmNeed, FixAvailability, Maturity, Need, Severity

if TYPE_CHECKING:
    from vaelint.facts.context import Context


_SLOT = re.compile(r"\{([A-Z_]+)\}")


def fill(template: str, **slots: object) -> str:
    """An example model from a template: each ``{NAME}`` slot gets ``slots["name"]``.

    Every slot must be filled and every value used, so a template and its
    examples cannot drift apart silently.
    """
    wanted = set(_SLOT.findall(template))
    given = {k.upper() for k in slots}
    if wanted != given:
        raise ValueError(f"template slots {sorted(wanted)} but given {sorted(given)}")
    return _SLOT.sub(lambda m: str(slots[m.group(1).lower()]), template)


@dataclass(frozen=True)
class Example:
    """A complete model file; the test checks it with ``target`` and ``inputs``.

    For INVALID examples, ``at`` names the line the finding must point at: the
    one line of ``code`` that ends with the comment ``# <- NAME``.
    """

    code: str
    target: str = "VAE"
    inputs: tuple[str, ...] = ("4x784",)
    loss: str | None = None
    at: str | None = None
    # A substring the message must contain.
    message: str | None = None
    # INVALID only: the whole file once the rule's offered fix is applied (Fixit's
    # expected_replacement); None: the rule offers no fix here. The tests apply the
    # fix, compare, and check the fixed file again.
    fixed: str | None = None
    unsafe: bool = False  # the offered fix is unsafe (--unsafe-fixes)

    def __post_init__(self):
        if self.at is not None:
            self.line  # noqa: B018 - a missing or doubled marker fails when the rule is imported

    @property
    def line(self) -> int | None:
        """The 1-based line marked ``# <- at`` (None: any line will do)."""
        if self.at is None:
            return None
        marked = [i for i, text in enumerate(self.code.splitlines(), 1) if text.rstrip().endswith(f"# <- {self.at}")]
        if len(marked) != 1:
            raise ValueError(f"an example must mark exactly one line '# <- {self.at}', found {len(marked)}")
        return marked[0]


class Observed:
    """What a rule saw, as a typed record that words its own message and fix
    (ruff's violations, pyflakes' messages): ``confirm`` reads its fields, never
    the message. Subclass it as a dataclass and give it ``message`` and ``fix``."""

    def message(self) -> str:
        raise NotImplementedError

    def fix(self) -> str:
        raise NotImplementedError


@dataclass
class Reported:
    """A rule's finding while its target is analysed: the portable :class:`Finding`
    (all that leaves the worker and reaches a report), the graph node it is about,
    and the typed record of what the rule observed. ``confirm`` and ``autofix`` read
    it as they would a finding (``code``, ``loc``, ``message`` read through)."""

    finding: Finding
    node: object = None  # the graph node: deferral between rules, the confirmation pass
    observed: Observed | None = None

    code = property(lambda self: self.finding.code)
    name = property(lambda self: self.finding.name)
    severity = property(lambda self: self.finding.severity)
    message = property(lambda self: self.finding.message)
    loc = property(lambda self: self.finding.loc)
    fix = property(lambda self: self.finding.fix)

    @property
    def confirmed(self) -> bool | None:
        return self.finding.confirmed

    @confirmed.setter
    def confirmed(self, value: bool | None) -> None:
        self.finding.confirmed = value

    @property
    def autofix(self):
        return self.finding.autofix

    @autofix.setter
    def autofix(self, value) -> None:
        self.finding.autofix = value


class SkipRule(Exception):
    """Raised by a rule's check when it cannot run on this target; the message
    says why and goes to the report's ``skipped`` list (never a silent pass)."""


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity] = Severity.ERROR
    summary: ClassVar[str]  # one line
    what: ClassVar[str]  # what it finds
    why: ClassVar[str]  # why it is bad
    example: ClassVar[str]  # a short snippet that triggers it
    fix: ClassVar[str]  # what to write instead
    # What the rule reads (vaelint/vocab.py, Need); the engine skips it, saying why,
    # when the target lacks one (vaelint/facts/context.py, Context.unmet).
    needs: ClassVar[tuple[Need, ...]] = ()
    # Rules that report some of this rule's cases better: where one of them (selected
    # and run) has a finding at the same node or line, this rule's finding there is
    # dropped (see drop_deferred). Ignore that rule and this one reports the case.
    defers_to: ClassVar[tuple[str, ...]] = ()
    # Whether its findings come with an edit (its ``autofix``); the rule tests hold it to its
    # INVALID examples. A preview rule runs only where --select names its code.
    fix_availability: ClassVar[FixAvailability] = FixAvailability.NEVER
    maturity: ClassVar[Maturity] = Maturity.STABLE
    VALID: ClassVar[list[Example]] = []
    INVALID: ClassVar[list[Example]] = []

    def __init_subclass__(cls, **kwargs):
        # the words as typed members: a misspelt need or severity fails when the
        # rule is defined, not by silently never matching
        super().__init_subclass__(**kwargs)
        cls.severity = Severity(cls.severity)
        cls.needs = tuple(Need(n) for n in cls.needs)
        cls.fix_availability = FixAvailability(cls.fix_availability)
        cls.maturity = Maturity(cls.maturity)

    def check(self, ctx: Context) -> Iterable[Reported]:
        raise NotImplementedError

    def explains(self, failure, ctx: Context) -> bool:
        """Is this run failure the effect this rule reports (so the target is
        analysed, not abandoned with exit 2)?"""
        return False

    def confirm_needs(self, finding: Reported, ctx: Context) -> set[ConfirmNeed]:
        """What ``confirm`` reads beyond the run at the user's batch, so the pass
        pays for it only when some finding asks: DOUBLED_BATCH (a second forward
        at 2*B, the same samples twice: the costliest part on a large model), GRAPH
        (the autograd graph kept after the backward, for gradients between nodes:
        it holds every activation until the analysis ends), CONTRACT_RUN."""
        return set()

    def confirm(self, finding: Reported, ctx: Context, observed) -> bool | None:
        """Did the real forward/backward pass show the effect? None: cannot tell."""
        return None

    def autofix(self, finding: Reported, ctx: Context):
        """The edit that removes ``finding`` (a ``vaelint.fixes.edits.Fix``), worded from
        the user's source, or None. It is checked again before it is offered: the
        edited model must be rid of the finding with no new one."""
        return None

    def report(self, observed: Observed, loc, node=None, severity: Severity | None = None) -> Reported:
        """A finding worded by what was observed (``observed.message()``, ``observed.fix()``),
        held with the node it is about for the rule's own ``confirm`` and ``autofix``."""
        finding = Finding(self.code, self.name, severity or self.severity, observed.message(), loc, observed.fix())
        return Reported(finding, node, observed)

    @classmethod
    def page(cls) -> str:
        """The rule's documentation page (``vaelint rule CODE``)."""
        standing = f", {cls.maturity}: runs only where --select names it" if cls.maturity is Maturity.PREVIEW else ""
        return (
            f"{cls.code} {cls.name} ({cls.severity}{standing})\n\n{cls.summary}\n\n"
            f"What it finds\n{cls.what.strip()}\n\nWhy it is bad\n{cls.why.strip()}\n\n"
            f"Example\n{cls.example.strip()}\n\nFix\n{cls.fix.strip()}\n\n"
            f"Edit offered (--fix): {cls.fix_availability.words}\n"
        )


def drop_deferred(found: list[tuple[Rule, Reported]]) -> list[tuple[Rule, Reported]]:
    """Each rule's findings less those at a place a rule it defers to has reported."""

    def place(f: Reported):
        return (f.loc.path, f.loc.line) if f.loc else None

    by_code: dict[str, list[Reported]] = {}
    for rule, f in found:
        by_code.setdefault(rule.code, []).append(f)
    kept = []
    for rule, f in found:
        others = [g for code in rule.defers_to for g in by_code.get(code, ())]
        if any((f.node is not None and g.node is f.node) or (place(g) and place(g) == place(f)) for g in others):
            continue
        kept.append((rule, f))
    return kept
