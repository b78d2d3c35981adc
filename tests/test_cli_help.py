"""The command line through typer's public API only (issue 36, item 5): help text
shown as written, typer's own shell completion, typer's messages for malformed
values, and no private typer module imported by vaelint."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app

PACKAGE = Path(__file__).resolve().parent.parent / "vaelint"
COMMAND = str(Path(sys.executable).parent / "vaelint")  # the installed script: completion keys on its name


def private_typer_uses(source: str) -> list[str]:
    """The private typer names a module imports or reaches (``typer._coercion``, ``typer.core._x``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "typer":
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == "typer"]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "typer":
            names = [f"typer.{node.attr}"]
        found += [n for n in names if any(part.startswith("_") for part in n.split(".")[1:])]
    return found


def test_the_private_typer_check_sees_a_private_import():
    assert private_typer_uses("from typer._coercion import build_runtime_param") == [
        "typer._coercion",
        "typer._coercion.build_runtime_param",
    ]
    assert private_typer_uses("import typer\ntyper._click.Context") == ["typer._click"]
    assert private_typer_uses("import typer\nfrom typer.core import TyperCommand\ntyper.Option") == []


def test_no_module_of_vaelint_uses_a_private_typer_name():
    offenders = {
        str(p.relative_to(PACKAGE)): uses
        for p in sorted(PACKAGE.rglob("*.py"))
        if (uses := private_typer_uses(p.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def help_of(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="vaelint", terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def test_check_help_is_shown_as_written():
    text = help_of("check")
    assert "Read [tool.vaelint] from this file only." in text  # no markup read into it
    assert "`python script.py ARGS`" in text
    assert "<bool>" not in text and "<list[str]>" not in text.split("Options:")[1]
    for shown in (
        "--input SPEC",
        "--init NAME=VALUE",
        "--also-output FORMAT=PATH",
        "--timeout SECONDS",
        "-j, --jobs N",
        "--fail-on <error|warning>",
        "--no-dynamic  ",
    ):
        assert shown in text, shown
    assert "Usage: vaelint check [OPTIONS] [TARGET]..." in text


def test_the_application_offers_typers_completion():
    text = help_of()
    assert "--install-completion" in text and "--show-completion" in text


@pytest.mark.parametrize(
    "shell, first_words",
    [("bash", "complete -o default -F _vaelint_completion vaelint"), ("zsh", "#compdef vaelint"), ("fish", "complete --command vaelint")],
)
def test_completion_scripts_are_generated(shell, first_words, tmp_path):
    out = subprocess.run(
        [COMMAND],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=dict(os.environ, _VAELINT_COMPLETE=f"source_{shell}", VAELINT_SPARE="0"),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert first_words in out.stdout


@pytest.mark.parametrize(
    "option, choices",
    [("--fail-on", ["error", "warning"]), ("--format", ["text", "json", "sarif", "github", "markdown", "junit", "gitlab"])],
    ids=["an-options-choices", "the-output-formats-from-the-registry"],
)
def test_completion_offers(tmp_path, option, choices):
    out = subprocess.run(
        [COMMAND],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=dict(os.environ, _VAELINT_COMPLETE="complete_bash", COMP_WORDS=f"vaelint check {option} ", COMP_CWORD="3", VAELINT_SPARE="0"),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == choices


@pytest.mark.parametrize(
    "args, words",
    [
        (["--jobs", "abc"], "Invalid value for '--jobs' / '-j'"),
        (["--jobs", "0"], "greater than or equal to 1"),
        (["--timeout", "-1"], "Invalid value for '--timeout'"),
        (["--format", "xml"], "--format 'xml' is not an output format: one of text, json, sarif, github, markdown, junit, gitlab."),
    ],
)
def test_a_malformed_value_gets_typers_message_and_exit_2(args, words):
    result = CliRunner().invoke(app, ["check", f"{FIXTURES}/clean/mlp_vae.py:VAE", "--input", "32x784", *args])
    assert result.exit_code == 2
    assert words in " ".join(result.output.replace("│", " ").split())


def test_well_formed_values_reach_the_check_as_their_types():
    result = CliRunner().invoke(
        app,
        [
            "check",
            f"{FIXTURES}/clean/mlp_vae.py:VAE",
            "--input",
            "32x784",
            "--jobs",
            "2",
            "--beta",
            "0.5",
            "--timeout",
            "30",
            "--format",
            "json",
            "--fail-on",
            "error",
            "--init",
            "latent=16",
            "--show-settings",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "timeout" in result.output and "30" in result.output
