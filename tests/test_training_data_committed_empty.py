"""A data folder the repository commits empty, kept by a placeholder (``.gitkeep``, ``.keep``), its
data made by another script: the code's listing of it (``os.listdir``, ``glob``, ``Path.glob``)
is an absent data set, as a folder that is not there is. Without --input the check says so and
asks for the batch; with --input the listing gives stand-in files and the step is checked. Before,
"a condition on the way was false", and --input did not help (helper-found:
arnaudvl/world-models-ppo)."""

from __future__ import annotations

import pytest
from helpers import check, found

SCRIPT = """
import glob
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(32, 8), nn.Linear(4, 32)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar


def chunks(folder):
    return sorted(LISTING)


model = VAE()
opt = torch.optim.Adam(model.parameters(), 1e-3)
for name in chunks("rollouts/train"):
    rows = np.load(os.path.join("rollouts/train", os.path.basename(str(name))))
    loader = torch.utils.data.DataLoader(torch.as_tensor(rows, dtype=torch.float32), batch_size=16, shuffle=True)
    for x in loader:
        recon, mu, logvar = model(x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = F.binary_cross_entropy(recon, x, reduction="mean") + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
"""

LISTINGS = {
    "listdir": 'f for f in os.listdir(folder) if f.endswith(".npy")',
    "glob": 'glob.glob(os.path.join(folder, "*.npy"))',
    "path-glob": 'Path(folder).glob("*.npy")',
}


def _repository(tmp_path, listing: str, placeholder: str = ".gitkeep"):
    (tmp_path / "rollouts" / "train").mkdir(parents=True)
    (tmp_path / "rollouts" / "train" / placeholder).write_text("")
    (tmp_path / "train.py").write_text(SCRIPT.replace("LISTING", LISTINGS[listing]))
    return tmp_path / "train.py"


@pytest.mark.parametrize("listing", sorted(LISTINGS))
def test_a_folder_committed_empty_stands_in_for_its_data_when_the_batch_is_given(tmp_path, monkeypatch, listing):
    script = _repository(tmp_path, listing)
    monkeypatch.chdir(tmp_path)
    result = check(str(script), "-", ["16x32"])
    assert result.error is None, result.error
    assert ("VAE002", 33) in found(result)  # the step's own bug: a mean BCE beside a summed KL
    assert list((tmp_path / "rollouts" / "train").iterdir()) == [tmp_path / "rollouts" / "train" / ".gitkeep"]  # nothing written


def test_without_the_batch_the_check_says_the_folder_holds_only_its_placeholder(tmp_path, monkeypatch):
    script = _repository(tmp_path, "listdir", placeholder=".keep")
    monkeypatch.chdir(tmp_path)
    result = check(str(script), "-", [])
    assert result.error is not None
    message = " ".join(result.error.message.split())
    assert "rollouts/train, which holds only the placeholder" in message and "--input" in message
    assert "A condition on the way was false" not in message


def test_a_folder_that_holds_data_is_listed_as_it_is(tmp_path, monkeypatch):
    # the near miss: one real file beside the placeholder is the data; nothing stands in
    import numpy as np

    script = _repository(tmp_path, "listdir")
    np.save(tmp_path / "rollouts" / "train" / "part0.npy", np.random.rand(64, 32).astype("float32"))
    monkeypatch.chdir(tmp_path)
    result = check(str(script), "-", [])
    assert result.error is None, result.error
    assert ("VAE002", 33) in found(result)
    assert not any("stand" in note and "rollouts" in note for note in result.notes)
