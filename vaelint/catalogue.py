"""Stage 5, rules: the selected rules of the catalogue (rules/, installed as
vaelint.rules) run on one target's Context.

A rule that lacks what it needs is skipped with the reason; one that fails is a
note naming it (the others still report); a rule that another states better
defers to it (vaelint/rulebase.py, drop_deferred); a line the step runs twice is
one finding.
"""

from __future__ import annotations

import os
import traceback

from vaelint.diagnostics import TargetResult
from vaelint.rulebase import Rule, SkipRule, drop_deferred
from vaelint.settings.options import Options
from vaelint.vocab import Maturity


def selected_rules(options: Options) -> list[Rule]:
    from vaelint.rules import all_rules

    out = []
    for cls in all_rules():
        if options.select and not any(cls.code.startswith(s) for s in options.select):
            continue
        if cls.maturity is Maturity.PREVIEW and cls.code not in (options.select or ()):
            continue  # a preview rule runs where it is named, never as part of a group
        if any(cls.code.startswith(s) for s in options.ignore):
            continue
        out.append(cls())
    return out


def run_rules(rules: list[Rule], ctx, result: TargetResult) -> list[tuple]:
    """(rule, finding) for each finding of the rules that could run."""
    findings = []
    for rule in rules:
        unmet = next((why for why in map(ctx.unmet, rule.needs) if why), None)
        if unmet is not None:
            result.skipped.append((rule.code, unmet))
            continue
        try:
            findings += [(rule, f) for f in rule.check(ctx)]
        except SkipRule as why:
            result.skipped.append((rule.code, str(why)))
        except Exception as e:  # noqa: BLE001 - one rule's bug must not hide the others' findings
            result.notes.append(rule_bug(rule, "check", e))
            # never "no findings" from a rule that did not finish: it is one not checked
            result.skipped.append((rule.code, "the rule failed on this model, a bug in vaelint (the note says where)"))
    return once_each(drop_deferred(findings))


def offer_fixes(findings: list[tuple], ctx, result: TargetResult) -> None:
    """Each finding's edit, from its rule (not yet checked again: vaelint/fixes/verify.py)."""
    for rule, f in findings:
        try:
            f.autofix = rule.autofix(f, ctx)
        except Exception as e:  # noqa: BLE001 - a fix that cannot be worded is no fix, never a lost finding
            result.notes.append(rule_bug(rule, "word a fix for", e))


def once_each(findings: list) -> list:
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


def rule_bug(rule: Rule, stage: str, e: Exception) -> str:
    frame = traceback.extract_tb(e.__traceback__)[-1]
    return (
        f"{rule.code} could not {stage} this model ({type(e).__name__}: {e} at "
        f"{os.path.basename(frame.filename)}:{frame.lineno}); a bug in vaelint, please report it"
    )
