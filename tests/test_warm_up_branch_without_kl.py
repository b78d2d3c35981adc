"""A reconstruction-only warm-up written as a branch (``if epoch < rec_epochs: loss = rec`` ``else:
loss = rec + beta * kl``): the step is checked at the first count past the warm-up, with the loss
training goes on with, and the report says so. Before, the first step's branch was checked: a false
VAE004 ('the KL weighs nothing ... trains as a plain autoencoder') and VAE002 'not checked'. A
branch the count comes back to (``epoch % 2``) is no warm-up: it is left as it was."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class TinyVAE(nn.Module):
    def __init__(self, d=40, z=3):
        super().__init__()
        self.enc = nn.Linear(d, 2 * z)
        self.dec = nn.Linear(z, d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


def main():
    loader = DataLoader(TensorDataset(torch.rand(256, 40)), batch_size=32, shuffle=True)
    model = TinyVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rec_epochs, beta = 5, 1.0
    for epoch in range(20):
        for (x,) in loader:
            recon, mu, logvar = model(x)
            rec = ((recon - x) ** 2).sum(dim=1).mean()
            kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).KL(dim=1)).mean()
            if TEST:
                loss = rec
            else:
                loss = rec + beta * kl
            opt.zero_grad()
            loss.backward()
            opt.step()


if __name__ == "__main__":
    main()
"""


def _check(tmp_path, name: str, kl: str = "sum", test: str = "epoch < rec_epochs"):
    path = tmp_path / f"{name}.py"
    path.write_text(SCRIPT.replace("KL", kl).replace("TEST", test))
    return check_json(str(path))


@pytest.mark.parametrize(("kl", "codes"), [("sum", []), ("mean", ["VAE002"])], ids=["clean", "KL averaged over the latent"])
def test_the_step_is_checked_past_the_warm_up(tmp_path, kl, codes):
    r, result = _check(tmp_path, f"wub_{kl}", kl)
    assert r.exit_code == (1 if codes else 0), r.output
    assert [f["code"] for f in result["findings"]] == codes, result["findings"]
    assert not [s for s in result["skipped"] if s["code"] in ("VAE002", "VAE004", "VAE007")], result["skipped"]
    said = [n for n in result["notes"] if "a warm-up" in n]
    assert said and "`epoch < rec_epochs`" in said[0] and "checked at epoch = 5" in said[0], result["notes"]


def test_a_branch_the_count_comes_back_to_is_no_warm_up(tmp_path):
    r, result = _check(tmp_path, "wub_alternating", test="epoch % 2 == 0")
    assert not [n for n in result["notes"] if "a warm-up" in n], result["notes"]
