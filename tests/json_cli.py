"""``vaelint check ... --format json`` as a user types it, read back (for the tests that look at
one target's result: its flow table, its notes, its findings)."""

import json

from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()


def check_json(*args):
    """(the CLI's result, the first target's JSON result), the cache left out."""
    r = runner.invoke(app, ["check", *args, "--format", "json", "--no-cache"])
    assert "Traceback" not in r.output, r.output
    return r, json.loads(r.output)["results"][0]


def flow_shape(result, name: str) -> str:
    """The symbolic shape of a value of the flow table, as the text report writes it."""
    return " x ".join(next(row["shape"] for row in result["flow"] if row["name"] == name))
