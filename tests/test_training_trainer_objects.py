"""A method target whose class takes objects (Trainer(model, optimizer), JointVAE's layout) and no
script here builds it: the message names them as objects no --init literal gives and points to the
model target with its loss, not '--init model=64' (helper G, elaysason/Generative-Learning-...);
a constructor that takes literals (a data folder) still gets the --init advice."""

from helpers import check

TRAINER = """
import torch
import torch.nn.functional as F


class Trainer:
    def __init__(self, {PARAMS}):
        self.model, self.optimizer = {BUILD}

    def train(self, data_loader):
        for x in data_loader:
            recon, mu, logvar = self.model(x)
            loss = F.mse_loss(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
"""


def _message(tmp_path, monkeypatch, params: str, build: str) -> str:
    (tmp_path / "trainer.py").write_text(TRAINER.replace("{PARAMS}", params).replace("{BUILD}", build))
    monkeypatch.chdir(tmp_path)
    return check(str(tmp_path / "trainer.py"), "Trainer.train", ["16x20"]).error.message


def test_a_constructor_that_takes_a_model_and_an_optimizer_points_to_the_model_target(tmp_path, monkeypatch):
    message = _message(tmp_path, monkeypatch, "model, optimizer", "model, optimizer")
    assert "Trainer's constructor takes 'model', 'optimizer', objects no --init literal gives" in message, message
    assert "PATH.py:MODEL --input SPEC with its loss" in message
    assert "--init model=" not in message


def test_a_constructor_that_takes_a_folder_gets_the_init_advice(tmp_path, monkeypatch):
    message = _message(tmp_path, monkeypatch, "data_dir", "torch.nn.Linear(20, 20), None  # data_dir unused")
    assert "Trainer's constructor needs 'data_dir': give it with --init NAME=VALUE" in message, message
    assert "--init data_dir='data'" in message
