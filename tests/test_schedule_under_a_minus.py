"""An annealed KL weight that enters the loss under a minus (``loss = rec - beta * kl``, a sign
bug): VAE004 judges the schedule where it settles, as for ``+ beta * kl``, and leaves the sign to
VAE007; before, the run's folded factor (-beta at the step checked) was taken for a constant and
``--beta`` was advised at its mid-warm-up value (helper-found: CodingVillainKor/MusicVAE)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def kl_weight(step):
    return 0.5 * min(1.0, step / 5000)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters())
step = 0
for epoch in range(3):
    for (x,) in DataLoader(TensorDataset(torch.rand(128, 20)), batch_size=16):
        recon, mu, logvar = model(x)
        beta = kl_weight(step)
        rec = F.mse_loss(recon, x, reduction="sum") / x.size(0)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
        loss = {loss}
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
"""


@pytest.mark.parametrize(
    "loss, codes",
    [
        ("rec + -beta * kl", {"VAE004", "VAE007"}),  # the minus folded into the weight the run sees
        ("rec - beta * kl", {"VAE004", "VAE007"}),
        ("rec + beta * kl", {"VAE004"}),
    ],
)
def test_the_schedule_is_judged_where_it_settles(tmp_path, monkeypatch, loss, codes):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(SCRIPT.format(loss=loss))
    r = runner.invoke(app, ["check", "train.py", "--no-cache", "--format", "json"])
    (result,) = json.loads(r.output)["results"]
    assert result["error"] is None, result["error"]
    found = {f["code"]: f for f in result["findings"]}
    assert set(found) == codes, result["findings"]
    assert "settles at 0.5" in found["VAE004"]["message"] and "--beta 0.5" in found["VAE004"]["fix"], found["VAE004"]
