"""A loss that returns ``(rec / n, kl / n, loss / n)`` with ``loss = rec + kl`` computed before the
division: the third value is the total (each of the others is a copy of a part of it, divided as it
is), so VAE002/VAE004 read it, not the sum of the three (helper-found: BouncyButton/koi, whose real
VAE002 was skipped as "2 reconstruction terms", exit 0). The near miss, ``(rec / n, kl / n)``, is
still read as the sum its training step makes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, 16), nn.Linear(8, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar

    def loss_function(self, recon, x, mu, logvar):
        n = x.size(0)
        nll = F.mse_loss(recon, x, reduction="none").mean(1).sum()
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = nll + kld
        return {ret}
"""


@pytest.mark.parametrize("ret, codes", [("nll / n, kld / n, loss / n", ["VAE002"]), ("nll / n, kld / n", ["VAE002"])])
def test_the_divided_total_is_the_loss(tmp_path, monkeypatch, ret, codes):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vae.py").write_text(MODEL.format(ret=ret))
    r = runner.invoke(app, ["check", "vae.py:VAE", "--input", "32x784", "--no-cache", "--format", "json"])
    (result,) = json.loads(r.output)["results"]
    assert result["error"] is None, result["error"]
    assert [f["code"] for f in result["findings"]] == codes, (result["findings"], result["skipped"])
    assert not any("none of its values adds up" in n for n in result["notes"]) or ret.count(",") == 1, result["notes"]
