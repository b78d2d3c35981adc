"""A reconstruction compared with its input where one side has a leading size-1 dim only (a model
that decodes frame by frame: ``x_hat`` 1 x D against the frame ``x_t`` of D values): the broadcast
adds the 1 and repeats nothing, each value meets its own. Before, VAE003 said "a size-1 dim of one
side is repeated against the other" as a [confirmed] error (helper-found on a sequential world
model). Its near miss, B x 1 x D against B x D, compares every sample with every other: still VAE003."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class FrameVAE(nn.Module):
    def __init__(self, d=32, z=4):
        super().__init__()
        self.enc = nn.Linear(d, 2 * z)
        self.dec = nn.Linear(z, d)

    def forward(self, frames):
        rec, kl = 0.0, 0.0
        for t in range(frames.shape[0]):
            x_t = frames[t]
            mu, lv = self.enc(x_t.unsqueeze(0)).chunk(2, -1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
            x_hat = self.dec(z)
            rec = rec + F.mse_loss(x_hat, TARGET, reduction="sum")
            kl = kl - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
        return rec + kl


loader = DataLoader(TensorDataset(torch.rand(64, 32)), batch_size=8)
model = FrameVAE()
opt = torch.optim.Adam(model.parameters(), 1e-3)
for (x,) in loader:
    loss = model(x)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


@pytest.mark.parametrize(
    ("target", "codes"),
    [("x_t", []), ("x_t.unsqueeze(0)", []), ("frames", ["VAE003"])],
    ids=["1 x D against D", "1 x D against 1 x D", "1 x D against the whole clip"],
)
def test_a_leading_one_repeats_nothing(tmp_path, target, codes):
    path = tmp_path / "frames.py"
    path.write_text(SCRIPT.replace("TARGET", target))
    r, result = check_json(str(path))
    assert [f["code"] for f in result["findings"]] == codes, r.output
    assert r.exit_code == (1 if codes else 0), r.output
