"""A training loop whose batches are NumPy arrays (``for xb in make_batches(episodes, 16): x =
torch.from_numpy(xb).float() / 255``) that the run cannot make (here a package not installed; in
World Models code, episodes in a layout the stand-in file cannot have): the batch vaelint gives in
their place, of --input's shape, is a tensor, and ``torch.from_numpy`` takes it as the array it
stands for. Before, the check ended in exit 2 'TypeError: expected np.ndarray (got Tensor) ... fix
it so the model runs', blaming the user's code for vaelint's own stand-in. A tensor the code made
itself still fails there, as in a run of the code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from json_cli import check_json

from vaelint.frontends.training.sandbox import Sandbox
from vaelint.inputs import parse_input_spec

SCRIPT = """import npb_absent_rollouts
import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, z=8):
        super().__init__()
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2 * z))
        self.dec = nn.Linear(z, 3 * 16 * 16)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp())).sum(1).mean()
        return torch.sigmoid(self.dec(z)).view_as(x), kl


model = VAE()
opt = torch.optim.Adam(model.parameters(), 1e-3)
for epoch in range(2):
    for xb in npb_absent_rollouts.batches("rollouts/", 16):
        x = torch.from_numpy(xb).float() / 255
        recon, kl = model(x)
        loss = REC + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
"""


@pytest.mark.parametrize(
    ("rec", "codes"),
    [("nn.functional.mse_loss(recon, x)", ["VAE002"]), ("nn.functional.mse_loss(recon, x, reduction='sum') / x.size(0)", [])],
    ids=["mean over pixels", "summed per sample"],
)
def test_a_numpy_batch_stood_in_for_reaches_the_loss(tmp_path, rec, codes):
    path = tmp_path / f"npb_{'clean' if not codes else 'buggy'}.py"
    path.write_text(SCRIPT.replace("REC", rec))
    r, result = check_json(str(path), "--input", "16x3x16x16")
    assert r.exit_code == (1 if codes else 0), r.output
    assert [f["code"] for f in result["findings"]] == codes, result["findings"]
    assert not [s for s in result["skipped"] if s["code"] == "VAE002"], result["skipped"]


def test_from_numpy_takes_vaelints_batch_and_refuses_any_other_tensor(tmp_path):
    made = parse_input_spec("4x3").make(4)
    with Sandbox(str(tmp_path / "train.py")).active():
        assert torch.from_numpy(made) is made
        assert torch.from_numpy(np.zeros(3)).shape == (3,)
        with pytest.raises(TypeError):
            torch.from_numpy(torch.zeros(3))  # the code's own tensor: its own run fails here too
    with pytest.raises(TypeError):
        torch.from_numpy(made)  # outside the sandbox, torch's own
