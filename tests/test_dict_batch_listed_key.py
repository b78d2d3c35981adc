"""A dict batch whose key holds a list of tensors the step reads by its first item
(``x = batch["img"][0]``), checked with one plain ``--input``: the shape given is the tensor the
step takes out, in the code read from its syntax (a loader from a package not installed) and in
the code run (its own data set over a folder that is not there). Before, the given tensor stood
under the key itself, ``[0]`` took its first row, and the model raised at a correct layer: a false
[confirmed] VAE013 on ``nn.Linear(8 * 14 * 14, ...)``."""

from __future__ import annotations

import pytest
from json_cli import check_json

MODEL = """import os

import torch
from torch import nn
import torch.nn.functional as F
LOADER


class ConvVAE(nn.Module):
    def __init__(self, z=8):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 14 * 14, 2 * z))
        self.dec = nn.Linear(z, 784)

    def forward(self, x):
        mu, lv = torch.chunk(self.enc(x), 2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
        return torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28), mu, lv


model = ConvVAE()
opt = torch.optim.Adam(model.parameters())
for batch in BATCHES:
    x = READ.float()
    xh, mu, lv = model(x)
    loss = F.binary_cross_entropy(xh, x, reduction="sum") - 0.5 * torch.REDUCE(1 + lv - mu**2 - lv.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""

ABSENT = ("from dlk_absent_pkg_{n}.loaders import SliceLoader", 'SliceLoader("slices/", batch_size=16)')
OWN = (
    """

class Slices(torch.utils.data.Dataset):
    def __init__(self, root):
        self.root, self.files = root, sorted(os.listdir(root))

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return {"img": [torch.load(os.path.join(self.root, self.files[i]))]}
""",
    'torch.utils.data.DataLoader(Slices("slices/"), batch_size=16)',
)


def _check(tmp_path, loader, read='batch["img"][0]', reduce="sum", name="dlk"):
    source = MODEL.replace("LOADER", loader[0].replace("{n}", name)).replace("BATCHES", loader[1])
    path = tmp_path / f"{name}_train.py"
    path.write_text(source.replace("READ", read).replace("REDUCE", reduce))
    return check_json(str(path), "--input", "16x1x28x28")


@pytest.mark.parametrize("loader", [ABSENT, OWN], ids=["read from the syntax", "run"])
def test_the_given_tensor_is_the_first_item_of_the_keys_list(tmp_path, loader):
    r, result = _check(tmp_path, loader, name=f"dlk_clean_{loader is OWN}")
    assert r.exit_code == 0, r.output
    assert result["findings"] == [], result["findings"]
    rows = {row["name"]: row for row in result["flow"]}
    assert rows["recon"]["shape"] == ["B", "1", "28", "28"], rows["recon"]
    assert rows["kl"]["reduction"] == "sum over B, 8", rows["kl"]
    assert result["skipped"] == [] or all(s["code"] == "VAE012" for s in result["skipped"]), result["skipped"]


@pytest.mark.parametrize("loader", [ABSENT, OWN], ids=["read from the syntax", "run"])
def test_a_real_finding_behind_a_listed_key_is_still_found(tmp_path, loader):
    r, result = _check(tmp_path, loader, reduce="mean", name=f"dlk_buggy_{loader is OWN}")
    assert r.exit_code == 1, r.output
    assert [f["code"] for f in result["findings"]] == ["VAE002"], result["findings"]


def test_the_run_says_where_the_tensor_went(tmp_path):
    r, result = _check(tmp_path, OWN, name="dlk_said")
    assert any("['img'][0] = --input 16x1x28x28" in n for n in result["notes"]), result["notes"]


def test_a_key_read_whole_keeps_the_tensor_there(tmp_path):
    # near miss: batch["img"] is the tensor, sliced (batch["img"][:, :1]): no list is made
    r, result = _check(tmp_path, OWN, read='batch["img"][:, :1]', name="dlk_whole")
    assert r.exit_code == 0, r.output
    assert result["findings"] == [], result["findings"]
