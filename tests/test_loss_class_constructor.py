"""A loss class that holds its KL weight from its constructor (``ElboLoss(beta=6)`` in the training
script), checked with ``--loss loss.py:ElboLoss``: ``--loss-kwarg beta=6`` goes to the constructor,
and without it VAE004 says the weight ``self.beta`` is 1 on this check, never that the KL "carries
no weight", and offers no edit that writes the number over it (helper-found:
GMPilankar/Beta-VAE-from-scratch-)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

MODEL = """import torch
import torch.nn as nn


class BetaVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, 16), nn.Linear(8, 784)

    def forward(self, x):
        mu, log_var = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        return mu, log_var, torch.sigmoid(self.dec(z))
"""
LOSS = """import torch
import torch.nn as nn
import torch.nn.functional as F


class ElboLoss(nn.Module):
    def __init__(self, beta=1):
        super().__init__()
        self.beta = beta

    def forward(self, mu, log_var, recon_x, x):
        rec = F.binary_cross_entropy(recon_x, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())
        return {total}
"""


def _check(tmp_path, monkeypatch, total: str, *extra: str):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "loss.py").write_text(LOSS.format(total=total))
    args = ["check", "model.py:BetaVAE", "--input", "32x784", "--loss", "loss.py:ElboLoss", "--beta", "6", "--no-cache", "--format", "json"]
    r = runner.invoke(app, args + list(extra))
    (result,) = json.loads(r.output)["results"]
    assert result["error"] is None, result["error"]
    return result


def test_a_loss_kwarg_the_constructor_takes_builds_the_class_with_it(tmp_path, monkeypatch):
    result = _check(tmp_path, monkeypatch, "rec + self.beta * kl", "--loss-kwarg", "beta=6")
    assert result["beta_effective"] == "6" and not result["findings"], result["findings"]


def test_a_weight_at_1_from_the_defaults_is_said_as_the_weight_it_is(tmp_path, monkeypatch):
    result = _check(tmp_path, monkeypatch, "rec + self.beta * kl")
    (finding,) = result["findings"]
    assert finding["code"] == "VAE004" and "the KL term's weight self.beta is 1 on this check" in finding["message"], finding
    assert "--loss-kwarg beta=6" in finding["fix"] and finding["autofix"] is None, finding


def test_a_kl_with_no_weight_in_the_code_is_still_said_so(tmp_path, monkeypatch):
    result = _check(tmp_path, monkeypatch, "rec + kl")
    (finding,) = result["findings"]
    assert "the KL term carries no weight in the code (beta_eff = 1) but --beta 6 was declared" in finding["message"], finding
