"""A MATLAB data file read with scipy.io.loadmat (academic data sets: mat["X"], a dict of arrays)
that is not here stands in as rows of --input, as np.load's and h5py's do (livedata._READERS);
where the file is here, its own arrays are read (helper D, cliff0917/VAEGAN_Project's loadmat)."""

import pytest
from helpers import check, found

pytest.importorskip("scipy")

SCRIPT = """
import scipy.io as sio
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self, d, z=4):
        super().__init__()
        self.enc = nn.Linear(d, 2 * z)
        self.dec = nn.Linear(z, d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


mat = sio.loadmat("data/features.mat")
X = torch.from_numpy(mat["X"]).float()
model = VAE(X.shape[1])
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for (x,) in DataLoader(TensorDataset(X), batch_size=32, shuffle=True):
    recon, mu, logvar = model(x)
    rec = F.mse_loss(recon, x, reduction="sum") / x.size(0)
    kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
    loss = rec + kl
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_mat_file_not_here_stands_in_as_rows_of_the_input(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", ["32x20"])
    assert result.error is None, result.error.message
    assert any("data/features.mat (scipy.io.loadmat at train.py:" in n and "is not here" in n for n in result.notes), result.notes
    assert ("VAE002", 27) in found(result)  # the KL averaged over Z beside a per-sample sum: the step was reached


def test_a_mat_file_that_is_here_is_read_as_it_is(tmp_path, monkeypatch):
    import numpy as np
    import scipy.io as sio

    (tmp_path / "data").mkdir()
    sio.savemat(tmp_path / "data" / "features.mat", {"X": np.random.rand(100, 12).astype(np.float32)})
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message
    assert not any("features.mat" in n for n in result.notes), result.notes
    assert result.input_text.startswith("B x 12 (B=32)"), result.input_text
