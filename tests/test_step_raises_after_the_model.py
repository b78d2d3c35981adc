"""Training code whose step raises a shape error after its model ran, in a line that does not feed
the loss (a logging helper reading ``h[:, 1]`` of a B x 1 x k output): the code as written fails on
its first batch. vaelint ran it, saw the IndexError, and checked the step read from the code, which
leaves that line out: exit 0, "no findings", the crash only a note (helper-found on a CVAE). Now
VAE013 says it at the line that raised; the same helper reading what the tensor has is clean."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self, d=64, z=4):
        super().__init__()
        self.enc = nn.Linear(d, 2 * z)
        self.dec = nn.Linear(z, d)

    def forward(self, x):
        mu, lv = self.enc(x).chunk(2, -1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
        h = z.unsqueeze(1)
        return torch.sigmoid(self.dec(z)), mu, lv, h


def latent_stats(h):
    return READ


loader = DataLoader(TensorDataset(torch.rand(128, 64)), batch_size=16, shuffle=True)
model = VAE()
opt = torch.optim.Adam(model.parameters(), 1e-3)
for (x,) in loader:
    rec, mu, lv, h = model(x)
    stats = latent_stats(h)
    recon = nn.functional.binary_cross_entropy(rec, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
    loss = recon + kl
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


@pytest.mark.parametrize(
    ("read", "codes"),
    [("h[:, 0].mean().item(), h[:, 1].mean().item()", ["VAE013"]), ("h[:, 0, 0].mean().item(), h[:, 0, 1].mean().item()", [])],
    ids=["index past dim 1", "indexed as it is"],
)
def test_a_shape_error_of_the_steps_own_code_is_VAE013_where_it_raised(tmp_path, read, codes):
    path = tmp_path / "logged.py"
    path.write_text(SCRIPT.replace("READ", read))
    r, result = check_json(str(path))
    assert r.exit_code == (1 if codes else 0), r.output
    assert [f["code"] for f in result["findings"]] == codes, result["findings"]
    if codes:
        finding = result["findings"][0]
        assert finding["line"] == 20 and "index 1 is out of bounds for dimension 1 with size 1" in finding["message"], finding
        assert "first batch (16 samples)" in finding["message"] and finding["confirmed"] is True, finding
