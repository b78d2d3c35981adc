"""``trainer.fit(module, loader)`` with Lightning not installed: the stand-in Trainer does what
Lightning's fit does first, the module's ``training_step`` on the first batch and the backward of
its loss, so the run stops there as at any first VAE backward and nothing after ``fit`` runs (a
post-training evaluation ran into the time limit, and the check blamed the data's speed)."""

from __future__ import annotations

import importlib.util

import pytest
from json_cli import check_json

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lightning") is not None, reason="Lightning installed: its own Trainer runs the step"
)

SCRIPT = """import sys

import lightning as L
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class LitSumVAE(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(20, 8)
        self.dec = nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar

    def training_step(self, batch, batch_idx):
        (x,) = batch
        recon, mu, logvar = self(x)
        rec = F.mse_loss(recon, x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return rec + kl

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters())


trainer = L.Trainer(max_epochs=1)
trainer.fit(LitSumVAE(), DataLoader(TensorDataset(torch.rand(64, 20)), batch_size=16))
sys.exit("the code after fit ran")
"""


def test_the_stand_in_trainer_runs_the_first_step_and_nothing_after_fit(tmp_path):
    path = tmp_path / "lsf_train.py"
    path.write_text(SCRIPT)
    r, result = check_json(str(path))
    assert result["error"] is None, result["error"]
    assert "training_step" in result["loss"], result["loss"]
    assert "VAE002" in {f["code"] for f in result["findings"]}, r.output
    assert "the code after fit ran" not in r.output, r.output
