"""Running ``vaelint check`` on training code as a user types it, for the training tests."""

import os

from typer.testing import CliRunner

from vaelint.cli import app

from conftest import FIXTURES

TRAINING = os.path.join(FIXTURES, "training")
runner = CliRunner()


def run(*args):
    result = runner.invoke(app, ["check", *args])
    assert "Traceback" not in result.output, result.output
    return result
