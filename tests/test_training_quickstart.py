"""A package's quick start (``embedding = cellvae.fit(counts)``): the script or notebook a user
runs trains only through an imported function whose result it keeps. It is training code, found
and checked, never "no VAE targets" with exit 0 (helper B, inoue0426/scVGAE's tutorial)."""

from __future__ import annotations

import json
import textwrap

import pytest
from json_cli import check_json

LIBRARY = """
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class CellVAE(nn.Module):
    def __init__(self, genes, z=6):
        super().__init__()
        self.enc, self.dec = nn.Linear(genes, 2 * z), nn.Linear(z, genes)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


def fit(counts, epochs=5):
    x = torch.log1p(torch.as_tensor(np.asarray(counts), dtype=torch.float32))
    model = CellVAE(x.shape[1])
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(epochs):
        for (batch,) in DataLoader(TensorDataset(x), batch_size=32, shuffle=True):
            recon, mu, logvar = model(batch)
            rec = ((recon - batch) ** 2).sum(dim=1).mean()
            kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
            opt.zero_grad()
            (rec + kl).backward()
            opt.step()
    return model


def describe(counts):
    return np.asarray(counts).mean(axis=0)
"""

QUICKSTART = [
    "import numpy as np\nimport cellvae",
    "counts = np.random.default_rng(0).poisson(1.0, size=(200, 40))",
    "embedding = cellvae.fit(counts)",
]


def _notebook(cells: list[str]) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.mark.parametrize("name", ["run.py", "tutorial.ipynb"])
def test_a_kept_training_call_is_training_code(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cellvae.py").write_text(textwrap.dedent(LIBRARY))
    (tmp_path / name).write_text("\n".join(QUICKSTART) + "\n" if name.endswith(".py") else _notebook(QUICKSTART))
    r, result = check_json(name)
    assert r.exit_code == 1, r.output
    # reached through the package's fit(): its KL averaged over the latent dims (VAE002)
    assert [(f["code"], f["path"].rsplit("/", 1)[-1]) for f in result["findings"]] == [("VAE002", "cellvae.py")], result["findings"]


def test_a_kept_call_that_trains_nothing_leaves_the_file_no_script(tmp_path, monkeypatch):
    # the near miss: the same package, a call of it named for no training (describe)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cellvae.py").write_text(textwrap.dedent(LIBRARY))
    (tmp_path / "summary.py").write_text("import numpy as np\nimport cellvae\nmeans = cellvae.describe(np.ones((4, 3)))\n")
    from typer.testing import CliRunner

    from vaelint.cli import app

    r = CliRunner().invoke(app, ["check", "summary.py", "--no-cache"])
    assert r.exit_code == 0 and "no VAE targets" in r.output, r.output
