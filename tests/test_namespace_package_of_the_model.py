"""A model file in a folder with no ``__init__.py`` (src/vae/timevae.py) that imports its siblings
through the folder's name (``from vae.base_vae import BaseVAE``), checked from the project's root:
its imports resolve from src/, as the project runs them (a namespace package, PEP 420). Before,
'vae' was called a package to install."""

from __future__ import annotations

import os

from json_cli import check_json

BASE = """import torch
import torch.nn as nn


class BaseVAE(nn.Module):
    def reparameterize(self, mu, logvar):
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def loss_function(self, recon, x, mu, logvar):
        rec = ((recon - x) ** 2).sum() / x.size(0)
        kl = -0.5 * torch.KL(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
        return rec + kl
"""

MODEL = """import torch.nn as nn

from nsvae.base_vae import BaseVAE


class TimeVAE(BaseVAE):
    def __init__(self, t=24, f=5, z=4):
        super().__init__()
        self.enc = nn.Linear(t * f, 2 * z)
        self.dec = nn.Linear(z, t * f)
        self.t, self.f = t, f

    def forward(self, x):
        mu, logvar = self.enc(x.flatten(1)).chunk(2, 1)
        z = self.reparameterize(mu, logvar)
        return self.dec(z).view(-1, self.t, self.f), mu, logvar
"""


def _project(tmp_path, kl: str):
    folder = tmp_path / "src" / "nsvae"
    folder.mkdir(parents=True)
    (folder / "base_vae.py").write_text(BASE.replace("KL", kl))
    (folder / "timevae.py").write_text(MODEL)
    return tmp_path


def test_the_model_imports_its_folder_by_name_from_the_projects_root(tmp_path, monkeypatch):
    for kl, codes in (("sum", []), ("mean", ["VAE002"])):
        root = _project(tmp_path / kl, kl)
        monkeypatch.chdir(root)
        r, result = check_json(os.path.join("src", "nsvae", "timevae.py") + ":TimeVAE", "--input", "16x24x5")
        assert r.exit_code == (1 if codes else 0), r.output
        assert [f["code"] for f in result["findings"]] == codes, result["findings"]
