"""A script that trains a classifier step, then crashes in a helper before it calls the VAE's method of
a plain trainer class: vaelint checked the classifier's step (no sample: "7 rules not checked"), said
nothing of the crash, and exited 0 (helper-found, an active-learning VAE-GAN). The stop is now said with
its line, and that a VAE step after it was not checked. Without the crash the VAE step is reached."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Enc(nn.Module):
    def __init__(self):
        super().__init__()
        self.h, self.mu, self.lv = nn.Linear(10, 32), nn.Linear(32, 4), nn.Linear(32, 4)

    def forward(self, x):
        h = F.relu(self.h(x))
        return self.mu(h), self.lv(h)


class Trainer:
    def __init__(self, loader):
        self.E, self.G, self.C = Enc(), nn.Linear(4, 10), nn.Linear(10, 2)
        self.loader = loader
        self.opt_c = torch.optim.Adam(self.C.parameters())
        self.opt_e = torch.optim.Adam([*self.E.parameters(), *self.G.parameters()])

    def train(self):
        for x, y in self.loader:
            self.opt_c.zero_grad()
            F.cross_entropy(self.C(x), y).backward()
            self.opt_c.step()

    def vae_train(self):
        for x, _ in self.loader:
            self.opt_e.zero_grad()
            mu, logvar = self.E(x)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            loss = F.mse_loss(self.G(z), x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss.backward()
            self.opt_e.step()


def select_points(t):
    CRASH
    t.vae_train()


if __name__ == "__main__":
    t = Trainer(DataLoader(TensorDataset(torch.randn(128, 10), torch.randint(0, 2, (128,))), batch_size=32))
    t.train()
    select_points(t)
"""


def _said(result) -> list[str]:
    return [n for n in result["notes"] if n.startswith("running the code as written stopped after this step")]


@pytest.mark.parametrize("crash", [True, False], ids=["crashes before the VAE step", "reaches it"])
def test_a_stop_after_the_step_passed_over_is_said(tmp_path, monkeypatch, crash):
    text = SCRIPT.replace("CRASH", 'raise ValueError("setting an array element with a sequence")' if crash else "pass")
    (tmp_path / "train.py").write_text(text)
    monkeypatch.chdir(tmp_path)
    r, result = check_json("train.py")
    if crash:
        line = next(i for i, t in enumerate(text.splitlines(), 1) if "raise ValueError" in t)
        assert _said(result) and f"train.py:{line}" in _said(result)[0] and "ValueError" in _said(result)[0], result["notes"]
    else:
        assert _said(result) == [] and "VAE002" not in [s["code"] for s in result["skipped"]], (result["notes"], result["skipped"])
