"""Exit 2 at a data set whose folder is not here says to give the batch with --input, whatever the
loader over it (plain, shuffled, a SubsetRandomSampler's): a loop over the stand-in of the data set
that failed may take a batch after the stop, and the data was not here all the same."""

import pytest
from helpers import check

FOLDER_DATA_SET = """
import os

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, SubsetRandomSampler


class Folder(Dataset):
    def __init__(self, root):
        self.items = [os.path.join(root, f) for f in os.listdir(root)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return torch.load(self.items[i])


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(64, 16), nn.Linear(8, 64)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


dataset = Folder("data/")
loader = DataLoader(dataset, batch_size=16{LOADER})
model = VAE()
for x in loader:
    recon, mu, logvar = model(x)
    loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    loss.backward()
"""


@pytest.mark.parametrize("loader", ["", ", shuffle=True", ", sampler=SubsetRandomSampler(list(range(len(dataset))))"])
def test_a_data_set_whose_folder_is_not_here_says_to_give_the_batch_whatever_its_loader(tmp_path, monkeypatch, loader):
    # a loop over the stand-in of the data set that failed takes a batch after the stop (a plain loader,
    # a sampler's): the data was not here all the same, and --input is what to give (helper-found:
    # stefanknegt/Probabilistic-Unet-Pytorch's LIDC_IDRI lists data/ in __init__)
    (tmp_path / "train.py").write_text(FOLDER_DATA_SET.replace("{LOADER}", loader))
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is not None and "FileNotFoundError" in result.error.message, result.error
    assert "its data is not here: give the batch with --input" in result.error.message, result.error.message
