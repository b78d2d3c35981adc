"""A loss method of the model that takes the batch and runs the forward itself is the step
(vaelint/frontends/lossfind.py, loss_runs_the_forward)."""

import os

from conftest import FIXTURES
from json_cli import check_json as _result
from json_cli import flow_shape as _shape


def test_a_loss_method_that_runs_the_forward_itself_is_checked_as_the_step():
    # def compute_loss(self, x): recon, mu, logvar = self(x): bound beside a forward of vaelint's
    # own, the loss read a second forward and no reconstruction was found (a silent exit 0)
    buggy = os.path.join(FIXTURES, "buggy", "loss_runs_the_forward.py") + ":VAE"
    r, result = _result(buggy, "--input", "8x20")
    assert r.exit_code == 1, r.output
    assert result["loss"] == "VAE.compute_loss (it runs the forward itself: its call of the model is the forward)"
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 26)]
    assert _shape(result, "recon") == "B x 20"


def test_its_near_miss_is_clean():
    clean = os.path.join(FIXTURES, "clean", "loss_runs_the_forward.py") + ":VAE"
    r, result = _result(clean, "--input", "8x20")
    assert r.exit_code == 0 and result["findings"] == [], r.output
    assert result["loss"].startswith("VAE.compute_loss (it runs the forward itself")
