"""The result cache and the files that decide how imports resolve: an ``__init__.py`` put in place
or taken away in a folder of the modules a check read, or a module the code looked for and did
not find put in place, is a new check (vaelint/cache/layout.py); a new file of any other name,
here or elsewhere, is none."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

MODEL = textwrap.dedent("""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    try:
        from .extra import LATENT
    except ImportError:
        LATENT = 4


    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(20, 2 * LATENT)
            self.dec = nn.Linear(LATENT, 20)

        def forward(self, x):
            mu, logvar = self.enc(x).chunk(2, dim=1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.dec(z)), mu, logvar


    def loss_function(recon, x, mu, logvar):
        rec = F.binary_cross_entropy(recon, x, reduction="sum")
        return rec + 0.5 * -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
""")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """src/models/vae.py in a src layout: src/ has no ``__init__.py``, src/models/ has one."""
    monkeypatch.delenv("VAELINT_NO_CACHE", raising=False)
    monkeypatch.setenv("VAELINT_CACHE_DIR", str(tmp_path / "cache"))
    models = tmp_path / "src" / "models"
    models.mkdir(parents=True)
    (models / "__init__.py").write_text("")
    (models / "vae.py").write_text(MODEL)
    (tmp_path / "pyproject.toml").write_text("[tool.vaelint]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cached() -> bool:
    r = runner.invoke(app, ["check", "src/models/vae.py:VAE", "--input", "6x20", "--no-dynamic", "--format", "json"])
    assert "Traceback" not in r.output, r.output
    return json.loads(r.stdout)["results"][0]["cached"]


def test_an_init_file_put_in_place_or_taken_away_checks_again(repo):
    assert cached() is False
    assert cached() is True
    (repo / "src" / "__init__.py").write_text("")  # src/ is a package now: the model's module is another
    assert cached() is False
    assert cached() is True
    (repo / "src" / "__init__.py").unlink()
    assert cached() is False
    (repo / "src" / "models" / "__init__.py").unlink()
    assert cached() is False
    assert cached() is True


def test_a_module_the_code_looked_for_put_in_place_checks_again(repo):
    # `from .extra import LATENT` failed: the check holds while src/models/extra.py is not there
    assert cached() is False
    assert cached() is True
    (repo / "src" / "models" / "extra.py").write_text("LATENT = 6\n")
    assert cached() is False
    assert cached() is True


def test_new_files_of_other_names_leave_the_result_cached(repo):
    assert cached() is False
    (repo / "notes.txt").write_text("not read\n")
    (repo / "train.py").write_text("x = 1\n")
    (repo / "src" / "models" / "readme.md").write_text("models\n")
    (repo / "src" / "models" / "other.py").write_text("y = 2\n")
    (repo / "runs").mkdir()
    (repo / "runs" / "__init__.py").write_text("")
    (repo / "elsewhere" / "pkg").mkdir(parents=True)
    (repo / "elsewhere" / "pkg" / "__init__.py").write_text("")
    (repo / "src" / "models" / "__pycache__").mkdir(exist_ok=True)
    assert cached() is True
