"""An ``if`` on a model option whose branches both move layers to CUDA is no CUDA switch: VAE012's
simulated GPU leaves the option as the code set it, so the forward runs the branch its layers were
built for and the noise drawn without a device is found (before: the option turned on, the run
failed on a shape, VAE012 not checked, exit 0; helper-found: akahn1213/vrnn). Checked from outside
the repository, as a user's folder is (fixtures/buggy/cuda_in_both_branches_of_an_option.py)."""

from __future__ import annotations

import json
import os

from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()


def test_an_option_whose_branches_both_go_to_cuda_is_left_as_set(tmp_path, monkeypatch):
    source = open(os.path.join(FIXTURES, "buggy", "cuda_in_both_branches_of_an_option.py")).read()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(source)
    r = runner.invoke(app, ["check", "model.py:VAE", "--input", "16x12", "--no-cache", "--format", "json"])
    (result,) = json.loads(r.output)["results"]
    assert result["error"] is None, result["error"]
    line = source.splitlines().index("        z = mu + torch.randn(mu.shape) * torch.exp(0.5 * logvar)") + 1
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE012", line)], result["findings"]
    assert "VAE012" not in {s["code"] for s in result["skipped"]}
