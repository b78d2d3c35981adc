"""A penalty switched off by a zero weight (``lam * (p ** 2).sum()`` with ``lam = 0.0``, a
ZINB model's ridge term) beside the loss's Gaussian KL: the KL is the term that reads as the
sampler's KL, and the penalty is no KL. Before, the zero-weighted penalty was taken for a KL at a
warm-up's first step, VAE002 and VAE004 were 'not checked' and the check exited 0 over a real
VAE002. A KL itself weighed by 0 is still not judged (the near miss)."""

from __future__ import annotations

import pytest
from json_cli import check_json

MODEL = """import torch
import torch.nn as nn


class PenalisedRecon(nn.Module):
    def __init__(self, lam=0.0):
        super().__init__()
        self.lam = lam

    def forward(self, x, rate, p):
        nll = rate - x * torch.log(rate + 1e-8)
        penalty = self.lam * (p ** 2).sum()
        return nll.REC + penalty


class CountVAE(nn.Module):
    def __init__(self, d=30, h=32, z=6, kl_weight=KLW):
        super().__init__()
        self.enc = nn.Linear(d, h)
        self.mu = nn.Linear(h, z)
        self.lv = nn.Linear(h, z)
        self.dec = nn.Linear(z, h)
        self.rate = nn.Linear(h, d)
        self.gate = nn.Linear(h, d)
        self.rec = PenalisedRecon()
        self.kl_weight = kl_weight

    def forward(self, x):
        h = torch.relu(self.enc(x))
        mu, logvar = self.mu(h), self.lv(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        g = torch.relu(self.dec(z))
        return nn.functional.softplus(self.rate(g)), torch.sigmoid(self.gate(g)), mu, logvar

    def loss_function(self, x, rate, p, mu, logvar):
        rec = self.rec(x, rate, p)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
        return rec + self.kl_weight * kl
"""


def _check(tmp_path, name: str, rec: str, klw: str = "1.0"):
    path = tmp_path / f"{name}.py"
    path.write_text(MODEL.replace("REC", rec).replace("KLW", klw))
    return check_json(f"{path}:CountVAE", "--input", "64x30")


@pytest.mark.parametrize(("rec", "codes"), [("mean()", ["VAE002"]), ("sum() / x.size(0)", [])], ids=["mean over values", "per sample"])
def test_the_kl_beside_a_penalty_switched_off_is_read(tmp_path, rec, codes):
    r, result = _check(tmp_path, f"zwp_{'buggy' if codes else 'clean'}", rec)
    assert r.exit_code == (1 if codes else 0), r.output
    assert [f["code"] for f in result["findings"]] == codes, result["findings"]
    assert not [s for s in result["skipped"] if s["code"] in ("VAE002", "VAE004")], result["skipped"]
    rows = {row["name"]: row for row in result["flow"] if row["stage"] == "loss"}
    assert (rows["kl"]["line"], rows["reg"]["line"]) == (38, 12), (
        rows["kl"]["line"],
        rows["reg"]["line"],
    )  # the KL's (weighed there), not the penalty's


def test_a_kl_weighed_by_zero_is_still_not_judged(tmp_path):
    r, result = _check(tmp_path, "zwp_kl_off", "sum() / x.size(0)", klw="0.0")
    assert r.exit_code == 0, r.output
    skipped = {s["code"]: s["reason"] for s in result["skipped"]}
    assert "multiplied by 0" in skipped.get("VAE004", ""), result["skipped"]
