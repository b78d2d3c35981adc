"""``df.to_excel(path)`` in the training code, in a helper the step's function calls: a write, which the
sandbox answers as it answers open(path, "w") (nothing is written), so a package it alone needs
(openpyxl) is no stop. Before, the run ended there ('No module named openpyxl') and the step was not
checked. pandas is no test dependency: a stand-in package of the same name, on the import path as an
installed one is, plays it, its to_excel failing as pandas' does without openpyxl."""

from __future__ import annotations

from json_cli import check_json

PANDAS = """class DataFrame:
    def __init__(self, rows):
        self.values = rows

    def to_excel(self, path, index=True):
        raise ModuleNotFoundError("No module named 'openpyxl'")


class Series(DataFrame):
    pass
"""

SCRIPT = """import pandas as pd
import torch
import torch.nn as nn


def save_copy(frame, name):
    frame.to_excel(name, index=False)


class SmallVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(3, 4)
        self.dec = nn.Linear(2, 3)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


def train():
    frame = pd.DataFrame(torch.randn(64, 3).tolist())
    save_copy(frame, "copy.xlsx")
    data = torch.tensor(frame.values)
    model = SmallVAE()
    opt = torch.optim.Adam(model.parameters())
    for start in range(0, 64, 16):
        x = data[start : start + 16]
        recon, mu, logvar = model(x)
        loss = (recon - x).pow(2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        opt.zero_grad()
        loss.backward()
        opt.step()


train()
"""


def test_a_frame_written_to_excel_is_no_stop(tmp_path, monkeypatch):
    import importlib.util
    import sys

    if importlib.util.find_spec("pandas") is None:
        site = tmp_path / "lib" / "site-packages"  # installed, as pandas is: its modules stay loaded between runs
        (site / "pandas").mkdir(parents=True)
        (site / "pandas" / "__init__.py").write_text(PANDAS)
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.delitem(sys.modules, "pandas", raising=False)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "sew_train.py").write_text(SCRIPT)
    try:
        r, result = check_json(str(tmp_path / "project" / "sew_train.py"))
    finally:
        if "site-packages" in str(getattr(sys.modules.get("pandas"), "__file__", "")) and str(tmp_path) in sys.modules["pandas"].__file__:
            del sys.modules["pandas"]  # the stand-in, if the check imported it here: no later test sees it
    assert result["error"] is None, result["error"]
    assert result["findings"] == [] and result["beta_effective"], r.output
    assert not (tmp_path / "project" / "copy.xlsx").exists() and not (tmp_path / "copy.xlsx").exists()
