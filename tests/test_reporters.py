"""The output formats are one registry (vaelint/report/reporters.py): vaelint's own formats are
entry points of the group a plugin's reporter joins, each a ``Reporter`` with the one ``render``
signature, and the command's format list is read from the registry."""

import importlib
import os

import pytest
import tomllib
from conftest import ROOT

from vaelint.diagnostics import Finding, TargetResult
from vaelint.plugins import check_format, format_names, reporter
from vaelint.report.reporters import OWN, ReportContext, Reporter
from vaelint.source.frames import SourceLoc
from vaelint.vocab import Severity

FINDING = Finding(
    "VAE003", "recon-shape", Severity.ERROR, "recon B x 784 vs input B x 1 x 28 x 28", SourceLoc("m.py", 26, 5), "x.view_as(recon)"
)
RESULTS = [TargetResult("m.py:VAE", findings=[FINDING]), TargetResult("n.py:VAE", skipped=[("VAE001", "no reparameterisation")])]


def test_vaelint_registers_its_own_formats_as_the_entry_points_it_falls_back_to():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        entry_points = tomllib.load(fh)["project"]["entry-points"]["vaelint.reporters"]
    assert entry_points == OWN
    assert format_names()[: len(OWN)] == tuple(OWN)


@pytest.mark.parametrize("name", list(OWN))
def test_each_own_format_is_a_reporter_rendering_text_from_one_signature(name):
    module = importlib.import_module(OWN[name])
    assert isinstance(module, Reporter) and reporter(name) is module
    text = module.render(RESULTS, ReportContext(notes=("a note",)))
    assert isinstance(text, str) and text.endswith("\n")
    assert "VAE003" in text and "\x1b[" not in text


def test_the_text_reporter_colours_only_where_the_context_allows_and_keeps_its_width():
    text = reporter("text")
    assert "\x1b[" in text.render(RESULTS, ReportContext(color=True))
    plain = text.render(RESULTS, ReportContext(width=200))
    assert "\x1b[" not in plain and "1 finding" in plain
    assert max(map(len, plain.splitlines())) <= 200
    quiet = text.render(RESULTS, ReportContext(quiet=True, statistics=True))
    assert "VAE003  recon-shape" in quiet and len(quiet) < len(plain)


def test_an_unknown_format_lists_the_registered_ones():
    from vaelint.errors import VaelintError

    assert check_format("sarif") == "sarif"
    with pytest.raises(VaelintError, match="one of text, json, sarif, github, markdown, junit, gitlab"):
        check_format("xml")
