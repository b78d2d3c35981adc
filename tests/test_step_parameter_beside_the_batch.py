"""A module's step with a parameter beside its batch that is no batch index (``training_step(self,
batch, n)``, n a count the code divides by): vaelint gives it 0, as Lightning gives its batch index,
and where the step then raises the message says so and how to give it; ``--loss-kwarg n=1`` gives it.
Before, the value was 0 whatever --loss-kwarg said, and the message told the user to fix the model."""

from __future__ import annotations

from json_cli import check_json

MODEL = """import torch
import torch.nn as nn


class CountedStepVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(8, 4)
        self.dec = nn.Linear(2, 8)

    def training_step(self, batch, n):
        mu, logvar = self.enc(batch).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
        return (self.dec(z) - batch).pow(2).sum(dim=1).mean() + (1.0 / n) * kl
"""


def test_a_parameter_given_0_as_a_batch_index_is_said_and_taken_from_loss_kwarg(tmp_path):
    path = tmp_path / "spb_model.py"
    path.write_text(MODEL)
    r, result = check_json(f"{path}:CountedStepVAE", "--input", "16x8")
    assert result["error"] is not None and "--loss-kwarg n=VALUE" in result["error"]["message"], r.output
    assert "fix it so the model runs" not in result["error"]["message"], r.output
    r, result = check_json(f"{path}:CountedStepVAE", "--input", "16x8", "--loss-kwarg", "n=1")
    assert result["error"] is None and result["findings"] == [] and result["beta_effective"], r.output
