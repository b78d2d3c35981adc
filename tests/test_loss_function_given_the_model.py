"""``--loss utils.py:forward_pass`` where the function takes the model and runs it (a training
utility's ``forward_pass(x, y, device, model)``: ``out = model(x)``, then the terms): the model is
given to that parameter and the function is the step, as a loss method that calls ``self(x)`` is;
before, a forward output was bound to ``model`` and the check blamed the model
(helper-found: juglab/HDN)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

SOURCE = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, 32), nn.Linear(16, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return {{"logits": self.dec(z), "mu": mu, "logvar": logvar}}


def forward_pass(x, y, device, model):
    x = x.to(device)
    out = model(x)
    rec = F.binary_cross_entropy_with_logits(out["logits"], x, reduction="sum") / x.shape[0]
    kl = {kl}
    return {{"recons_loss": rec, "kl_loss": kl}}
"""


@pytest.mark.parametrize(
    "kl, codes",
    [
        ('-0.5 * torch.sum(1 + out["logvar"] - out["mu"] ** 2 - out["logvar"].exp()) / x.shape[0]', []),
        ('-0.5 * torch.mean(1 + out["logvar"] - out["mu"] ** 2 - out["logvar"].exp())', ["VAE002"]),
    ],
)
def test_the_model_goes_to_the_parameter_that_calls_it(tmp_path, monkeypatch, kl, codes):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vae.py").write_text(SOURCE.format(kl=kl))
    args = ["check", "vae.py:VAE", "--input", "8x784:float32:2", "--loss", "vae.py:forward_pass"]
    r = runner.invoke(app, args + ["--loss-kwarg", "device='cpu'", "--loss-kwarg", "y=None", "--no-cache", "--format", "json"])
    (result,) = json.loads(r.output)["results"]
    assert result["error"] is None, result["error"]
    assert "it runs the model it is given as model" in result["loss"]
    assert [f["code"] for f in result["findings"]] == codes, result["findings"]
