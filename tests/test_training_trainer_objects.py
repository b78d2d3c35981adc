"""A method target whose class takes objects (Trainer(model, optimizer), JointVAE's layout) and no
script here builds it: the message names the model as an object no literal gives, to be given as
--init model=PATH.py:CLASS, or points to the model target with its loss, not '--init model=64' (helper G, elaysason/Generative-Learning-...);
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
    # the optimizer stands in (never stepped); the model is said as the class that makes it, not '--init model=64'
    assert "Trainer's constructor takes 'model', objects no literal gives" in message, message
    assert "--init model=PATH.py:CLASS (built with its defaults)" in message and "PATH.py:MODEL --input SPEC with its loss" in message
    assert "--init model=64" not in message


def test_a_constructor_that_takes_a_folder_gets_the_init_advice(tmp_path, monkeypatch):
    message = _message(tmp_path, monkeypatch, "data_dir", "torch.load(data_dir + '/model.pt'), None")
    assert "Trainer's constructor needs 'data_dir': give it with --init NAME=VALUE" in message, message
    assert "--init data_dir='data'" in message


AGENT = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class PolicyVAE(nn.Module):
    def __init__(self, state_dim, action_dim, latent_dim):
        super().__init__()
        self.enc = nn.Linear(state_dim + action_dim, 2 * latent_dim)
        self.dec = nn.Linear(state_dim + latent_dim, action_dim)

    def forward(self, s, a):
        mean, log_std = self.enc(torch.cat([s, a], 1)).chunk(2, 1)
        std = log_std.clamp(-4, 15).exp()
        z = mean + std * torch.randn_like(std)
        return self.dec(torch.cat([s, z], 1)), mean, std


class Agent:
    def __init__(self, state_dim, action_dim):
        self.state_dim, self.action_dim = state_dim, action_dim
        self.vae = PolicyVAE(state_dim, action_dim, 2 * action_dim)
        self.opt = torch.optim.Adam(self.vae.parameters())

    def train(self, iterations, batch_size=100):
        for _ in range(iterations):
            s, a = torch.randn(batch_size, self.state_dim), torch.rand(batch_size, self.action_dim)
            recon, mean, std = self.vae(s, a)
            kl = -0.5 * (1 + torch.log(std.pow(2)) - mean.pow(2) - std.pow(2)).sum(1)
            loss = (F.mse_loss(recon, a, reduction="none").sum(1) + kl).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
"""


def test_init_values_build_a_method_targets_class(tmp_path, monkeypatch):
    # Agent.train named as the target, nothing here builds Agent: the constructor takes --init's
    # state_dim and action_dim as the method takes iterations (BCQ/BEAR's agents: the --init the
    # message asked for was not given to the constructor, and the message came again; helper X)
    (tmp_path / "agent.py").write_text(AGENT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "agent.py"), "Agent.train", [], init={"state_dim": 11, "action_dim": 3, "iterations": 1})
    assert result.error is None, result.error.message
    assert not result.findings, result.findings


SCRIPT_CALLS_ITS_CONFIG_SHORT = """
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Config:
    def __init__(self, lr, dropout, epochs):
        self.lr, self.dropout, self.epochs = lr, dropout, epochs


def main():
    cfg = Config(lr=1e-3, epochs=2)
    model = torch.nn.Linear(20, 8)
    loader = DataLoader(TensorDataset(torch.rand(64, 20)), batch_size=16)
    for epoch in range(cfg.epochs):
        for (x,) in loader:
            mu, logvar = model(x).chunk(2, dim=1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            loss = F.mse_loss(z, x[:, :4]) - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss.backward()


if __name__ == "__main__":
    main()
"""


def test_the_codes_own_short_constructor_call_is_said_as_its_bug_not_init_advice(tmp_path, monkeypatch):
    # Config(lr=1e-3) where Config needs dropout too: python stops there as well, and --init cannot
    # reach the code's own call (the advice was '--init dropout=64', which changed nothing; helper E3)
    (tmp_path / "train.py").write_text(SCRIPT_CALLS_ITS_CONFIG_SHORT)
    monkeypatch.chdir(tmp_path)
    message = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "The code's own call of Config(...) at train.py:13 leaves out 'dropout'" in message, message
    assert "--init dropout" not in message, message
