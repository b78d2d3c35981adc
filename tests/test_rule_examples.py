"""Each rule's VALID and INVALID examples, run through the whole pipeline (Fixit style)."""

import pytest
from helpers import check
from vaelint.rules import all_rules

RULES = all_rules()
VALID = [(r, i, ex) for r in RULES for i, ex in enumerate(r.VALID)]
INVALID = [(r, i, ex) for r in RULES for i, ex in enumerate(r.INVALID)]


def _run(tmp_path, example):
    path = tmp_path / "model.py"
    path.write_text(example.code)
    loss = f"{path}:{example.loss}" if example.loss else None
    return check(str(path), example.target, example.inputs, loss=loss)


@pytest.mark.parametrize("rule,i,example", VALID, ids=[f"{r.code}-valid-{i}" for r, i, _ in VALID])
def test_valid_example_has_no_finding(tmp_path, rule, i, example):
    result = _run(tmp_path, example)
    assert result.error is None, result.error.message
    # a VALID example is a clean model: no rule may fire on it
    assert [f"{f.code}: {f.message}" for f in result.findings] == []


@pytest.mark.parametrize("rule,i,example", INVALID, ids=[f"{r.code}-invalid-{i}" for r, i, _ in INVALID])
def test_invalid_example_is_found(tmp_path, monkeypatch, rule, i, example):
    import vaelint.analyze as analyze
    from vaelint.diagnostics import Finding
    from vaelint.rulebase import Observed

    reported = []

    def spy(rules, ctx, result):
        found = run_rules(rules, ctx, result)
        reported.extend(r for _rule, r in found)
        return found

    run_rules = analyze.run_rules
    monkeypatch.setattr(analyze, "run_rules", spy)
    result = _run(tmp_path, example)
    # every finding is worded by a typed record of what its rule observed; only the
    # portable Finding reaches the result
    for r in reported:
        assert isinstance(r.observed, Observed), r.code
        assert (r.message, r.fix) == (r.observed.message(), r.observed.fix())
    assert all(type(f) is Finding for f in result.findings)
    assert {"node", "payload", "observed"}.isdisjoint(vars(result.findings[0]) if result.findings else ())
    assert result.error is None, result.error.message
    hits = [f for f in result.findings if f.code == rule.code]
    assert hits, f"{rule.code} missed: {[f.message for f in result.findings]}"
    if example.line is not None:
        assert any(f.loc.line == example.line for f in hits), [(f.loc.line, f.message) for f in hits]
    if example.message is not None:
        assert any(example.message in f.message for f in hits), [f.message for f in hits]
    assert all(f.fix for f in hits)


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_has_a_page_and_examples(rule):
    page = rule.page()
    for heading in ("What it finds", "Why it is bad", "Example", "Fix"):
        assert heading in page
    assert rule.VALID and rule.INVALID
    assert rule.code.startswith("VAE") and rule.severity in ("error", "warning")


def test_catalogue_installs_as_vaelint_rules_not_rules(tmp_path):
    import subprocess
    import sys

    code = "import importlib.util, vaelint.rules; print(vaelint.rules.__name__, importlib.util.find_spec('rules'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["vaelint.rules", "None"]


def test_example_line_is_the_marked_line_and_a_bad_marker_fails():
    from vaelint.rulebase import Example, fill

    code = fill("a = 1\nb = {VALUE}  # <- here\nc = 3\n", value=2)
    assert code.splitlines()[1] == "b = 2  # <- here"
    assert Example(code, at="here").line == 2
    assert Example(code).line is None
    with pytest.raises(ValueError, match="exactly one line"):
        Example(code, at="there")
    with pytest.raises(ValueError, match="exactly one line"):
        Example(code + "d = 4  # <- here\n", at="here")


def test_fill_wants_every_slot_and_no_other():
    from vaelint.rulebase import fill

    with pytest.raises(ValueError, match="slots"):
        fill("x = {A} + {B}", a=1)
    with pytest.raises(ValueError, match="slots"):
        fill("x = {A}", a=1, b=2)
    assert fill("x = {A} + {A}", a=1) == "x = 1 + 1"


def _fixed(tmp_path, example):
    """The example checked with fixes on, each fix checked again (in this process)."""
    from vaelint.analyze import Options, analyse
    from vaelint.fixes.verify import verify
    from vaelint.inputs import parse_input_spec

    path = tmp_path / "model.py"
    path.write_text(example.code)
    loss = f"{path}:{example.loss}" if example.loss else None
    options = Options([parse_input_spec(s) for s in example.inputs], loss=loss, fixes=True, dynamic=False)
    target = f"{path}:{example.target}"
    result = analyse(target, options)
    verify(target, options, result, analyse)
    return path, result


@pytest.mark.parametrize("rule,i,example", INVALID, ids=[f"{r.code}-fix-{i}" for r, i, _ in INVALID])
def test_invalid_example_fix_is_declared_applies_and_checks_clean(tmp_path, rule, i, example):
    from vaelint.fixes.edits import apply_edits

    path, result = _fixed(tmp_path, example)
    offered = [f.autofix for f in result.findings if f.code == rule.code and f.autofix is not None and f.autofix.verified]
    if example.fixed is None:
        # every fix a rule offers on its own examples is written down there (Fixit's expected_replacement)
        assert offered == [], f"{rule.code} offers {offered[0].message}: declare fixed= on the example"
        return
    assert offered, [(f.code, f.autofix) for f in result.findings]
    fix = offered[0]
    assert fix.applicability == ("unsafe" if example.unsafe else "safe")
    after = apply_edits(example.code, fix.edits)
    assert after == example.fixed  # only the edit changes: every comment and blank stays
    # the fixed file, checked from scratch (with the confirmation pass), is rid of the finding
    path.write_text(after)
    again = check(str(path), example.target, example.inputs, loss=f"{path}:{example.loss}" if example.loss else None)
    assert again.error is None, again.error.message
    assert [f.message for f in again.findings if f.code == rule.code] == []


def test_rule_codes_read_from_module_names_match_the_classes():
    from vaelint.rules import rule_codes

    assert rule_codes() == [r.code for r in RULES]


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_a_rule_declares_the_fixes_its_examples_show(rule):
    # ruff's FixAvailability, held to the examples: a rule that never edits has no autofix and no
    # INVALID example with an edit; one that sometimes does shows one; one that always does, each
    from vaelint.rulebase import Rule
    from vaelint.vocab import FixAvailability

    edits = [e.fixed is not None for e in rule.INVALID]
    if rule.fix_availability is FixAvailability.NEVER:
        assert rule.autofix is Rule.autofix and not any(edits), f"{rule.code} offers edits: declare fix_availability"
    elif rule.fix_availability is FixAvailability.SOMETIMES:
        assert rule.autofix is not Rule.autofix and any(edits), f"{rule.code}: no INVALID example shows its edit"
    else:
        assert rule.autofix is not Rule.autofix and all(edits), f"{rule.code}: every INVALID example must show its edit"


def test_a_preview_rule_runs_only_where_select_names_it():
    from vaelint.catalogue import selected_rules
    from vaelint.rulebase import Rule
    from vaelint.settings.options import Options
    from vaelint.vocab import Maturity

    class Trial(Rule):
        code, name, maturity = "VAE099", "trial", Maturity.PREVIEW
        summary = what = why = example = fix = "A rule on trial."

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("vaelint.rules.all_rules", lambda: [*RULES, Trial])
        codes = lambda **kw: [type(r).code for r in selected_rules(Options([], **kw))]  # noqa: E731
        assert "VAE099" not in codes() and "VAE099" not in codes(select=["VAE"]) and "VAE099" not in codes(select=["VAE09"])
        assert codes(select=["VAE099"]) == ["VAE099"] and "VAE099" in codes(select=["VAE001", "VAE099"])
        assert len(codes()) == len(RULES)
    assert "preview: runs only where --select names it" in Trial.page()
