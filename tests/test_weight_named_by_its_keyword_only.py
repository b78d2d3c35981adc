"""VAE004 names a KL weight given by the caller by what the caller wrote for it (``kl_weight=cfg_w``). A
caller's line that assigns the KL term to a name of the loss's text (``loss, rec, kl_loss = vae_loss(...,
kl_weight)``) gave "kl_loss, given as kl_loss=vae_loss(...)" as the weight (helper-found): an assignment's
target is no keyword. Said now by the factor's own line; a real keyword is said as before."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F

KL_WEIGHT = 0.5


class TinyVAE(nn.Module):
    def __init__(self, d=784, z=8):
        super().__init__()
        self.enc = nn.Linear(d, 2 * z)
        self.dec = nn.Linear(z, d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return torch.sigmoid(self.dec(z)), mu, logvar


def vae_loss(xh, x, mu, logvar, kl_weight=1.0):
    rec = F.binary_cross_entropy(xh, x, reduction="sum") / x.size(0)
    kl_loss = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    return rec + kl_weight * kl_loss, rec, kl_loss


def train_one_epoch(model, loader, opt, w):
    for (x,) in loader:
        xh, mu, logvar = model(x)
        loss, rec, kl_loss = vae_loss(xh, x, mu, logvar, CALL)
        opt.zero_grad()
        loss.backward()
        opt.step()


model = TinyVAE()
opt = torch.optim.Adam(model.parameters(), 1e-3)
data = torch.utils.data.TensorDataset(torch.rand(64, 784))
train_one_epoch(model, torch.utils.data.DataLoader(data, batch_size=16), opt, KL_WEIGHT)
"""


@pytest.mark.parametrize(
    ("call", "named"), [("w", None), ("kl_weight=w", "kl_weight, given as kl_weight=w")], ids=["positional", "keyword"]
)
def test_the_weight_is_named_by_a_keyword_not_an_assignment(tmp_path, call, named):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT.replace("CALL", call))
    r, result = check_json(str(path))
    message = next(f["message"] for f in result["findings"] if f["code"] == "VAE004")
    assert "kl_loss, given as" not in message, message
    if named:
        assert named in message, message
