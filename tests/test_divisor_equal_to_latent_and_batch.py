"""A KL divided by the latent size (``/ Z``) where the batch happens to be the same number (Z = 16,
16 rows a batch): the divisor is the latent size. Before, it was read as 'the batch size 16 written
down' (VAE002 error, fix 'divide the KL by x.size(0)', and VAE004's advice --beta 392 beside its own
beta_eff 24.5; helper-found). A divisor whose line names the batch (``/ BATCH``) is still the batch
size written down."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn

D, Z, BATCH = 64, 16, 16


class SmallVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(D, 2 * Z)
        self.dec = nn.Linear(Z, D)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


model = SmallVAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.rand(BATCH, D)
for _ in range(2):
    recon, mu, logvar = model(x)
    rec = torch.sum((x - recon) ** 2, 1).mean() / D
    kl = torch.sum(0.5 * (mu**2 + logvar.exp() - 1 - logvar), 1).mean() / DIVISOR
    loss = rec + 0.5 * kl
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


@pytest.mark.parametrize(
    ("divisor", "codes"), [("Z", ["VAE004"]), ("BATCH", ["VAE002", "VAE004"])], ids=["the latent size", "the batch size written down"]
)
def test_a_divisor_equal_to_both_is_the_size_its_line_names(tmp_path, divisor, codes):
    path = tmp_path / "zdiv.py"
    path.write_text(SCRIPT.replace("DIVISOR", divisor))
    r, result = check_json(str(path))
    assert [f["code"] for f in result["findings"]] == codes, r.output
    said = " ".join(f["message"] + f["fix"] for f in result["findings"])
    assert ("written down" in said) == (divisor == "BATCH"), said
