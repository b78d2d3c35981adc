"""Index loops whose batch is written into the model's call (``model(data[i : i + 32])``): no
variable holds it, and the check stopped with "no variable of the code holds the batch" (issue "Any
training code, found by running it": index loops). The slice is the step's batch, named where it
is written; the loss's own copy of it reads the same batch."""

from __future__ import annotations

import pytest
from helpers import check

INDEX_LOOP = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(64, 16), nn.Linear(8, 64)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, 1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar


def main():
    data = torch.rand(256, 64)
    model = VAE()
    opt = torch.optim.Adam(model.parameters())
    for epoch in range(3):
        for i in range(0, len(data), 32):
            recon, mu, logvar = model({batch})
            rec = F.binary_cross_entropy(recon, {batch}, reduction="{reduction}")
            loss = rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            opt.zero_grad()
            loss.backward()
            opt.step()


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("batch", ["data[i : i + 32]", "data[i : i + 32, :]"])
def test_a_slice_written_into_the_models_call_is_the_steps_batch(tmp_path, monkeypatch, batch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(INDEX_LOOP.format(batch=batch, reduction="sum"))
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None and result.findings == [], (result.error, result.findings)
    # the near miss: the reconstruction averaged, the KL summed: VAE002, read through the named slice
    (tmp_path / "train.py").write_text(INDEX_LOOP.format(batch=batch, reduction="mean"))
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None and [f.code for f in result.findings] == ["VAE002"], (result.error, result.findings)
    assert "beta_eff = B*D" in result.findings[0].message, result.findings[0].message


VIEWED = INDEX_LOOP.replace("data = torch.rand(256, 64)", "data = torch.rand(256, 64, 1)").replace(
    "        for i in range(0, len(data), 32):\n            recon, mu, logvar = model({batch})\n            rec = F.binary_cross_entropy(recon, {batch}, ",
    "        for i in range(0, len(data), 32):\n            x = data[i : i + 32]\n            recon, mu, logvar = model({batch})\n"
    "            rec = F.binary_cross_entropy(recon, {batch}, ",
)


@pytest.mark.parametrize("batch", ["x.squeeze(-1)", "x.view(x.size(0), -1)"])
def test_a_view_of_the_batch_variable_handed_to_the_model_is_the_steps_batch(tmp_path, monkeypatch, batch):
    # x = data[i : i + 32] (B x 64 x 1, a UCR series with its channel), the model given x.squeeze(-1):
    # no variable held the model's input itself: "no variable of the code holds the batch" (helper X)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(VIEWED.format(batch=batch, reduction="mean"))
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None and [f.code for f in result.findings] == ["VAE002"], (result.error, result.findings)


SIMULATED = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, d=20, z=2):
        super().__init__()
        self.enc, self.dec = nn.Linear(d, 2 * z), nn.Linear(z, d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, 1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


# the data: a latent drawn at random, through a random network of its own (a "teacher")
teacher = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 20))
z_true = torch.randn(400, 2)
x = teacher(z_true)
x_train = x.reshape(8, -1, 20)

model = VAE()
opt = torch.optim.Adam(model.parameters())
for b in range(8):
    xb = x_train[b]
    recon, mu, logvar = model(xb)
    loss = F.mse_loss(recon, xb) - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward(retain_graph=True)
    opt.step()
"""


def test_a_network_that_only_made_the_data_is_not_the_steps_model(tmp_path, monkeypatch):
    # data simulated through a random network in the setup, pre-chunked and indexed in the loop: the
    # first model call (the teacher's) was taken for the step's model, its input z_true (400 x 2) for
    # the batch, and the VAE never entered the graph: "no findings", 9 rules unchecked (helper-found:
    # wei-bbc-lab/pi-vae-pytorch). The model an optimiser holds is the step's
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(SIMULATED)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None and [f.code for f in result.findings] == ["VAE002"], (result.error, result.findings)
    assert "beta_eff = B*D" in result.findings[0].message, result.findings[0].message


def test_tensors_cut_beside_the_models_inputs_by_the_same_index_are_the_batch(monkeypatch):
    """``src, prev, targets = source[rows], shifted[rows], following[rows]``: the model is given
    src and prev; targets, cut by the same index, is an item of the batch too (resized with it), so
    ``/ targets.size(0)`` is the batch's own size, not the 40 written down (a false VAE005)."""
    import os

    from helpers import found

    folder = os.path.join(os.path.dirname(__file__), "..", "fixtures", "training")
    monkeypatch.chdir(folder)
    clean = check(os.path.join(folder, "parallel_tensors_cut_by_one_index.py"), "-", [])
    assert clean.error is None and not clean.findings, [f.message for f in clean.findings]
    assert [row.name for row in clean.flow if row.stage == "input"] == ["src", "prev", "targets"]
    buggy = check(os.path.join(folder, "parallel_tensors_nll_over_written_batch.py"), "-", [])
    assert found(buggy) == {("VAE005", 40)}, [f.message for f in buggy.findings]
