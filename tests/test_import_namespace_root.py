"""``PATH.py:FUNCTION`` in a src layout with no ``src/__init__.py``: src/utils/training.py imports
its loss with ``from ..models.vae import ...``, which Python resolves once the file is
``src.utils.training`` imported from the project's root (``src`` a namespace package, PEP 420).
vaelint imports it so (vaelint/frontends/importroots.py) and checks the step, instead of
stopping at "attempted relative import beyond top-level package"."""

from __future__ import annotations

import os
import textwrap

import pytest
from typer.testing import CliRunner

from vaelint.cli import app
from vaelint.frontends.importroots import package_context

runner = CliRunner()

VAE = textwrap.dedent("""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class WindowVAE(nn.Module):
        def __init__(self, n_in=24, latent=4):
            super().__init__()
            self.enc = nn.Linear(n_in, 2 * latent)
            self.dec = nn.Linear(latent, n_in)

        def forward(self, x):
            mu, logvar = self.enc(x).chunk(2, dim=1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return self.dec(z), mu, logvar


    def vae_loss(recon, x, mu, logvar):
        rec = F.mse_loss(recon, x, reduction="mean")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / mu.size(0)
        return rec + kl
""")

TRAINING = textwrap.dedent("""
    import torch


    def train(steps=2):
        from ..models.vae import WindowVAE, vae_loss

        model = WindowVAE()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(steps):
            x = torch.rand(16, 24)
            opt.zero_grad()
            recon, mu, logvar = model(x)
            loss = vae_loss(recon, x, mu, logvar)
            loss.backward()
            opt.step()
        return model
""")


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("VAELINT_NO_CACHE", "1")
    for package, name, text in (("models", "vae.py", VAE), ("utils", "training.py", TRAINING)):
        folder = tmp_path / "repo" / "src" / package
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / name).write_text(text)
    return tmp_path / "repo"


def check(target: str):
    r = runner.invoke(app, ["check", target])
    assert "Traceback" not in r.output, r.output
    return r


def test_a_function_whose_relative_import_reaches_the_namespace_package_is_checked(project, monkeypatch):
    monkeypatch.chdir(project)
    r = check("src/utils/training.py:train")
    assert "beyond top-level package" not in r.output, r.output
    assert r.exit_code == 1 and "src/models/vae.py:" in r.output and "VAE002" in r.output, r.output


def test_a_project_root_other_than_the_current_directory(project, monkeypatch):
    # run from above the project: its pyproject.toml says where the namespace package starts
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    monkeypatch.chdir(project.parent)
    r = check("repo/src/utils/training.py:train")
    assert "beyond top-level package" not in r.output, r.output
    assert r.exit_code == 1 and "VAE002" in r.output, r.output


def test_package_context_roots(project, monkeypatch):
    monkeypatch.chdir(project)
    training = str(project / "src" / "utils" / "training.py")
    assert package_context(training, 2) == (str(project), "src.utils")
    assert package_context(training, 1) == (str(project / "src"), "utils")  # reaches no further: as before
    assert package_context(training, 0) == (str(project / "src"), "utils")
    monkeypatch.chdir(project.parent)  # neither the current directory nor a project's root above src/
    assert package_context(training, 2) == (str(project / "src"), "utils")
    (project / "src" / "__init__.py").write_text("")  # a package all the way: no namespace needed
    monkeypatch.chdir(project)
    assert package_context(training, 2) == (str(project), "src.utils")
    assert os.path.isdir(project / "src")
