"""A loss that takes a training counter (``vae_loss(..., epoch)``), checked with the model alone:
the counter is 0, its first step, and the weights the loss computes from it are read at later
values (vaelint/frontends/losscounters.py); a value given with --loss-kwarg is where they start."""

from __future__ import annotations

import os

from conftest import FIXTURES
from json_cli import check_json

CLEAN = os.path.join(FIXTURES, "clean", "loss_takes_the_epoch.py") + ":CVAE"
INPUTS = ("--input", "8x30", "--input", "8:int64:4")


def test_the_epoch_is_the_first_step_and_the_warmup_is_read_where_it_settles():
    r, result = check_json(CLEAN, *INPUTS)
    assert r.exit_code == 0, r.output
    assert result["findings"] == []
    assert "the counter's first step" in str(result["binding"]), result["binding"]
    assert any("takes the training counter epoch" in n and "read at later values" in n for n in result["notes"]), result["notes"]
    assert any("0 at epoch = 0, 1 from epoch = 10" in n for n in result["notes"]), result["notes"]


def test_an_epoch_given_on_the_command_line_starts_the_schedule_there():
    # before: "multiplied by 0.5 ... the declared beta is 1" (a false VAE004) at the epoch the
    # binding error had asked for
    r, result = check_json(CLEAN, *INPUTS, "--loss-kwarg", "epoch=5")
    assert r.exit_code == 0, r.output
    assert result["findings"] == []
    assert any("0.5 at epoch = 5, 1 from epoch = 10" in n for n in result["notes"]), result["notes"]


def test_a_counter_with_a_default_is_left_to_its_default(tmp_path):
    path = tmp_path / "m.py"
    source = open(CLEAN.rsplit(":", 1)[0]).read().replace("logvar, epoch):", "logvar, epoch=10):")
    path.write_text(source)
    r, result = check_json(f"{path}:CVAE", *INPUTS)
    assert r.exit_code == 0, r.output
    assert not any("takes the training counter" in n for n in result["notes"]), result["notes"]
