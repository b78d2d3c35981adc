"""The confirmation run's non-finite loss, said with its cause: a log of the sampler's scale head
read as a standard deviation with nothing keeping it positive (helper O, Motion2Audio), and the old
guesses (a log of 0, an exp that overflows) where the input is not negative."""

from helpers import check

MODEL = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 32), nn.ReLU())
        self.fc_mu = nn.Linear(32, 8)
        self.fc_std = nn.Linear(32, 8)
        self.dec = nn.Linear(8, 64)

    def forward(self, x):
        h = self.body(x)
        mu, std = self.fc_mu(h), STD
        z = mu + std * torch.randn_like(std)
        return self.dec(z), mu, std

    def loss_function(self, recon, x, mu, std):
        rec = F.mse_loss(recon, x, reduction="sum") / x.size(0)
        kl = -0.5 * torch.sum(1 + 2 * torch.log(std) - mu.pow(2) - std.pow(2)) / x.size(0)
        return rec + kl
"""


def _message(tmp_path, std: str) -> str:
    path = tmp_path / "model.py"
    path.write_text(MODEL.replace("STD", std))
    result = check(str(path), "VAE", ["32x64"])
    return result.error.message if result.error is not None else ""


def test_a_raw_scale_head_read_as_a_std_is_named_with_the_fix(tmp_path):
    said = _message(tmp_path, "self.fc_std(h)")
    assert "a log of negative values" in said
    assert "the sampler's scale head (at " in said and "model.py:17" in said
    assert "F.softplus(h)" in said


def test_a_positive_scale_head_is_checked(tmp_path):
    assert _message(tmp_path, "F.softplus(self.fc_std(h)) + 1e-4") == ""
