"""Option values converted without typer's pydantic layer (vaelint/optionvalues.py):
the same values typer gives, typer's own messages for the rest, and no pydantic."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer

from conftest import FIXTURES
from vaelint.cli import app

typer_coercion = pytest.importorskip("typer._coercion", reason="typer without the pydantic layer: nothing is replaced")

SAMPLES = ["3", "-2", "+4", "0", "0.5", "-0.5", ".5", "1e-3", "3.0", " 3", "nan", "inf", "", "abc",
           "json", "text", "JSON", "cuda", "auto", "error", "warning", "never", "1_000"]


def outcome(convert, value):
    """What a conversion gives: ("value", the value and its type) or ("error", typer's message)."""
    try:
        out = convert(value)
    except Exception as e:  # noqa: BLE001 - typer's BadParameter (its vendored click's)
        return ("error", type(e).__name__, str(e))
    return ("value", repr(out), type(out).__name__, [type(v).__name__ for v in out] if isinstance(out, list) else None)


def params():
    group = typer.main.get_command(app)
    for command in [group, *group.commands.values()]:
        ctx = typer.Context(command)
        for param in command.get_params(ctx):
            yield command.name or "vaelint", param, ctx


def test_every_option_value_converts_as_typer_converts_it():
    from vaelint.optionvalues import _install

    replaced = 0
    for where, param, ctx in params():
        if getattr(param, "type_descriptor", None) is None:
            continue
        _install(param)
        ours = param._runtime_param
        if ours is None:
            continue
        replaced += 1
        theirs = typer_coercion.build_runtime_param(param.type_descriptor)
        multi = param.multiple or param.nargs == -1
        values = [None, param.default, *([tuple(SAMPLES[:3]), (), tuple(SAMPLES)] if multi else SAMPLES), True, False]
        for value in values:
            expected = outcome(lambda v: theirs.coerce(v, param=param, ctx=ctx), value)
            got = outcome(lambda v: ours.coerce(v, param=param, ctx=ctx), value)
            assert got == expected, f"{where} {param.name} {value!r}"
    assert replaced >= 30  # check's options and the others: the layer is really skipped


def test_a_check_parses_its_options_without_importing_pydantic(tmp_path):
    args = ["check", f"{FIXTURES}/clean/mlp_vae.py:VAE", "--input", "32x784", "--jobs", "2", "--beta", "1", "--timeout", "30",
            "--format", "json", "--fail-on", "error", "--color", "never", "--init", "latent=16", "--show-settings"]
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "vaelint", *args], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, VAELINT_SPARE="0"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "timeout" in out.stdout  # --show-settings printed the merged settings
    assert "pydantic" not in out.stderr and "typer._adapters" not in out.stderr


@pytest.mark.parametrize("args, words", [
    (["--jobs", "abc"], "Invalid value for '--jobs' / '-j'"),
    (["--jobs", "0"], "greater than or equal to 1"),
    (["--timeout", "-1"], "Invalid value for '--timeout'"),
    (["--format", "xml"], "'xml' is not one of 'text', 'json', 'sarif', 'github', 'markdown'"),
])
def test_a_malformed_value_still_gets_typers_message_and_exit_2(args, words):
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["check", f"{FIXTURES}/clean/mlp_vae.py:VAE", "--input", "32x784", *args])
    assert result.exit_code == 2
    assert words in " ".join(result.output.replace("│", " ").split())
