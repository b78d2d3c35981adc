"""Cases a review of the day's loss-reading changes found, each a near miss of one change:
a loss parameter indexed by position beside one named for a role is no whole output (the heads
stacked, ``stats[0]``, ``stats[1]``); a reconstruction part divided by its column count is a mean,
unlike a per-row cross-entropy; past a failed run at another batch size only one dim as large as the
batch is read as the batch (a latent of that size stays a constant); a forward's statistic kept for
logging under a name that only contains a term's word (``kld_per_dim``) is no term of the loss."""

from __future__ import annotations

import os

from conftest import FIXTURES
from json_cli import check_json

HEADS = """import torch
import torch.nn as nn
import torch.nn.functional as F


class {NAME}(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(10, 8)
        self.dec = nn.Linear(4, 10)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        {RETURN}
"""


def _write(tmp_path, name: str, body: str, ret: str) -> str:
    path = tmp_path / f"{name.lower()}.py"
    path.write_text(HEADS.replace("{NAME}", name).replace("{RETURN}", ret) + body)
    return str(path)


def test_items_by_position_beside_a_role_named_parameter_are_not_the_whole_output(tmp_path):
    loss = """

def loss_fn(recon, x, stats):
    mu, logvar = stats[0], stats[1]
    rec = F.mse_loss(recon, x, reduction="none").sum(-1).mean()
    return rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1).mean()
"""
    path = _write(tmp_path, "StackedHeads", loss, "return self.dec(z), torch.stack([mu, logvar])")
    r, result = check_json(f"{path}:StackedHeads", "--input", "8x10", "--loss", f"{path}:loss_fn")
    assert result["findings"] == [] and result["beta_effective"], r.output


def test_a_forward_statistic_named_like_a_term_is_no_term(tmp_path):
    ret = (
        "kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())\n"
        "        recon = self.dec(z)\n"
        '        return {"kld_loss": kl.sum(-1).mean(), "nll_loss": (recon - x).pow(2).sum(-1).mean(), '
        '"kld_per_dim": kl.mean(), "recon": recon}'
    )
    path = _write(tmp_path, "LoggedStatVAE", "", ret)
    r, result = check_json(f"{path}:LoggedStatVAE", "--input", "8x10")
    assert result["findings"] == [], r.output
    said = [n for n in result["notes"] if "the loss returns 2 terms" in n]
    assert said and "kld_per_dim" not in said[0], result["notes"]


def test_a_part_divided_by_its_column_count_is_a_mean_unlike_a_cross_entropy(tmp_path):
    loss = """

def loss_fn(recon, x, mu, logvar):
    labels = x[:, 6:].argmax(dim=-1)
    rec = (recon[:, :6] - x[:, :6]).pow(2).sum(dim=-1).mean() / 6 + F.cross_entropy(recon[:, 6:], labels)
    return rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1).mean()
"""
    path = _write(tmp_path, "ColumnsVAE", loss, "return self.dec(z), mu, logvar")
    r, result = check_json(f"{path}:ColumnsVAE", "--input", "8x10", "--loss", f"{path}:loss_fn")
    assert "VAE002" in {f["code"] for f in result["findings"]}, r.output
    summed = path.replace(".py", "_summed.py")
    with open(path) as f, open(summed, "w") as g:
        g.write(f.read().replace(".mean() / 6 + F.cross_entropy", ".mean() + F.cross_entropy"))
    r, result = check_json(f"{summed}:ColumnsVAE", "--input", "8x10", "--loss", f"{summed}:loss_fn")
    assert result["findings"] == [] and result["beta_effective"], r.output


def test_past_a_failed_run_a_latent_as_large_as_the_batch_stays_a_constant(tmp_path):
    with open(os.path.join(FIXTURES, "training", "lengths_made_for_one_batch_size.py")) as f:
        text = f.read()
    text = text.replace("def __init__(self, hidden=24, latent=4)", "def __init__(self, hidden=24, latent=20)")
    kl = "kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=(1, 2)).mean()"
    assert "latent=20" in text and kl in text
    text = text.replace(kl, "kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())")  # over B x T x Z
    rec = "rec = nn.functional.mse_loss(recon, x) + torch.mean(1 - cosine(recon, x))"
    assert rec in text
    text = text.replace(rec, 'rec = nn.functional.mse_loss(recon, x, reduction="none").sum(dim=(1, 2)).mean()')
    path = tmp_path / "lengths_latent_as_batch.py"
    path.write_text(text)
    r, result = check_json(str(path))
    messages = [f["message"] for f in result["findings"] if f["code"] == "VAE002"]
    assert messages and all("B, 8, B" not in m and "B, 8, 20" in m for m in messages), r.output
