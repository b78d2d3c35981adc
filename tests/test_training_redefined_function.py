"""A notebook (or script) that defines ``train`` twice: a classifier's first, the VAE's later, as
tutorials do. The run reaches the VAE's backward inside the second ``train``; its frame is found in
that definition, so the VAE's step is checked (before: only the first ``train`` was indexed, no
variable held the batch, and the classifier's step was checked instead: VAE rules not checked, exit
0; helper-found: AkashKarnatak/VAE-CVAE-pytorch)."""

import json

from training_cli import run

SETUP = """import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

images = torch.rand(256, 784)
labels = torch.randint(0, 10, (256,))
loader = DataLoader(TensorDataset(images, labels), batch_size=32)
"""
CLASSIFIER = """clf = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.SGD(clf.parameters(), lr=0.1)


def train(dataloader, model, optimizer):
    for X, y in dataloader:
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


train(loader, clf, opt)
"""
VAE = """class VAE(nn.Module):
    def __init__(self, z=8):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, 2 * z), nn.Linear(z, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def train(dataloader, model, optimizer, epoch):
    for X, _ in dataloader:
        recon, mu, logvar = model(X)
        rec = F.binary_cross_entropy(recon, X, reduction="sum")
        kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
        loss = (rec + kl) / X.size(0)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


vae = VAE()
train(loader, vae, torch.optim.Adam(vae.parameters()), 0)
"""


def test_the_second_train_of_a_notebook_is_the_vaes_step(tmp_path):
    path = tmp_path / "nb.ipynb"
    cells = [SETUP, CLASSIFIER, VAE]
    path.write_text(
        json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    result = json.loads(run(str(path), "--format", "json", "--no-cache").output)["results"][0]
    assert result["error"] is None, result["error"]
    assert "(cell 3," in result["loss"], result["loss"]
    assert [f["code"] for f in result["findings"]] == ["VAE002"], result["findings"]


def test_the_same_in_a_script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(SETUP + "\n\n" + CLASSIFIER + "\n\n" + VAE)
    result = json.loads(run(str(path), "--format", "json", "--no-cache").output)["results"][0]
    assert result["error"] is None, result["error"]
    assert [f["code"] for f in result["findings"]] == ["VAE002"], result["findings"]
