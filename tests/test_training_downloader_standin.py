"""A data set of the project's own that downloads through a downloader package this environment
lacks (``import wget``; ``wget.download(url, out=root)`` when its folder is empty): the package
stands in and its download goes as urlretrieve's does in the check: given --input, answered as
done and the missing file stands in; without it, refused with a pointer to --input. Before, the
check asked to install wget (helper-found: NickSmyr/iwae-pytorch)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

SCRIPT = """import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import {pkg}
from torch.utils.data import DataLoader, Dataset


class Digits(Dataset):
    def __init__(self, root="data"):
        path = os.path.join(root, "images.npy")
        if not os.path.exists(path):
            {pkg}.download("https://example.org/images.npy", {out}=path)
        self.x = torch.from_numpy(np.load(path)).float()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, 16), nn.Linear(8, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters())
for x in DataLoader(Digits(), batch_size=8):
    recon, mu, logvar = model(x)
    loss = F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


@pytest.mark.parametrize("pkg, out", [("wget", "out"), ("gdown", "output")])
def test_a_missing_downloader_goes_as_urlretrieve(tmp_path, monkeypatch, pkg, out):
    if importlib.util.find_spec(pkg) is not None:
        pytest.skip(f"{pkg} is installed: its own download is refused by the sandbox's network guard")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(SCRIPT.format(pkg=pkg, out=out))
    r = runner.invoke(app, ["check", "train.py", "--input", "8x784", "--no-cache", "--format", "json"])
    (result,) = json.loads(r.output)["results"]
    assert result["error"] is None and r.exit_code == 0, result["error"]
    assert any(n.startswith(f"{pkg} is not installed; it stands in") for n in result["notes"]), result["notes"]
    assert not (tmp_path / "data").exists()  # nothing written
    r = runner.invoke(app, ["check", "train.py", "--no-cache", "--format", "json"])
    (result,) = json.loads(r.output)["results"]
    assert r.exit_code == 2 and "--input" in result["error"]["message"] and "install" not in result["error"]["message"].lower()
