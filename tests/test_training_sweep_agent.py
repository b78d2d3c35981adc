"""A training function handed to a sweep's agent (``wandb.agent(sweep_id, function=train)``) with
wandb not installed: the stand-in agent runs it once, as a sweep's first run, with the first value of
each sweep parameter in ``wandb.config``, so the script is checked as written, not refused with
"took no batch" (helper-found: a dementia-MRI VAE's src/main.py)."""

from __future__ import annotations

import importlib.util

import pytest
from typer.testing import CliRunner

from vaelint.cli import app
from vaelint.frontends.trackerconfig import first_values

runner = CliRunner()

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F
import wandb
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, 16), nn.Linear(8, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def train():
    wandb.init()
    config = wandb.config
    loader = DataLoader(TensorDataset(torch.rand(256, 784)), batch_size=config.batch_size)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=config.get("lr", 1e-3))
    for (x,) in loader:
        recon, mu, logvar = model(x)
        rec = F.binary_cross_entropy(recon, x, reduction="{rec}")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = (rec + kl) / x.size(0)
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    sweep_id = wandb.sweep({{"method": "grid", "parameters": {{"batch_size": {{"values": [24, 64]}}}}}}, project="vae")
    wandb.agent(sweep_id, function=train, count=4)
"""


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed: the real agent runs")
@pytest.mark.parametrize("rec, code", [("sum", None), ("mean", "VAE002")])
def test_the_agents_function_runs_once_with_the_sweeps_first_values(tmp_path, monkeypatch, rec, code):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(SCRIPT.format(rec=rec))
    r = runner.invoke(app, ["check", "train.py", "--no-cache", "--format", "json"])
    import json

    (result,) = json.loads(r.output)["results"]
    assert result["error"] is None, result["error"]
    assert [f["code"] for f in result["findings"]] == ([code] if code else []), result["findings"]
    assert any(n.startswith("input 24x784: inferred") for n in result["notes"]), result["notes"]  # the sweep's first batch size
    assert any("wandb.agent (stood in: wandb is not installed) ran train once" in n for n in result["notes"]), result["notes"]


def test_a_sweeps_first_values():
    sweep = {
        "parameters": {
            "lr": {"min": 1e-4, "max": 1e-2},
            "batch_size": {"values": [32, 64]},
            "beta": {"value": 4},
            "model": {"parameters": {"z": {"values": [8]}}},
            "note": "text",
        }
    }
    assert first_values(sweep) == {"lr": 1e-4, "batch_size": 32, "beta": 4, "model": {"z": 8}}
    assert first_values({}) == {}
