"""A Gaussian likelihood with a learned log-variance, its scale part and its squared error summed
together and divided by the batch (``0.5 * torch.sum(logvar_x + (x - mu_x) ** 2 / logvar_x.exp()) /
x.size(0)``): the division, shared by the scale part split off, was taken for the whole loss's and
dropped, and VAE002 said "sum over B" with beta_eff = 1/B [confirmed] (helper-found, an old-torch
VAE). The batch's divisor is the likelihood's own; without it the mismatch is still VAE002."""

from __future__ import annotations

import pytest
from json_cli import check_json

MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.mu, self.lv = nn.Linear(784, 256), nn.Linear(256, 8), nn.Linear(256, 8)
        self.dec, self.out_mu, self.out_lv = nn.Linear(8, 256), nn.Linear(256, 784), nn.Linear(256, 784)

    def forward(self, x):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.lv(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        g = F.relu(self.dec(z))
        return torch.sigmoid(self.out_mu(g)), self.out_lv(g), mu, logvar

    def loss_function(self, x, mu_x, logvar_x, mu, logvar):
        nll = 0.5 * torch.sum(logvar_x + (x - mu_x) ** 2 / logvar_x.exp())NLL_DIV
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
        return nll + kl
"""


@pytest.mark.parametrize(("divided", "beta"), [(" / x.size(0)", "1"), ("", "1/B")], ids=["both over the batch", "the likelihood not"])
def test_the_batch_divisor_of_a_learned_variance_likelihood_is_its_own(tmp_path, divided, beta):
    path = tmp_path / "vae.py"
    path.write_text(MODEL.replace("NLL_DIV", divided))
    r, result = check_json(f"{path}:VAE", "--input", "32x784")
    assert str(result["beta_effective"]) == beta, (result["beta_effective"], r.output)
    assert ("VAE002" in [f["code"] for f in result["findings"]]) is (beta != "1"), r.output
