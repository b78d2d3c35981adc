"""``--input 40x40:float32:1`` draws whole numbers below 1: every value 0. A graph VAE's adjacency given so
was all zeros, its scale head constant, and VAE008 said [confirmed] on consistent code (helper-found). Such
a spec is refused with what to write (HIGH 2 for binary data; no HIGH for values in [0, 1)); HIGH 2 and
an integer input with HIGH 1 are taken as before."""

from __future__ import annotations

import pytest

from vaelint.errors import VaelintError
from vaelint.inputs import parse_input_spec


def test_a_float_input_with_high_one_is_refused_with_what_to_write():
    with pytest.raises(VaelintError) as raised:
        parse_input_spec("40x40:float32:1")
    said = raised.value.message
    assert raised.value.kind == "input" and "every value would be 0" in said, said
    assert "40x40:float32:2" in said and "(40x40)" in said, said


@pytest.mark.parametrize("text", ["40x40:float32:2", "8:int64:1", "40x40"])
def test_other_bounds_are_taken(text):
    assert parse_input_spec(text).shape[0] in (40, 8)


def test_the_command_exits_2(tmp_path):
    from typer.testing import CliRunner

    from vaelint.cli import app

    path = tmp_path / "m.py"
    path.write_text("import torch.nn as nn\n\n\nclass M(nn.Module):\n    def forward(self, x):\n        return x\n")
    r = CliRunner().invoke(app, ["check", f"{path}:M", "--input", "4x4:float32:1", "--no-cache"])
    assert r.exit_code == 2 and "every value would be 0" in r.output, r.output
