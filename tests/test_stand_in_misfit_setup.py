"""A setup line that reads more of a stood-in data file than the stand-in holds (``random.sample(
lines, 1000)`` of a 512-line stand-in) is said as the stand-in's misfit, naming the missing file,
not left as the code's own ValueError (vaelint/frontends/training/livewhy.py); the step is then read
from the code and checked."""

from __future__ import annotations

from json_cli import check_json

SCRIPT = """
import random
import torch
import torch.nn.functional as F
from torch import nn

with open("molecules.txt") as handle:
    lines = [line.strip() for line in handle if line.strip()]
held_out = random.sample(lines, 5000)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(30, 8)
        self.decoder = nn.Linear(4, 30)

    def forward(self, x):
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


data = torch.tensor([[float(v) for v in line.split()] for line in held_out])
model = VAE()
optimizer = torch.optim.Adam(model.parameters())
for x in torch.utils.data.DataLoader(data, batch_size=16):
    recon, mu, logvar = model(x)
    loss = F.mse_loss(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""


def test_a_setup_line_that_samples_more_lines_than_the_stand_in_holds_names_the_file(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    r, result = check_json("train.py", "--input", "16x30")
    assert result["error"] is None, r.output
    note = next(n for n in result["notes"] if "train.py:9: ValueError: Sample larger than population" in n)
    assert "this is the code reading vaelint's stand-in data, not its own: the data file molecules.txt" in note, note
    assert not (tmp_path / "molecules.txt").exists()
