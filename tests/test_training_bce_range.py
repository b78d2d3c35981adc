"""Data the code standardises itself ((x - mean) / std, a StandardScaler) fed to binary cross-entropy
as its target: the step fails as written, on the real data too; the message says why and what to
write, as it does for a torchvision data set's Normalize (helper I, tabular anomaly-detection VAEs)."""

from helpers import check

SCRIPT = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

raw = torch.rand(256, 12) * 50 + 10
X = (raw - raw.mean(0)) / raw.std(0)  # standardised: about [-2, 2]


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(12, 8), nn.Linear(4, 12)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters())
for (x,) in DataLoader(TensorDataset({DATA}), batch_size=32):
    recon, mu, logvar = model(x)
    loss = F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_standardised_data_as_a_bce_target_is_explained(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT.replace("{DATA}", "X"))
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    message = result.error.message
    assert "all elements of target should be between 0 and 1" in message
    assert "Binary cross-entropy needs its target in [0, 1]" in message and "MinMaxScaler" in message, message


def test_data_in_range_is_checked(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT.replace("{DATA}", "(X - X.min()) / (X.max() - X.min())"))
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None, result.error.message


SWAPPED = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(784, 8), nn.Linear(4, 784)

    def forward(self, x):
        mu, logvar = self.enc(x.flatten(1)).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28), mu, logvar


def loss_of(images, recon, mu, logvar):
    return F.binary_cross_entropy(recon, images, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


prepare = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
model = VAE()
opt = torch.optim.Adam(model.parameters())
for images, _ in DataLoader(datasets.MNIST("data", download=True, transform=prepare), batch_size=16):
    recon, mu, logvar = model(images)
    loss = loss_of(recon, images, mu, logvar)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_normalised_data_handed_first_to_the_bce_says_swap_them(tmp_path, monkeypatch):
    # the loss helper takes (images, recon) and is called (recon, images): the Normalize'd images in
    # [-1, 1] reach binary_cross_entropy's input, and torch's bare error was all that was said (helper U)
    (tmp_path / "train.py").write_text(SWAPPED)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    message = " ".join(result.error.message.split())
    assert "all elements of input should be between 0 and 1" in message, message
    assert "The data comes from the data set's Normalize" in message and "swap them" in message, message
