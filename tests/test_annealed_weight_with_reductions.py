"""An annealed KL weight times a constant (``kl * beta * 0.001``, beta = min(1, epoch / warmup)) beside a
reconstruction averaged over the data's D values: beta_eff ends at 0.001 * D, as the report's header
says, and VAE004 says that (it had said 'ends at 0.001'), with the --beta that declares it; declared,
the schedule is no finding. The reductions' D alone stays VAE002's."""

from __future__ import annotations

from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(100, 8)
        self.dec = nn.Linear(4, 100)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


model = SmallVAE()
opt = torch.optim.Adam(model.parameters())
data = torch.rand(64, 100)
warmup = 10
for epoch in range(30):
    beta = min(1.0, epoch / warmup)
    for start in range(0, 64, 16):
        x = data[start : start + 16]
        recon, mu, logvar = model(x)
        rec = F.mse_loss(recon, x)
        kl = torch.mean(-0.5 * torch.sum(1 + logvar - logvar.exp() - mu.pow(2), dim=1))
        loss = rec + kl * beta * 0.001
        opt.zero_grad()
        loss.backward()
        opt.step()
"""


def test_the_schedule_ends_at_its_weight_times_the_reductions(tmp_path):
    path = tmp_path / "awr_train.py"
    path.write_text(SCRIPT)
    r, result = check_json(str(path))
    (vae004,) = [f for f in result["findings"] if f["code"] == "VAE004"]
    assert "ends at 0.001 times the reductions' D = 0.1 " in vae004["message"], vae004["message"]
    assert "--beta 0.1" in vae004["fix"], vae004["fix"]
    assert "VAE002" in {f["code"] for f in result["findings"]}, r.output
    r, result = check_json(str(path), "--beta", "0.1")
    assert "VAE004" not in {f["code"] for f in result["findings"]}, r.output
