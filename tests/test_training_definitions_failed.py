"""A class of the repository's own that Python could not define, because a name its definition
reads (an annotation of a method, a base class) comes from a package that is not installed: the
training setup that builds it is told the package, once, at its place; never "'' is not
installed" nor a PYTHONPATH to set (helper-found: PierreBoyeau/decision-making-vaes,
tejaslodaya/timeseries-clustering-vae)."""

from __future__ import annotations

import pytest
from helpers import check

TRAINER = """
import missing_tables_package as tables
import torch
import torch.nn.functional as F


class Trainer:
    def __init__(self, model, lr=1e-3):
        self.model = model
        self.opt = torch.optim.Adam(model.parameters(), lr)

    def fit(self, x):
        recon, mu, logvar = self.model(x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
        loss = F.mse_loss(recon, x, reduction="sum") / x.size(0) + kl
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    def report(self, counts: tables.Series):  # read when the class is defined
        return counts
"""

BASED = """
import torch
from missing_tables_package.base import Estimator


class Trainer(Estimator):
    def __init__(self, model):
        self.model = model

    def fit(self, x):
        recon, mu, logvar = self.model(x)
        loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss.backward()
"""

MODEL = """
import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar
"""

SCRIPT = """
import torch
from lab.models import VAE
from lab.training import Trainer

trainer = Trainer(VAE())
trainer.fit(torch.randn(32, 20))
"""


@pytest.mark.parametrize("trainer", [TRAINER, BASED], ids=["annotation", "base-class"])
def test_a_class_python_could_not_define_names_the_missing_package_once(tmp_path, monkeypatch, trainer):
    (tmp_path / "lab" / "training").mkdir(parents=True)
    (tmp_path / "lab" / "__init__.py").write_text("")
    (tmp_path / "lab" / "models.py").write_text(MODEL)
    (tmp_path / "lab" / "training" / "__init__.py").write_text("from .trainer import Trainer\n")
    (tmp_path / "lab" / "training" / "trainer.py").write_text(trainer)
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is not None, "a step that could not be built is no clean check"
    message = " ".join(result.error.message.split())
    assert "missing_tables_package" in message and "Install the package" in message
    assert "''" not in message and "( could not" not in message
    assert "PYTHONPATH" not in message  # lab/ is imported from here, as the script does
    assert message.count("train.py:6:") <= 1, message


def test_a_trainer_class_of_the_repositorys_own_with_a_fit_is_run_not_taken_for_lightnings(tmp_path, monkeypatch):
    # `trainer = Trainer(VAE()); trainer.fit(x)` with the repository's own Trainer, no Lightning in
    # sight: the training code, run to the backward in its fit
    (tmp_path / "lab" / "training").mkdir(parents=True)
    (tmp_path / "lab" / "__init__.py").write_text("")
    (tmp_path / "lab" / "models.py").write_text(MODEL)
    (tmp_path / "lab" / "training" / "__init__.py").write_text("from .trainer import Trainer\n")
    (tmp_path / "lab" / "training" / "trainer.py").write_text(
        TRAINER.replace("import missing_tables_package as tables\n", "").replace("tables.Series", "list")
    )
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error
    assert "Trainer.fit" in (result.loss_name or ""), result.loss_name
    assert [row for row in result.flow if row.name == "kl"], "the step's loss was read"


def test_a_missing_package_used_at_a_modules_top_is_not_said_caught_by_an_except(tmp_path, monkeypatch):
    # `meter = pyln.Meter(16000)` at the top of an imported module, pyln not installed, and a script
    # that trains only under `len(sys.argv) == 2`: the run went past the use; no except of the code
    # caught it, and the message said one did (helper-found: msaadeghii/sdm-vae)
    (tmp_path / "audio.py").write_text("import missing_loudness_package as pyln\n\nmeter = pyln.Meter(16000)\n")
    (tmp_path / "train.py").write_text(
        "import sys\n\nimport torch\nfrom audio import meter\nfrom lab.models import VAE\n\n\n"
        "def train():\n    model = VAE()\n    x = torch.randn(8, 20)\n    recon, mu, logvar = model(x)\n"
        "    ((recon - x) ** 2).sum().backward()\n\n\nif len(sys.argv) == 2:\n    train()\n"
    )
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "__init__.py").write_text("")
    (tmp_path / "lab" / "models.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is not None
    message = " ".join(result.error.message.split())
    assert "except caught" not in message, message


WANDB_CONFIGURED = """
import argparse

import numpy as np
import torch
import wandb
from missing_chemistry_package import Logger

Logger.silence("all")
parser = argparse.ArgumentParser()
parser.add_argument("--train_data", required=True)
parser.add_argument("--batch_size", type=int, default=16)
args = parser.parse_args()
wandb.init(project="vae", config=vars(args))
args = wandb.config
data = torch.tensor(np.load(args.train_data), dtype=torch.float32)
for x in torch.utils.data.DataLoader(data, batch_size=args.batch_size):
    mu, logvar = x[:, :4], x[:, 4:8]
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    (z ** 2).sum().backward()
"""


def test_a_config_the_tracker_is_given_is_read_back_when_the_code_is_read(tmp_path, monkeypatch):
    # wandb.init(config=vars(args)) then args = wandb.config: reading the code kept the init (its
    # result is not read, yet it sets what the step reads). Before: "wandb.config has no
    # 'train_data' ... give the script's arguments", which were given (helper-found: Blake-De/smiles-vae)
    (tmp_path / "train.py").write_text(WANDB_CONFIGURED)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [], script_args=["--train_data", "data/train.npy"])
    assert result.error is not None
    message = " ".join(result.error.message.split())
    assert "wandb.config has no" not in message, message
    assert "missing_chemistry_package" in message
