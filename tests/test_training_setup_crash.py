"""Training code whose own setup fails at every run before its first batch (``--lr`` parsed as a
string and handed to Adam: a TypeError), on nothing vaelint stood in for: exit 2 at that line, not
"no findings" for the step reading the code found past it (the stop was a note under exit 0; in
akhandait/beta-VAE it was not said at all). The same script with the option parsed as a number is
checked as before."""

import textwrap

from helpers import check

SCRIPT = """
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=TYPE, default="0.001")
args = parser.parse_args()


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(64, 2 * 4)
        self.dec = nn.Linear(4, 64)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


model = VAE()
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
for (x,) in DataLoader(TensorDataset(torch.randn(128, 64)), batch_size=16):
    recon, mu, logvar = model(x)
    rec = F.mse_loss(recon, x, reduction="sum") / x.size(0)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    optimizer.zero_grad()
    (rec + kl).backward()
    optimizer.step()
"""


def _write(tmp_path, kind: str) -> str:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(SCRIPT).replace("TYPE", kind))
    return str(path)


def test_a_setup_that_fails_at_every_run_is_said_at_its_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check(_write(tmp_path, "str"), "-", [])
    assert result.error is not None and result.error.kind == "load", (result.error, result.findings)
    said = result.error.message
    assert "train.py:26: TypeError" in said and "the user's own run stops there too" in said and "Fix that line" in said, said


def test_the_same_setup_that_runs_is_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check(_write(tmp_path, "float"), "-", [])
    assert result.error is None, result.error.message
    assert not result.findings, [f.code for f in result.findings]
    assert not any("did not reach its step" in n for n in result.notes), result.notes
