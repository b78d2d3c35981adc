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
