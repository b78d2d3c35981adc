"""The report formats for CI systems other than GitHub (vaelint/report/junit_report.py,
gitlab_report.py): JUnit XML against the JUnit schema, GitLab's code quality report against
its documented fields; a target not checked and a rule that could not run are never a pass."""

from __future__ import annotations

import json
import os

import pytest
from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app
from vaelint.diagnostics import TargetResult
from vaelint.errors import VaelintError
from vaelint.report.reporters import ReportContext

SCHEMAS = os.path.join(os.path.dirname(__file__), "schemas")
TARGETS = ["fixtures/buggy/recon_broadcast_mse.py:VAE", "fixtures/clean/mlp_vae.py:VAE", "missing.py:VAE"]


def _check(monkeypatch, fmt: str, *extra: str):
    monkeypatch.chdir(os.path.dirname(FIXTURES))
    return CliRunner().invoke(app, ["check", *TARGETS, "--input", "6x784", "--format", fmt, *extra])


def _skipped_result() -> TargetResult:
    return TargetResult("vq.py:VQVAE", skipped=[("VAE001", "no reparameterisation found in the graph")])


def test_junit_follows_the_junit_schema_and_says_each_outcome(monkeypatch):
    from lxml import etree

    r = _check(monkeypatch, "junit")
    assert r.exit_code == 2, r.output  # a target that could not be checked
    schema = etree.XMLSchema(etree.parse(os.path.join(SCHEMAS, "junit.xsd")))
    doc = etree.fromstring(r.output.encode())
    schema.assertValid(doc)
    assert (doc.get("tests"), doc.get("failures"), doc.get("errors")) == ("3", "1", "1")
    suites = {s.get("name"): s for s in doc.findall("testsuite")}
    assert list(suites) == TARGETS
    case = suites[TARGETS[0]].find("testcase")
    assert case.get("name") == "VAE003 recon-shape at fixtures/buggy/recon_broadcast_mse.py:26"
    failure = case.find("failure")
    assert failure.get("type") == "VAE003 error" and "broadcasts them to B x B x 784" in failure.get("message")
    assert failure.text.endswith("fix: reshape one side to the other's shape before the loss: recon.view_as(x)")
    assert [c.get("name") for c in suites[TARGETS[1]]] == ["no findings"] and suites[TARGETS[1]].find(".//failure") is None
    error = suites[TARGETS[2]].find("testcase/error")
    assert error.get("type") == "load" and "missing.py" in error.text


def test_junit_says_a_rule_that_could_not_run_and_a_run_with_no_targets():
    from lxml import etree

    from vaelint.report import junit_report

    schema = etree.XMLSchema(etree.parse(os.path.join(SCHEMAS, "junit.xsd")))
    doc = etree.fromstring(junit_report.render([_skipped_result()], ReportContext()).encode())
    schema.assertValid(doc)
    skipped = doc.find("testsuite/testcase/skipped")
    assert doc.get("skipped") == "1" and skipped.get("message") == "no reparameterisation found in the graph"
    assert doc.find("testsuite/testcase").get("name") == "VAE001 not checked"
    doc = etree.fromstring(junit_report.render([], ReportContext(notes=("no VAE targets in 2 files",))).encode())
    schema.assertValid(doc)
    assert doc.find("testsuite/testcase/skipped").get("message") == "no VAE targets in 2 files"


def test_gitlab_code_quality_follows_its_format_and_never_shows_a_clean_widget_for_code_not_checked(monkeypatch):
    import jsonschema

    r = _check(monkeypatch, "gitlab")
    issues = json.loads(r.output)
    jsonschema.validate(issues, json.load(open(os.path.join(SCHEMAS, "gitlab-codequality.json"))))
    found = next(i for i in issues if i["check_name"].startswith("VAE003"))
    assert found["location"] == {"path": "fixtures/buggy/recon_broadcast_mse.py", "lines": {"begin": 26}}
    assert found["severity"] == "critical" and "Fix: reshape one side" in found["description"]
    missing = next(i for i in issues if i["check_name"] == "vaelint/load")
    assert missing["severity"] == "blocker" and missing["location"]["path"] == "missing.py"
    assert len({i["fingerprint"] for i in issues}) == len(issues) == 2


def test_gitlab_fingerprints_are_unique_per_finding_and_stable_when_lines_move():
    from vaelint.diagnostics import Finding, Severity
    from vaelint.report import gitlab_report
    from vaelint.source.frames import SourceLoc

    path = os.path.join(FIXTURES, "buggy", "recon_broadcast_mse.py")

    def finding(line, col):
        return Finding("VAE005", "batch-hardcoded", Severity("error"), "divided by 16", SourceLoc(path, line, col), "x.size(0)")

    two = TargetResult("t.py:VAE", findings=[finding(26, 5), finding(26, 40)])
    prints = [i["fingerprint"] for i in gitlab_report.to_list([two])]
    assert len(set(prints)) == 2
    skipped = gitlab_report.to_list([_skipped_result()])
    assert [(i["check_name"], i["severity"]) for i in skipped] == [("vaelint/not-checked", "info")]


@pytest.mark.parametrize("fmt", ["junit", "gitlab"])
def test_the_ci_formats_are_also_outputs(monkeypatch, tmp_path, fmt):
    out = tmp_path / f"report.{fmt}"
    r = _check(monkeypatch, "text", "--also-output", f"{fmt}={out}")
    assert r.exit_code == 2 and out.read_text().strip(), r.output
    assert "VAE003" in out.read_text()


def test_an_error_result_renders_in_both_formats():
    from vaelint.report import gitlab_report, junit_report

    res = TargetResult("train.py", error=VaelintError("input", "give --input"))
    assert "<error " in junit_report.render([res], ReportContext())
    assert gitlab_report.to_list([res])[0]["check_name"] == "vaelint/input"
