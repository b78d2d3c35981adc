"""A column of a data file vaelint stood in for, read as an attribute of its frame (``df.date``) in a
helper module: the stop says it is the code reading vaelint's stand-in data, not a bug of the code
(helper E, xiaozheng7/RecVAE-GBRT's utils/tools.py; frontends/training/livewhy.py)."""

import pytest
from helpers import check

FEATURES = "def add_time_features(df):\n    df['hour'] = df.date.str.len()\n    return df\n"
TRAIN = """
import pandas as pd
import torch
import torch.nn as nn
from features import add_time_features


class WindowVAE(nn.Module):
    def __init__(self, win=24, z=4):
        super().__init__()
        self.enc, self.dec = nn.Linear(win, 2 * z), nn.Linear(z, win)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


df = add_time_features(pd.read_csv("data/traffic.csv", usecols=["date", "OT"]))
series = torch.tensor(df["OT"].values, dtype=torch.float32)
model = WindowVAE()
opt = torch.optim.Adam(model.parameters())
for i in range(0, len(series) - 24, 64):
    x = torch.stack([series[j : j + 24] for j in range(i, min(i + 64, len(series) - 24))])
    recon, mu, logvar = model(x)
    loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_stand_in_frames_column_read_as_an_attribute_is_said_as_the_stand_ins(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    (tmp_path / "features.py").write_text(FEATURES)
    (tmp_path / "train.py").write_text(TRAIN)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", ["64x24"])
    message = result.error.message
    assert "AttributeError: 'DataFrame' object has no attribute 'date'" in message
    assert "this is the code reading vaelint's stand-in data, not its own" in message, message
    assert "data/traffic.csv" in message


TWO_FILES = """
import pandas as pd
import torch
import torch.nn as nn

expression = pd.read_csv("data/expression.csv", index_col=0).to_numpy()
meta = pd.read_csv("data/metadata.csv")
keep = meta["qc_pass"].to_numpy().astype(bool)
rows = torch.tensor(expression[keep], dtype=torch.float32)


class VAE(nn.Module):
    def __init__(self, d=200, z=8):
        super().__init__()
        self.enc, self.dec = nn.Linear(d, 2 * z), nn.Linear(z, d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters())
for i in range(0, len(rows), 64):
    x = rows[i : i + 64]
    recon, mu, logvar = model(x)
    loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_the_stand_in_said_is_the_one_the_failing_line_read_last(tmp_path, monkeypatch):
    """A matrix read first, then a table read by its column names: the table's stand-in is the one whose
    layout the code did not find (it named the matrix: h-cno/vae-cf-pytorch, NRshka/stvae-source)."""
    pytest.importorskip("pandas")
    (tmp_path / "train.py").write_text(TWO_FILES)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", ["64x200"])
    said = result.error.message if result.error is not None else " ".join(result.notes)
    assert "KeyError: 'qc_pass'" in said, said
    assert "the data file data/metadata.csv (pd.read_csv at train.py:7)" in said, said
