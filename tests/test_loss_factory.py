"""``--loss PATH.py:make_vae_loss`` naming a factory of the loss (it defines the loss inside and
returns it, its weight a parameter): the loss checked is the one it makes, with the --loss-kwarg
values it takes. Before, the factory itself was called with the forward's outputs and the check
ended in exit 2 "loss not a scalar" (helper-found; frontends/lossfactory.py)."""

from __future__ import annotations

import pytest
from json_cli import check_json

from vaelint.frontends.lossfactory import returns_a_function

MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, z=4):
        super().__init__()
        self.enc = nn.Linear(64, 2 * z)
        self.dec = nn.Linear(z, 64)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def make_vae_loss(kld_weight=1.0, reduction="sum"):
    def vae_loss(output, target):
        recon, mu, logvar = output
        bce = F.binary_cross_entropy(recon, target, reduction=reduction)
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld_weight * kld

    return vae_loss


def make_needing(weight):
    return lambda output, target: F.mse_loss(output[0], target)
"""


@pytest.mark.parametrize(
    ("args", "codes"),
    [([], []), (["--loss-kwarg", "kld_weight=0.5", "--beta", "1"], ["VAE004"]), (["--loss-kwarg", "reduction='mean'"], ["VAE002"])],
    ids=["its defaults", "a weight given to the factory", "a reduction given to the factory"],
)
def test_the_loss_a_factory_makes_is_checked(tmp_path, args, codes):
    path = tmp_path / "factory.py"
    path.write_text(MODEL)
    r, result = check_json(f"{path}:VAE", "--input", "8x64", "--loss", f"{path}:make_vae_loss", *args)
    assert result["error"] is None, result["error"]
    assert [f["code"] for f in result["findings"]] == codes, r.output
    assert r.exit_code == (1 if codes else 0), r.output


def test_a_factory_missing_an_argument_says_which(tmp_path):
    path = tmp_path / "factory.py"
    path.write_text(MODEL)
    r, result = check_json(f"{path}:VAE", "--input", "8x64", "--loss", f"{path}:make_needing")
    assert r.exit_code == 2, r.output
    assert "make_needing makes the loss" in result["error"]["message"] and "--loss-kwarg weight=VALUE" in result["error"]["message"]


def test_what_reads_as_a_factory():
    def loss(recon, x):
        return (recon - x).sum()

    def factory(w=1.0):
        def inner(a, b):
            return w * (a - b).sum()

        return inner

    assert returns_a_function(factory) and not returns_a_function(loss)
