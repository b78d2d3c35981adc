"""A loss function that returns a dataclass record (``LossOutput(total_loss=..., recon=..., kl=...)``)
is read as a dict is: its total by the field that names it (``total_loss``, ``loss``), else the sum of
its scalar terms. Before, ``--loss`` with such a function ended in exit 2 'the confirmation run failed
(loss not a scalar)'."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LossOutput:
    FIELDS


class VAE(nn.Module):
    def __init__(self, z=4):
        super().__init__()
        self.enc = nn.Linear(256, 2 * z)
        self.dec = nn.Linear(z, 256)

    def forward(self, x):
        mu, logvar = self.enc(x.flatten(1)).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)).view_as(x), mu, logvar


def vae_loss(out, x):
    recon, mu, logvar = out
    rec = F.binary_cross_entropy(recon, x, reduction="sum") / x.size(0)
    kl = -0.5 * torch.KL(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    return LossOutput(RETURNED)
"""

WITH_TOTAL = (
    "total_loss: torch.Tensor\n    recon: torch.Tensor\n    kl: torch.Tensor",
    "total_loss=rec + kl, recon=rec.detach(), kl=kl.detach()",
)
TERMS_ONLY = ("recon: torch.Tensor\n    kl: torch.Tensor", "recon=rec, kl=kl")


@pytest.mark.parametrize("record", [WITH_TOTAL, TERMS_ONLY], ids=["its total named", "its terms"])
@pytest.mark.parametrize(("kl", "codes"), [("sum", []), ("mean", ["VAE002"])], ids=["clean", "KL averaged over its values"])
def test_a_loss_returning_a_dataclass_is_checked(tmp_path, record, kl, codes):
    name = f"lrd_{'total' if record is WITH_TOTAL else 'terms'}_{kl}"
    path = tmp_path / f"{name}.py"
    path.write_text(SCRIPT.replace("FIELDS", record[0]).replace("RETURNED", record[1]).replace("KL", kl))
    r, result = check_json(f"{path}:VAE", "--input", "8x1x16x16", "--loss", f"{path}:vae_loss")
    assert r.exit_code == (1 if codes else 0), r.output
    assert [f["code"] for f in result["findings"]] == codes, result["findings"]
    assert not [s for s in result["skipped"] if s["code"] in ("VAE002", "VAE004")], result["skipped"]
