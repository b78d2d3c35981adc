"""A model file whose VAE derives from a base class of the project's own, written in another file
(``class VAE(GenerativeModel)``, ``from pkg.base import GenerativeModel``), named without a target,
is a usage error naming the model, as one deriving from ``nn.Module`` is: never "no VAE targets"
with exit 0 (helper-found: BouncyButton/koi's koi/model/vae.py)."""

from __future__ import annotations

from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

BASE = "from torch import nn\n\n\nclass GenerativeModel(nn.Module):\n    def save(self, path):\n        pass\n"
VAE = """import torch
from torch import nn

{imports}


class VAE(GenerativeModel):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, 16), nn.Linear(8, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar
"""


def _check(tmp_path, monkeypatch, imports: str, base: str = BASE, path: str = "pkg/vae.py"):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "base.py").write_text(base)
    (tmp_path / "pkg" / "vae.py").write_text(VAE.format(imports=imports))
    return runner.invoke(app, ["check", path, "--no-cache"])


def test_a_base_imported_from_the_package_makes_the_class_a_model(tmp_path, monkeypatch):
    r = _check(tmp_path, monkeypatch, "from pkg.base import GenerativeModel")
    assert r.exit_code == 2 and "pkg/vae.py defines the model VAE but names no target" in r.output, r.output


def test_a_relative_import_of_the_base_and_a_check_from_the_package_folder(tmp_path, monkeypatch):
    r = _check(tmp_path, monkeypatch, "from .base import GenerativeModel")
    assert r.exit_code == 2 and "defines the model VAE but names no target" in r.output, r.output
    # the same file checked from inside the package: the package root is found above it
    monkeypatch.chdir(tmp_path / "pkg")
    r = runner.invoke(app, ["check", "vae.py", "--no-cache"])
    assert r.exit_code == 2 and "defines the model VAE but names no target" in r.output, r.output


def test_a_base_from_an_installed_package_with_a_forward_of_its_own(tmp_path, monkeypatch):
    # pythae's BaseVAE, say: not a file of the project; the class's own forward says it is a model
    r = _check(tmp_path, monkeypatch, "from somevaelib.models import BaseVAE as GenerativeModel")
    assert r.exit_code == 2 and "defines the model VAE but names no target" in r.output, r.output


def test_a_class_whose_imported_base_is_no_model_is_no_target(tmp_path, monkeypatch):
    # the near miss: a config class deriving from the project's own config base, no forward
    base = "from dataclasses import dataclass\n\n\n@dataclass\nclass BaseConfig:\n    lr: float = 1e-3\n"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "base.py").write_text(base)
    (tmp_path / "pkg" / "config.py").write_text("from pkg.base import BaseConfig\n\n\nclass Config(BaseConfig):\n    batch: int = 32\n")
    r = runner.invoke(app, ["check", "pkg/config.py", "--no-cache"])
    assert r.exit_code == 0 and "no VAE targets" in r.output, r.output
