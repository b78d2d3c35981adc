"""``--loss-kwarg beta=0.5`` (or kl_weight, kld_weight) gives the loss the KL weight the user
chose: without --beta, that number is the declared beta. Before, VAE004 flagged the very weight the
user had passed ('multiplied by 0.5 ... while the declared beta is 1') and offered an unsafe fix
that deletes it (helper-found on a Mult-VAE). --beta, where given, still decides; a weight the code
sets by itself is still flagged against 1."""

from __future__ import annotations

import pytest
from json_cli import check_json

from vaelint.request import _kwarg_beta

MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, d=40, z=4):
        super().__init__()
        self.enc = nn.Linear(d, 2 * z)
        self.dec = nn.Linear(z, d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


def loss_function(recon, x, mu, logvar, beta=DEFAULT):
    rec = F.mse_loss(recon, x, reduction="sum") / x.size(0)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    return rec + beta * kl
"""


@pytest.mark.parametrize(
    ("default", "args", "codes"),
    [("1.0", ["--loss-kwarg", "beta=0.5"], []), ("1.0", ["--loss-kwarg", "beta=0.5", "--beta", "1"], ["VAE004"]), ("0.5", [], ["VAE004"])],
    ids=["the kwarg declares it", "--beta decides", "the code's own default"],
)
def test_a_kl_weight_given_as_a_loss_kwarg_is_the_declared_beta(tmp_path, default, args, codes):
    path = tmp_path / "kwbeta.py"
    path.write_text(MODEL.replace("DEFAULT", default))
    r, result = check_json(f"{path}:VAE", "--input", "8x40", *args)
    assert [f["code"] for f in result["findings"]] == codes, r.output
    assert r.exit_code == (1 if codes else 0), r.output


def test_which_kwargs_declare_beta():
    assert _kwarg_beta({"beta": 4}) == 4.0
    assert _kwarg_beta({"kld_weight": 0.2}) == 0.2
    assert _kwarg_beta({"anneal": 10000}) == 1.0  # a warm-up's step count as often as Mult-VAE's weight: not read
    assert _kwarg_beta({"kl_weight": True, "gamma": 3.0}) == 1.0
    assert _kwarg_beta({}) == 1.0
