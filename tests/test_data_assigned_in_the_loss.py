"""A loss that changes a tensor through ``.data`` (``x.data = x.data.long().view(-1)``, the pixels'
256 classes flattened for a cross-entropy): the recorded run holds ``x`` as the value assigned, its
shape and dtype with it. Before, the recording kept ``x`` as it was made (B x 3 x 8 x 8) and the
cross-entropy of N x 256 logits against N class indices was a false [confirmed] VAE003 with a fix
that breaks the code (helper-found on a VAE with a 256-way pixel likelihood). And where the loss
truly cannot take the images as they are (not flattened), the failure at every batch size is VAE003's
alone: before, VAE005 also blamed ``view(-1, 256, 3, 8, 8)`` for writing the batch size down (its 8
is the image's side, equal to B=8), as the run at another batch failed at the same loss."""

from __future__ import annotations

import pytest
from json_cli import check_json

MODEL = """import torch
from torch import nn


class PixelVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(3 * 8 * 8, 2 * 16)
        self.dec = nn.Linear(16, 3 * 8 * 8 * 256)
        self.ce = nn.CrossEntropyLoss(reduction="sum")

    def forward(self, x):
        mu, logvar = self.enc(x.flatten(1)).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z).view(-1, 256, 3, 8, 8), mu, logvar

    def loss_function(self, logits, x, mu, logvar):
        x = x * 255
        TARGET
        flat = logits.permute(0, 2, 3, 4, 1).contiguous().view(-1, 256)
        ce = self.ce(flat, x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return ce + kl
"""


@pytest.mark.parametrize(
    ("target", "codes"),
    [
        ("x.data = x.data.long().view(-1)", []),  # the recorded run: fx cannot trace the assignment
        ("x = x.long().view(-1)", []),
        ("x = x.long()", ["VAE003"]),  # the images as they are: not one class per value
    ],
    ids=["through .data", "reassigned", "not flattened"],
)
def test_a_value_assigned_through_data_is_the_tensor_from_there(tmp_path, target, codes):
    path = tmp_path / "pixelvae.py"
    path.write_text(MODEL.replace("TARGET", target))
    r, result = check_json(f"{path}:PixelVAE", "--input", "8x3x8x8")
    assert [f["code"] for f in result["findings"]] == codes, r.output
    assert r.exit_code == (1 if codes else 0), r.output
    if not codes:
        assert not result["skipped"], result["skipped"]
