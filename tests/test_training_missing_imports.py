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


AE_METRIC_THEN_VAE = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import image_quality_metrics  # not installed: only the autoencoder's metric uses it


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(64, 8), nn.Linear(8, 64)

    def forward(self, x):
        return torch.sigmoid(self.dec(self.enc(x)))


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(64, 16), nn.Linear(8, 64)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar


def vae_loss(out, x):
    recon, mu, logvar = out
    return F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())


class Trainer:
    def __init__(self, model, loader, loss_fn, metric=None):
        self.model, self.loader, self.loss_fn, self.metric = model, loader, loss_fn, metric
        self.opt = torch.optim.Adam(model.parameters())

    def train(self, epochs):
        for _ in range(epochs):
            for (x,) in self.loader:
                self.opt.zero_grad()
                self.loss_fn(self.model(x), x).backward()
                self.opt.step()
            if self.metric:
                print(self.metric(self.model(x), x))


def train_autoencoder(loader):
    Trainer(Autoencoder(), loader, F.mse_loss, lambda r, x: image_quality_metrics.ssim(r, x)).train(2)


def train_vae(loader):
    Trainer(VAE(), loader, vae_loss).train(2)


MODELS = {"autoencoder": train_autoencoder, "vae": train_vae}
if __name__ == "__main__":
    loader = DataLoader(TensorDataset(torch.rand(128, 64)), batch_size=16)
    for name, train in MODELS.items():
        train(loader)
"""


def test_a_package_missing_after_a_plain_autoencoders_phase_stops_the_check_there(tmp_path, monkeypatch):
    # one Trainer for an autoencoder, then the VAE; after the autoencoder's epoch its metric uses a
    # package that is not installed, so the user's run stops there, before the VAE. The check
    # fell back to the autoencoder's step ("no reparameterisation", exit 0), naming the package
    # nowhere (helper-found: PavloUkrainian/GenAI-HW1, piq). Called in turn from a dict of
    # phases, the VAE's is not found by reading either: the stop is the answer
    (tmp_path / "train.py").write_text(AE_METRIC_THEN_VAE)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is not None, result.findings
    message = result.error.message
    line = next(i for i, t in enumerate(AE_METRIC_THEN_VAE.splitlines(), 1) if "lambda r, x" in t)  # where the package is used
    assert f"running it stopped at train.py:{line}: train.py:7 imports 'image_quality_metrics'" in message, message
    assert "after vaelint had ended" not in message and "the training step (its batch" not in message, message


PACKAGE_FOLDER_FLATTENED = """
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

import lib.dist as dist  # the repository keeps its helpers in lib/; this checkout has them beside the script

data = np.load("data/shapes.npz")["imgs"].reshape(-1, 64).astype("float32")


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(64, 16), nn.Linear(8, 64)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return torch.sigmoid(self.dec(dist.sample(mu, logvar))), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters())
for (x,) in DataLoader(TensorDataset(torch.from_numpy(data)), batch_size=16):
    recon, mu, logvar = model(x)
    loss = ((recon - x).pow(2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / x.size(0)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_package_folder_of_the_repositorys_own_that_is_not_here_is_said_first(tmp_path, monkeypatch):
    # `import lib.dist` with no lib/ (dist.py beside the script): the user's run stops at that import,
    # while vaelint's went past it to the data file and named only that; given --input, the use of
    # dist said "Install the package that provides 'lib'" (helper-found: kthone/TCVAE_VAMP)
    (tmp_path / "train.py").write_text(PACKAGE_FOLDER_FLATTENED)
    (tmp_path / "dist.py").write_text(
        "import torch\\n\\ndef sample(mu, logvar):\\n    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)\\n"
    )
    monkeypatch.chdir(tmp_path)
    advice = "lib/ is not here, and dist.py is beside the script: the code expects it in lib/"
    message = check(str(tmp_path / "train.py"), "-", []).error.message
    assert f"no training step to check: train.py:7 imports 'lib.dist': {advice}" in message, message
    assert "Past that import, running it stopped at train.py:9: FileNotFoundError" in message, message
    message = check(str(tmp_path / "train.py"), "-", ["16x64"]).error.message
    assert advice in message and "Install" not in message, message


SUBMODULE_NAMED_LIKE_THE_SCRIPT = """
import torch
import torch.nn as nn
from raylike.train import report

model = nn.Linear(8, 4)
opt = torch.optim.Adam(model.parameters())
for step in range(3):
    x = torch.randn(16, 8)
    mu, logvar = model(x).chunk(2, dim=1)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    loss = z.pow(2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    report({"loss": loss.item()})
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_packages_submodule_named_like_a_file_beside_the_script_is_a_package_to_install(tmp_path, monkeypatch):
    # `from raylike.train import report` in train.py itself, raylike not installed: train.py beside the
    # script is the importing file, not raylike/train.py flattened ("move it there" was the advice);
    # the near miss, a file that does not import it, keeps the advice (the test above)
    (tmp_path / "train.py").write_text(SUBMODULE_NAMED_LIKE_THE_SCRIPT)
    monkeypatch.chdir(tmp_path)
    message = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "'raylike.train'" in message and "Install the package that provides 'raylike'" in message, message
    assert "raylike/ is not here" not in message, message


EXITS_ON_ITS_OWN_EXCEPT = """
import sys

import pandas_not_installed_here as pd
import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, d=30):
        super().__init__()
        self.enc, self.dec = nn.Linear(d, 16), nn.Linear(8, d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp()), mu, logvar


def load():
    try:
        return torch.tensor(pd.read_csv("table.csv").values, dtype=torch.float32)
    except Exception as e:
        print(f"Error loading data: {e}")
        sys.exit(1)


x_all = load()
model = VAE(x_all.shape[1])
opt = torch.optim.Adam(model.parameters())
for i in range(0, len(x_all), 64):
    recon, mu, logvar = model(x_all[i : i + 64])
    loss = (recon - x_all[i : i + 64]).pow(2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_package_not_installed_whose_error_the_codes_except_caught_is_said_with_the_stop(tmp_path, monkeypatch):
    # `except Exception as e: print(e); sys.exit(1)` around a read by a package that is not
    # installed: the stop said only "SystemExit: 1" (helper-found: Martinfacot/tVAE_project, pandas)
    (tmp_path / "train.py").write_text(EXITS_ON_ITS_OWN_EXCEPT)
    monkeypatch.chdir(tmp_path)
    message = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "running it stopped at train.py:24: SystemExit: 1 (before that, a package that is not installed was used" in message, message
    assert "imports 'pd' from 'pandas_not_installed_here'" in message, message


PLOTS_AROUND_A_STEP = """
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

data = {data}


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(64, 16), nn.Linear(8, 64)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, 1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters())
fig, axes = plt.subplots(1, 2)
for (x,) in DataLoader(TensorDataset(torch.as_tensor(data, dtype=torch.float32)), batch_size=16):
    recon, mu, logvar = model(x)
    loss = ((recon - x).pow(2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / x.size(0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    axes[0].plot([loss.item()])
plt.savefig("loss.png")
"""


def test_a_plotting_package_that_is_not_installed_draws_nothing_and_blames_nothing(tmp_path, monkeypatch):
    # `import matplotlib; matplotlib.use("Agg")` at a script's top, matplotlib not installed: the run
    # stopped there and the package was blamed, while the data file was what was missing and --input
    # alone checked it (helper-found: chentong1023/Two-stage-VAE-pytorch, ahmerb/GPPVAE)
    import importlib.util

    import pytest

    if importlib.util.find_spec("matplotlib") is not None:
        pytest.skip("matplotlib is installed: the real one draws")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(PLOTS_AROUND_A_STEP.replace("{data}", 'np.load("data/train.npy")'))
    message = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "FileNotFoundError" in message and "its data is not here: give the batch with --input" in message, message
    assert "matplotlib" not in message, message
    (tmp_path / "train.py").write_text(PLOTS_AROUND_A_STEP.replace("{data}", "np.random.rand(64, 64)"))
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None and result.findings == [], (result.error, result.findings)
    assert any("matplotlib is not installed; it stands in as a no-op" in n for n in result.notes), result.notes
    # reading data with it is no drawing: that says what is missing
    (tmp_path / "train.py").write_text(PLOTS_AROUND_A_STEP.replace("{data}", 'plt.imread("faces.png").reshape(-1, 64)'))
    message = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "reads data with matplotlib.pyplot.imread, and matplotlib is not installed" in message, message
    assert not (tmp_path / "loss.png").exists()


def test_a_missing_trackers_run_takes_items_as_a_logger_does(tmp_path, monkeypatch):
    # aim / wandb not installed: their logger stands in as a no-op, and code that keys into it,
    # run.experiment["hparams"] = vars(args), went on (it stopped there: helper-found, maxjcohen/vqvae)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(
        "from aim import Run\n"
        "import torch\n"
        "from torch.utils.data import DataLoader, TensorDataset\n"
        "from vae_common import VAE, elbo\n"
        "def main():\n"  # in a function: no top-level line the run may go past
        "    run = Run(experiment='vae')\n"
        "    run['hparams'] = {'latent': 4}\n"
        "    print(run['hparams'])\n"
        "    model = VAE()\n"
        "    for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):\n"
        "        recon, mu, logvar = model(x)\n"
        "        elbo(recon, x, mu, logvar).backward()\n"
        "main()\n"
    )
    import importlib.util
    import os
    import shutil

    import pytest
    from training_cli import RUNNING

    if importlib.util.find_spec("aim") is not None:
        pytest.skip("aim is installed: its own Run takes the items")
    shutil.copy(os.path.join(RUNNING, "vae_common.py"), tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message
    assert "running the code as written did not reach its step" not in " ".join(result.notes), result.notes


def test_a_package_imported_in_a_subfolder_beside_a_file_of_its_last_name_is_to_install(tmp_path, monkeypatch):
    # jobs/prep.py's `from torchtext_like.data.utils import tokenize`, with the project's own utils.py
    # beside the script: a package to install, not "torchtext_like/ is not here, move utils.py there"
    # (helper B, c-juhwan/vae-text-augmentation-for-classification)
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "prep.py").write_text("from torchtext_like.data.utils import tokenize\n")
    (tmp_path / "utils.py").write_text("def seed():\n    return 0\n")
    script = SUBMODULE_NAMED_LIKE_THE_SCRIPT.replace("from raylike.train import report", "from jobs.prep import tokenize")
    (tmp_path / "train.py").write_text(script.replace('report({"loss": loss.item()})', 'tokenize("a b")'))
    monkeypatch.chdir(tmp_path)
    message = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "Install the package that provides 'torchtext_like'" in message, message
    assert "move it there" not in message, message
