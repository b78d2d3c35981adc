"""Training code that hands its model the loader's batch as it comes (``for batch in loader:
model(batch)`` over a TensorDataset, whose batches are lists, ``[x]`` even for one tensor): the
code as written raises in its step on its real data too. vaelint ran it, saw the model raise for
want of a tensor, and went on with the step read from the code, given --input as a bare tensor:
exit 0, "no findings", the crash only a note (helper-found). Now VAE013 says it at the model's
call, with the batch's parts and what to write. A step that unpacks the batch, or a model that
takes the list and indexes it, is clean."""

from __future__ import annotations

import pytest
from json_cli import check_json

SCRIPT = """import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

X = torch.tensor(np.load("features.npy"), dtype=torch.float32)
DATASET
loader = DataLoader(dataset, batch_size=32, shuffle=True)


class VAE(nn.Module):
    def __init__(self, d=30, z=8):
        super().__init__()
        self.enc = nn.Linear(d, 2 * z)
        self.dec = nn.Linear(z, d)

    def forward(self, x):
        FIRST
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.dec(z), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters(), 1e-3)
for epoch in range(5):
    for LOOP in loader:
        recon, mu, logvar = model(batch)
        rec = ((recon - TARGET) ** 2).sum()
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
"""


def _script(tmp_path, name, dataset="dataset = TensorDataset(X)", first="pass", loop="batch", target="batch"):
    path = tmp_path / name
    path.write_text(SCRIPT.replace("DATASET", dataset).replace("FIRST", first).replace("LOOP", loop).replace("TARGET", target))
    return path


def _line_of(path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize(
    ("dataset", "parts"),
    [
        ("dataset = TensorDataset(X)", "a list of 1 tensor (32 x 30)"),
        ("dataset = TensorDataset(X, X[:, 0])", "a list of 2 tensors (32 x 30, 32)"),
    ],
    ids=["one tensor", "features and labels"],
)
def test_the_loaders_list_handed_to_the_model_is_VAE013_at_the_call(tmp_path, dataset, parts):
    path = _script(tmp_path, "whole_batch.py", dataset=dataset)
    r, result = check_json(str(path), "--input", "32x30")
    assert r.exit_code == 1, r.output
    assert [f["code"] for f in result["findings"]] == ["VAE013"], result["findings"]
    finding = result["findings"][0]
    assert finding["line"] == _line_of(path, "= model(batch)"), finding
    assert parts in finding["message"] and "not list" in finding["message"], finding["message"]
    assert "x = batch[0]" in finding["fix"], finding["fix"]
    assert finding["confirmed"] is True


def test_a_step_that_unpacks_the_batch_is_clean(tmp_path):
    path = _script(tmp_path, "unpacked.py", loop="(batch,)")
    r, result = check_json(str(path), "--input", "32x30")
    assert r.exit_code == 0, r.output
    assert result["findings"] == []
    assert not any("did not reach its step" in n for n in result["notes"]), result["notes"]


def test_a_model_that_takes_the_list_and_indexes_it_is_clean(tmp_path):
    path = _script(tmp_path, "indexed.py", first="x = x[0]", target="batch[0]")
    r, result = check_json(str(path), "--input", "32x30")
    assert r.exit_code == 0, r.output
    assert result["findings"] == [], result["findings"]
