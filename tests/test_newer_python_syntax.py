"""Code written for a newer Python than the one vaelint runs on does not parse here: the message
says so (the project's requires-python, or Python 3.12's f-strings) and says to run vaelint with
that Python, instead of "fix the syntax error" (helper-found: Artur-Gar/Fraud-Detection-VAE, whose
project asks for 3.12 and nests quotes in f-strings)."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()
BROKEN = "import torch\n\n\nclass VAE(torch.nn.Module):\n    def forward(self, x)\n        return x\n"


def _write(tmp_path, monkeypatch, source: str, requires: str | None):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vae.py").write_text(source)
    if requires:
        (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "demo"\nrequires-python = "{requires}"\n')


@pytest.mark.parametrize("target", ["vae.py", "vae.py:VAE"])
def test_a_project_that_asks_for_a_newer_python_is_said_so(tmp_path, monkeypatch, target):
    _write(tmp_path, monkeypatch, BROKEN, ">=3.99")
    r = runner.invoke(app, ["check", target, "--input", "4x8", "--no-cache"])
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "the project asks for Python >=3.99 (requires-python)" in text, r.output
    assert "Run vaelint with the Python the code is written for" in text and "Fix the syntax error" not in text


def test_a_plain_syntax_error_is_still_one(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, BROKEN, ">=3.9")
    r = runner.invoke(app, ["check", "vae.py:VAE", "--input", "4x8", "--no-cache"])
    assert r.exit_code == 2 and "Fix the syntax error" in r.output and "newer Python" not in r.output, r.output


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.12 parses the nested f-string")
def test_a_nested_quote_f_string_names_python_3_12(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, 'cfg = {"z": 8}\nprint(f"{cfg["z"]}")\n', None)
    r = runner.invoke(app, ["check", "vae.py", "--no-cache"])
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "Python 3.12's syntax" in text, r.output
