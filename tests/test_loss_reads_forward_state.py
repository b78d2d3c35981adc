"""A loss method that reads what the model's forward stored on it (``self.recon``, older research
code's way: ``vae.forward(x); vae.compute_loss(x)``) and calls the model's parts itself (a VampPrior
runs the encoder on its pseudo-inputs): forward runs first, then the method, as the code's step runs
them. Before, the method was taken for one that runs the forward itself, forward never ran and the
check said the model fails (helper-found: Deligiorgis/HVAE_VampPrior)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VampVAE(nn.Module):
    def __init__(self, d=784, z=8, k=5):
        super().__init__()
        self.enc, self.dec = nn.Linear(d, 2 * z), nn.Linear(z, d)
        self.pseudo = nn.Parameter(torch.rand(k, d))

    def encode(self, x):
        return self.enc(x).chunk(2, dim=1)

    def forward(self, x):
        self.mu, self.logvar = self.encode(x)
        self.z = self.mu + torch.randn_like(self.mu) * torch.exp(0.5 * self.logvar)
        self.recon = torch.sigmoid(self.dec(self.z))
        return self.recon

    def log_prior(self, z):
        mu_k, logvar_k = self.encode(self.pseudo)
        log_p = -0.5 * (logvar_k + (z[:, None] - mu_k) ** 2 / logvar_k.exp()).sum(-1)
        return torch.logsumexp(log_p, dim=1) - torch.log(torch.tensor(float(self.pseudo.shape[0])))

    def compute_loss(self, x):
        rec = F.binary_cross_entropy(self.recon, x, reduction="none").sum(1)
        log_q = (-0.5 * (self.logvar + (self.z - self.mu) ** 2 / self.logvar.exp())).sum(1)
        kl = log_q - self.log_prior(self.z)
        return (rec + kl).mean()
"""


@pytest.mark.parametrize("extra", [[], ["--loss", "compute_loss"]])
def test_forward_runs_before_a_loss_that_reads_its_state(tmp_path, monkeypatch, extra):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(MODEL)
    r = runner.invoke(app, ["check", "model.py:VampVAE", "--input", "16x784:float32:2", "--no-cache", "--format", "json", *extra])
    (result,) = json.loads(r.output)["results"]
    assert result["error"] is None, result["error"]
    assert "compute_loss" in result["loss"] and "runs the forward itself" not in result["loss"], result["loss"]


HELPERS = MODEL.replace(
    """    def forward(self, x):
        self.mu, self.logvar = self.encode(x)
        self.z = self.mu + torch.randn_like(self.mu) * torch.exp(0.5 * self.logvar)
        self.recon = torch.sigmoid(self.dec(self.z))
        return self.recon
""",
    """    def sample(self, x):
        self.mu, self.logvar = self.encode(x)
        self.z = self.mu + torch.randn_like(self.mu) * torch.exp(0.5 * self.logvar)

    def decode(self):
        self.recon = torch.sigmoid(self.dec(self.z))

    def forward(self, x):
        self.sample(x)
        self.decode()
        return self.recon
""",
)


def test_state_stored_by_the_methods_forward_calls_is_forwards(tmp_path, monkeypatch):
    """forward stores nothing itself: the methods it calls do (``self.sample(x); self.decode()``).
    Before, the loss was taken for one that runs the forward, and the model 'has no attribute recon'."""
    assert HELPERS != MODEL
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(HELPERS)
    r = runner.invoke(app, ["check", "model.py:VampVAE", "--input", "16x784:float32:2", "--no-cache", "--format", "json"])
    (result,) = json.loads(r.output)["results"]
    assert result["error"] is None, result["error"]
    assert "runs the forward itself" not in result["loss"], result["loss"]
    assert [row["name"] for row in result["flow"] if row["stage"] == "loss"][-1] == "loss", r.output  # the loss reached
