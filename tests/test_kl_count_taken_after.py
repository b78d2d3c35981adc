"""A closed-form KL written term by term whose ``- 1`` per latent dim is taken away once the terms are
joined (``kl = kl - LATENT`` after ``kl = mean(sum(mu**2)) + mean(sum(var)) - mean(sum(log var))``): the
count is the KL's - 1, so no note says it is left out; without that line the note is right. Both with
every term a sum over the latent dim (the check joins them into one term) and with the mean's part a
norm squared (one number per sample: read as parts)."""

from __future__ import annotations

import pytest
from json_cli import check_json

MODEL = """import torch
import torch.nn as nn

LATENT = 5


class CountedVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(30, 2 * LATENT)
        self.dec = nn.Linear(LATENT, 30)

    def forward(self, x):
        mu, h = self.enc(x).chunk(2, dim=1)
        sigma = nn.functional.softplus(h) + 1e-3
        return self.dec(mu + sigma * torch.randn_like(sigma)), mu, sigma


def loss(out, x):
    recon, mu, sigma = out
    rec = (recon - x).pow(2).sum(dim=1).mean()
    kl = {MEAN_PART}.mean()
    kl = kl + sigma.pow(2).sum(dim=1).mean()
    kl = kl - torch.log(sigma.pow(2)).sum(dim=1).mean()
{COUNT}    return rec + 0.5 * kl
"""


@pytest.mark.parametrize("mean_part", ["mu.pow(2).sum(dim=1)", "torch.norm(mu, dim=1).pow(2)"], ids=["sums", "norm"])
@pytest.mark.parametrize("counted", [True, False], ids=["counted", "left-out"])
def test_a_count_taken_after_the_join_is_the_kls_minus_one(tmp_path, mean_part, counted):
    path = tmp_path / "kl_counted_after.py"
    count = "    kl = kl - LATENT\n" if counted else ""
    path.write_text(MODEL.replace("{MEAN_PART}", mean_part).replace("{COUNT}", count))
    r, result = check_json(f"{path}:CountedVAE", "--input", "12x30", "--loss", f"{path}:loss")
    assert result["findings"] == [], r.output
    left_out = [n for n in result["notes"] if "is left out" in n]
    assert bool(left_out) is not counted, r.output
    assert "VAE002" not in str(result.get("skipped", "")), r.output
