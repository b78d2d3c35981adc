"""A module the code imports that is not here, said as what it is: the repository's own left out
of its checkout, a package a module beside the script hides, a name an installed module no
longer has, a package not installed under a module Hydra builds (the helpers' repositories,
2026-11-26)."""

from __future__ import annotations

from helpers import check

LOCAL_MODULE_LEFT_OUT = """
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from src.losses import vae_loss  # src/ is here, src/losses.py is not
from src.models import VAE

model = VAE()
opt = torch.optim.Adam(model.parameters())
for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):
    recon, mu, logvar = model(x)
    loss = vae_loss(recon, x, mu, logvar)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""

MODELS = """
import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, 16), nn.Linear(8, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar
"""


def test_a_module_of_the_repositorys_own_left_out_is_said_as_such_not_as_a_package_to_install(tmp_path, monkeypatch):
    # `from src.losses import vae_loss` with src/ here and losses.py not: "Install the package that
    # provides 'src'" (helper-found: kondratevakate/fmri-component-analysis)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__init__.py").write_text("")
    (tmp_path / "src" / "models.py").write_text(MODELS)
    (tmp_path / "train.py").write_text(LOCAL_MODULE_LEFT_OUT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    message = " ".join(result.error.message.split())
    assert "src/losses.py is not in this folder (a module of the repository's own, left out of its checkout?): add it" in message
    assert "Install" not in message


def test_a_lightning_module_from_a_module_left_out_says_which_import_failed(tmp_path, monkeypatch):
    # "the model trained is a StandIn, not a LightningModule" named neither the import nor its cause
    import pytest

    pytest.importorskip("pytorch_lightning")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__init__.py").write_text("")
    (tmp_path / "train.py").write_text(
        "import pytorch_lightning as pl\nimport torch\nfrom torch.utils.data import DataLoader, TensorDataset\n"
        "from src.vae_module import LitVAE\n\n"
        "loader = DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16)\n"
        "model = LitVAE(z_dim=8)\n"
        "trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False)\n"
        "trainer.fit(model, loader)\n"
    )
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    message = " ".join(result.error.message.split())
    assert "the model the code trains could not be built" in message, message  # not "the model trained is a StandIn"
    assert "No module named 'src.vae_module'" in message and "src/vae_module.py is not in this folder" in message, message
    assert "StandIn" not in message and "Install" not in message


def test_a_package_shadowed_by_a_module_beside_the_script_is_not_said_missing(tmp_path, monkeypatch):
    # run as a file, arch/vae/utils.py hides the top-level utils/ package the code imports from
    # (it is meant for `python -m arch.vae.train`): the message said utils/helpers.py was missing
    # (helper-found: j-freddy/nvae-shape-encoding)
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "helpers.py").write_text("def vae_loss(recon, x, mu, logvar):\n    return recon.sum()\n")
    (tmp_path / "arch" / "vae").mkdir(parents=True)
    (tmp_path / "arch" / "vae" / "utils.py").write_text("WIDTH = 16\n")
    (tmp_path / "arch" / "vae" / "train.py").write_text(
        LOCAL_MODULE_LEFT_OUT.replace(
            "from src.losses import vae_loss  # src/ is here, src/losses.py is not\nfrom src.models import VAE\n",
            "from utils.helpers import vae_loss\n" + MODELS,
        )
    )
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "arch" / "vae" / "train.py"), "-", [])
    message = " ".join(result.error.message.split())
    assert "utils/helpers.py is here, but the import found another 'utils' first" in message, message
    assert "not in this folder" not in message


def test_a_name_an_installed_module_no_longer_has_is_not_a_package_to_install():
    # `from collections import MutableMapping` on Python 3.10+: "Install the package that provides
    # 'collections'" (helper-found: probtorch/probtorch)
    from vaelint.frontends.placeholders import install_advice

    said = install_advice(
        "collections", "ImportError: cannot import name 'MutableMapping' from 'collections' (/usr/lib/python3.11/collections/__init__.py)"
    )
    assert said.startswith("collections is here but has no 'MutableMapping'") and "Install" not in said
    assert install_advice("gym", "ModuleNotFoundError: No module named 'gym'") == "Install gym"


def test_a_package_missing_under_a_lightning_module_built_by_hydra_is_said_first(tmp_path, monkeypatch):
    # the module Hydra instantiates imports a package not installed (lpips): the headline was "no
    # input shape ... give --input", the package in parentheses after it (helper-found:
    # berkerdemirel/vqvae-from-scratch)
    import pytest

    pytest.importorskip("hydra")
    pytest.importorskip("pytorch_lightning")
    (tmp_path / "hydra_built_models").mkdir()
    (tmp_path / "hydra_built_models" / "__init__.py").write_text("")
    (tmp_path / "hydra_built_models" / "lit.py").write_text(
        "import lpips_not_installed_here\nimport pytorch_lightning as pl\nimport torch.nn as nn\n\n\n"
        "class LitVAE(pl.LightningModule):\n    def __init__(self):\n        super().__init__()\n"
        "        self.enc = nn.Linear(64, 16)\n        self.perceptual = lpips_not_installed_here.LPIPS()\n"
    )
    (tmp_path / "main.py").write_text(
        "import hydra\nimport pytorch_lightning as pl\nimport torch\nfrom omegaconf import OmegaConf\n"
        "from torch.utils.data import DataLoader, TensorDataset\n\n"
        "model = hydra.utils.instantiate(OmegaConf.create({'_target_': 'hydra_built_models.lit.LitVAE'}))\n"
        "pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False).fit(model, DataLoader(TensorDataset(torch.rand(64, 64)), batch_size=16))\n"
    )
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "main.py"), "-", [])
    message = result.error.message
    assert not message.startswith("no input shape") and "No module named 'lpips_not_installed_here'" in message.split(". ")[0], message
