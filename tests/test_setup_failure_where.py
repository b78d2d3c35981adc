"""A setup line that fails inside a helper of another module (a package run as `python -m
src.train`, its main() replayed line by line) names where the error was raised beside the line
that called it (helper N, FedeVas/histology_vae_student: only the caller's line was said)."""

import textwrap

from helpers import check

TRAIN = """
import torch

from src.pkg.data import build_loader
from src.pkg.engine import epoch


def main():
    cfg = {"size": 12, "batch": 8}
    loader = build_loader(cfg)
    model = torch.nn.Linear(12, 12)
    opt = torch.optim.Adam(model.parameters())
    for _ in range(2):
        epoch(model, loader, opt)


if __name__ == "__main__":
    main()
"""

DATA = """
import torch


def make_transform(size, use_flip=True):
    return lambda x: x


def build_loader(cfg):
    transform = make_transform(cfg["size"], flip=True)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(transform(torch.rand(64, cfg["size"]))), batch_size=cfg["batch"])
"""

ENGINE = """
import torch


def epoch(model, loader, opt):
    for (x,) in loader:
        mu = model(x)
        z = mu + torch.randn_like(mu)
        loss = ((z - x) ** 2).sum() + 0.5 * mu.pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
"""


def test_the_line_that_raised_is_named_beside_its_caller(tmp_path, monkeypatch):
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "__init__.py").write_text("")
    (tmp_path / "src" / "pkg" / "__init__.py").write_text("")
    (tmp_path / "src" / "train.py").write_text(textwrap.dedent(TRAIN))
    (tmp_path / "src" / "pkg" / "data.py").write_text(textwrap.dedent(DATA))
    (tmp_path / "src" / "pkg" / "engine.py").write_text(textwrap.dedent(ENGINE))
    monkeypatch.chdir(tmp_path)
    result = check("src/train.py", "-", [])
    said = result.error.message if result.error else ""
    assert "unexpected keyword argument 'flip'" in said, said
    assert "(raised at src/pkg/data.py:10)" in said, said


NPZ_SCRIPT = """
import argparse

import numpy as np
import torch
import torch.nn as nn


def read_arrays(path):
    arrays = np.load(path)
    curves = arrays["curves"].astype(np.float32)
    labels = arrays["labels"].astype(np.float32)
    varied = labels.std(0) > 0
    columns = [j for j in range(labels.shape[1]) if varied[j]]
    return curves, labels[:, columns]


class Model(nn.Module):
    def __init__(self, width, length, channels, z=4):
        super().__init__()
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(length * channels, 32), nn.ReLU())
        self.heads = nn.Linear(width + 32, 2 * z)
        self.out = nn.Linear(z + 32, width)

    def forward(self, y, c):
        e = self.embed(c)
        mu, logvar = self.heads(torch.cat([y, e], 1)).chunk(2, 1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.out(torch.cat([z, e], 1)), mu, logvar


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/curves.npz")
    args = parser.parse_args()
    curves, labels = read_arrays(args.data)
    c, y = torch.tensor(curves), torch.tensor(labels)
    model = Model(y.shape[1], *curves.shape[1:])
    fit(model, y, c)


def fit(model, y, c, batch=16):
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    order = torch.randperm(len(y))
    for start in range(0, len(y), batch):
        idx = order[start : start + batch]
        rec, mu, logvar = model(y[idx], c[idx])
        loss = ((rec - y[idx]) ** 2).sum(1).mean() - 0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1).mean()
        opt.zero_grad(); loss.backward(); opt.step()


if __name__ == "__main__":
    main()
"""


def test_a_helper_misreading_stand_in_data_is_said_so(tmp_path, monkeypatch):
    # the data file is not here: it stands in as rows of --input, and the code's own reader fails
    # on its layout inside a helper of main(); said as the stand-in's, not as the code's error
    (tmp_path / "train.py").write_text(textwrap.dedent(NPZ_SCRIPT))
    monkeypatch.chdir(tmp_path)
    said = check(str(tmp_path / "train.py"), "-", ["16x20x3"]).error.message
    assert "(raised at train.py:14)" in said, said
    assert "This is the code reading vaelint's stand-in data" in said and "data/curves.npz" in said, said
    assert "--script-args" not in said, said
