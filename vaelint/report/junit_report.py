"""``--format junit``: JUnit XML, as Jenkins, GitLab, Azure Pipelines and CircleCI read test
reports. Each target is a test suite; each finding a failing test case named by its rule and
line; a target that could not be checked an error; a rule that could not run a skipped test
case (never a silent pass); a target with none of these one passing test case."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from vaelint.diagnostics import TargetResult
from vaelint.report.reporters import ReportContext


def render(results: list[TargetResult], context: ReportContext) -> str:
    notes = context.notes
    root = ET.Element("testsuites", name="vaelint")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for res in results:
        suite = _suite(res)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key))
    if not results and notes:  # no target in the files given: a suite that says so
        suite = ET.SubElement(root, "testsuite", name="vaelint", tests="1", failures="0", errors="0", skipped="1")
        case = ET.SubElement(suite, "testcase", classname="vaelint", name="no VAE targets")
        ET.SubElement(case, "skipped", message=notes[0])
        totals["tests"] += 1
        totals["skipped"] += 1
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(res: TargetResult) -> ET.Element:
    from vaelint.source.frames import display_path

    suite = ET.Element("testsuite", name=res.target)
    cases = []
    if res.error is not None:
        case = ET.Element("testcase", classname=res.target, name="not checked")
        error = ET.SubElement(case, "error", message=_line(res.error.message), type=res.error.kind)
        error.text = res.error.message
        cases.append(case)
    for f in res.findings:
        where = f"{display_path(f.loc.path)}:{f.loc.shown_line}" if f.loc is not None else res.target
        case = ET.Element("testcase", classname=res.target, name=f"{f.code} {f.name} at {where}")
        failure = ET.SubElement(case, "failure", message=_line(f.message), type=f"{f.code} {f.severity}")
        failure.text = f"{where}:{f.loc.column if f.loc else 1}: {f.code} {f.name}: {f.message}\nfix: {f.fix}"
        cases.append(case)
    for code, reason in res.skipped:
        case = ET.Element("testcase", classname=res.target, name=f"{code} not checked")
        ET.SubElement(case, "skipped", message=_line(reason))
        cases.append(case)
    if not cases:
        cases.append(ET.Element("testcase", classname=res.target, name="no findings"))
    suite.extend(cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(len(res.findings)))
    suite.set("errors", str(int(res.error is not None)))
    suite.set("skipped", str(len(res.skipped)))
    return suite


def _line(text: str) -> str:
    """An attribute's one line (the element's text carries the whole message)."""
    first = " ".join(str(text).split())
    return first if len(first) <= 300 else first[:297] + "..."
