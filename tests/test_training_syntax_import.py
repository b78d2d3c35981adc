"""A data set class imported from a file of the project that does not parse (Python 2's print) is
no data set to stand in for: the report names the file, the line and that it is Python 2 code,
with --input given too (helper-found: Amigoshan/sketch_rnn_pytorch's sketchData.py, where the run
said only 'the data set stands in: its import failed')."""

from helpers import check

DATA = """
import numpy as np


class StrokeDataset:
    def __init__(self, strokes):
        self.strokes = strokes

    def __len__(self):
        return len(self.strokes)


if __name__ == "__main__":
    print len(StrokeDataset([]).strokes)
"""

TRAIN = """
import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from strokedata import StrokeDataset


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(12, 8), nn.Linear(4, 12)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


model = VAE()
for x in DataLoader(StrokeDataset(torch.rand(64, 12)), batch_size=16):
    recon, mu, logvar = model(x)
    (((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())).backward()
"""


def test_a_data_set_from_a_file_that_does_not_parse_is_said_not_stood_in(tmp_path, monkeypatch):
    (tmp_path / "strokedata.py").write_text(DATA)
    (tmp_path / "train.py").write_text(TRAIN)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", ["16x12"])
    # the run stops at the data set's use and says why; the step read from the code is checked on --input
    said = result.error.message if result.error is not None else " ".join(result.notes)
    assert "strokedata.py does not parse with this Python" in said and "at line 14" in said, said
    assert "Python 2 code" in said and "the data set StrokeDataset" not in said, said
