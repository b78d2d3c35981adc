"""A step that takes batches from two loaders of different batch sizes (semi-supervised M2: a
labelled loader of 8 zipped with an unlabelled one of 24): the code's own batch is checked with
every stream at the first's batch size, said in a note; before, exit 2 "the --input specs
disagree on the batch size" when no --input was given (helper-found:
WooGyeongDong/Semi-Supervised-Learning-with-VAE). Batch sizes the user gives still must agree."""

from __future__ import annotations

from helpers import check, found

SCRIPT = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class M2(nn.Module):
    def __init__(self, d=40, z=6, k=5):
        super().__init__()
        self.enc, self.dec, self.cls = nn.Linear(d + k, 2 * z), nn.Linear(z + k, d), nn.Linear(d, k)

    def forward(self, x, y):
        mu, logvar = self.enc(torch.cat([x, y], 1)).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(torch.cat([z, y], 1))), mu, logvar


def elbo(x, recon, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="none").sum(1)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
    return (rec + KL_WEIGHT * kl).mean()


model = M2()
opt = torch.optim.Adam(model.parameters(), 1e-3)
labelled = DataLoader(TensorDataset(torch.rand(64, 40), torch.randint(0, 5, (64,))), batch_size=8, shuffle=True)
unlabelled = DataLoader(TensorDataset(torch.rand(192, 40)), batch_size=24, shuffle=True)
for (x, y), (u,) in zip(labelled, unlabelled):
    onehot = F.one_hot(y, 5).float()
    recon, mu, logvar = model(x, onehot)
    guess = torch.softmax(model.cls(u), dim=1)
    urecon, umu, ulogvar = model(u, guess)
    loss = elbo(x, recon, mu, logvar) + elbo(u, urecon, umu, ulogvar) + F.cross_entropy(model.cls(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_two_loaders_of_different_batch_sizes_are_checked_at_one(tmp_path, monkeypatch):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.replace("KL_WEIGHT", "1.0"))
    monkeypatch.chdir(tmp_path)
    result = check(str(script), "-", [])
    assert result.error is None, result.error
    assert any("batches of 8, 24 from its loaders" in n for n in result.notes), result.notes
    assert result.findings == [], [f.message for f in result.findings]


def test_the_streams_weights_are_still_read(tmp_path, monkeypatch):
    # the near miss: the same step with the KL weighed by 0.1: VAE004, as with one stream
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.replace("KL_WEIGHT", "0.1"))
    monkeypatch.chdir(tmp_path)
    result = check(str(script), "-", [])
    assert result.error is None, result.error
    assert "VAE004" in {code for code, _line in found(result)}


def test_batch_sizes_the_user_gives_must_agree(tmp_path, monkeypatch):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.replace("KL_WEIGHT", "1.0"))
    monkeypatch.chdir(tmp_path)
    result = check(str(script), "-", ["8x40", "8:int64:5", "24x40"])
    assert result.error is not None and "disagree on the batch size" in result.error.message
    # a forward argument that is no batch (akahn1213/vrnn's kl_weight, a per-step vector) is said to have no --input
    assert "A forward argument that is no batch (a weight, a per-step vector) has no --input" in result.error.message
