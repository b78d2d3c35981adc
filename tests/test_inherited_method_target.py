"""``model.py:DenseVAE.fit_on_data`` where DenseVAE inherits fit_on_data from a base class (timeVAE's
BaseVAE, in another file): the message says where the method is defined and what to check instead,
never "has no top-level class or function 'DenseVAE.fit_on_data'. It defines: DenseVAE"
(helper-found: wangyz1999/timeVAE-pytorch)."""

from __future__ import annotations

from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

BASE = """import torch
import torch.nn as nn


class BaseVAE(nn.Module):
    def fit_on_data(self, data, epochs=1):
        opt = torch.optim.Adam(self.parameters())
        for x in data.split(8):
            recon, mu, logvar = self(x)
            loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            opt.zero_grad()
            loss.backward()
            opt.step()
"""
MODEL = """import torch
import torch.nn as nn

from base import BaseVAE


class DenseVAE(BaseVAE):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar
"""


def test_an_inherited_method_is_said_with_where_it_is_defined(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.py").write_text(BASE)
    (tmp_path / "model.py").write_text(MODEL)
    r = runner.invoke(app, ["check", "model.py:DenseVAE.fit_on_data", "--input", "8x20", "--no-cache"])
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "DenseVAE.fit_on_data is inherited from BaseVAE (base.py)" in text, r.output
    assert "vaelint check model.py:DenseVAE --input SHAPE" in text and "has no top-level" not in text
    # the near miss: a method the class does not have at all is still "no such name"
    r = runner.invoke(app, ["check", "model.py:DenseVAE.train_steps", "--input", "8x20", "--no-cache"])
    assert r.exit_code == 2 and "has no top-level class or function 'DenseVAE.train_steps'" in r.output, r.output
