"""A loss in a file of its own beside the model (vaelint/frontends/losssibling.py): found where the
model's file names none; a file that runs anything at its top level is never imported for it."""

from __future__ import annotations

import os

from conftest import FIXTURES
from helpers import check, found

MODEL = """
import torch
from torch import nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(20, 8)
        self.dec = nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar
"""

LOSS = """
import torch
import torch.nn.functional as F


def vae_loss(recon, x, mu, logvar):
    rec = F.mse_loss(recon, x, reduction="none").sum(1)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
    return (rec + kl).mean()
"""


def test_the_one_loss_of_a_loss_file_beside_the_model_is_read():
    for kind, expected in (("clean", set()), ("buggy", {("VAE002", 10)})):
        path = os.path.join(FIXTURES, kind, "loss_in_a_file_beside_the_model", "vae.py")
        result = check(path, "SmallVAE", ["16x784"])
        assert result.error is None, result.error
        assert found(result) == expected, result.findings
        assert any("losses.py:elbo_loss, the one loss function of a loss file beside the model" in n for n in result.notes), result.notes


def test_a_loss_file_that_runs_code_at_its_top_is_not_imported(tmp_path, monkeypatch):
    (tmp_path / "lbm_model.py").write_text(MODEL)
    (tmp_path / "lbm_loss.py").write_text(LOSS + "\nopen('RAN', 'w').write('imported')\n")
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "lbm_model.py"), "VAE", ["8x20"])
    assert result.error is None, result.error
    assert not (tmp_path / "RAN").exists()
    assert any("no loss found" in n for n in result.notes), result.notes


def test_two_loss_functions_beside_the_model_choose_none(tmp_path):
    (tmp_path / "lbm_model.py").write_text(MODEL)
    (tmp_path / "lbm_losses.py").write_text(LOSS + "\n\ndef elbo_loss(recon, x, mu, logvar):\n    return vae_loss(recon, x, mu, logvar)\n")
    result = check(str(tmp_path / "lbm_model.py"), "VAE", ["8x20"])
    assert result.error is None, result.error
    assert any("no loss found" in n for n in result.notes), result.notes
    (tmp_path / "lbm_losses.py").write_text(LOSS)
    result = check(str(tmp_path / "lbm_model.py"), "VAE", ["8x20"])
    assert any("lbm_losses.py:vae_loss, the one loss function" in n for n in result.notes), result.notes


def test_a_loss_file_beside_two_models_is_the_one_it_names(tmp_path):
    # losses.py written for vae.py (it imports it) is not bernoulli_vae.py's, whose loss is elsewhere
    (tmp_path / "lbm_vae.py").write_text(MODEL)
    (tmp_path / "lbm_bernoulli_vae.py").write_text(MODEL.replace("class VAE", "class BernoulliVAE"))
    (tmp_path / "lbm_losses.py").write_text("from lbm_vae import VAE  # noqa: F401\n" + LOSS)
    result = check(str(tmp_path / "lbm_bernoulli_vae.py"), "BernoulliVAE", ["8x20"])
    assert result.error is None, result.error
    assert any("no loss found" in n for n in result.notes), result.notes
    result = check(str(tmp_path / "lbm_vae.py"), "VAE", ["8x20"])
    assert any("lbm_losses.py:vae_loss, the one loss function" in n for n in result.notes), result.notes
