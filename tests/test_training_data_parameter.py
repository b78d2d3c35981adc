"""A training method checked by name (``wrapper.py:TabVAE.fit``) whose script does not reach it (its
own construction fails) is called by vaelint itself: a parameter nothing passes that the code
uses as its data (``TensorDataset(X)``) stands in as rows of --input, as a data file that is not
here does, and the step is checked; a parameter used otherwise is not made data (helper I,
thiswillbeyourgithub/Beta-Variational-Autoencoder's ReducedBVAE.train_bvae)."""

from helpers import check

WRAPPER = """
import torch
from torch import nn, optim
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class TabVAE(nn.Module):
    def __init__(self, input_dim, z_dim, hidden_dim=32, use_scheduler=True):
        super().__init__()
        self.enc = nn.Linear(input_dim, hidden_dim)
        self.fc_mu, self.fc_logvar = nn.Linear(hidden_dim, z_dim), nn.Linear(hidden_dim, z_dim)
        self.dec = nn.Sequential(nn.Linear(z_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, input_dim), nn.Sigmoid())
        self.optimizer = optim.Adam(self.parameters(), lr=1e-3)
        if use_scheduler:
            self.scheduler = optim.lr_scheduler.StepLR(self.optimizer, 10, no_such_keyword=True)

    def forward(self, x):
        h = torch.relu(self.enc(x))
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar

    def fit(self, X, {EPOCHS}batch_size=16):
        loader = DataLoader(TensorDataset(X), batch_size=batch_size, shuffle=True)
        for _ in range({RANGE}):
            for (xb,) in loader:
                self.optimizer.zero_grad()
                recon, mu, logvar = self(xb)
                bce = F.binary_cross_entropy(recon, xb, reduction="sum")
                kld = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
                (bce + kld).backward()
                self.optimizer.step()
        return self


if __name__ == "__main__":
    X = torch.rand(200, 12)
    TabVAE(input_dim=12, z_dim=2).fit(X)
"""

_INIT = {"input_dim": 12, "z_dim": 2, "use_scheduler": False}


def _wrapper(tmp_path, monkeypatch, epochs="epochs=2, ", range_of="epochs"):
    (tmp_path / "wrapper.py").write_text(WRAPPER.replace("{EPOCHS}", epochs).replace("{RANGE}", range_of))
    monkeypatch.chdir(tmp_path)
    return str(tmp_path / "wrapper.py")


def test_a_data_parameter_nothing_passes_stands_in_as_rows_of_the_input(tmp_path, monkeypatch):
    result = check(_wrapper(tmp_path, monkeypatch), "TabVAE.fit", ["16x12"], init=_INIT)
    assert result.error is None, result.error.message
    said = " ".join(result.notes)
    assert "the parameter 'X' of TabVAE.fit, which nothing passes, is the code's data" in said, result.notes
    assert "rows of --input 16x12's samples" in said
    assert {f.code for f in result.findings} == {"VAE002"}  # the KL averaged over B and Z: the step was checked


def test_without_an_input_the_data_parameter_is_asked_for(tmp_path, monkeypatch):
    result = check(_wrapper(tmp_path, monkeypatch), "TabVAE.fit", [], init=_INIT)
    assert result.error is not None
    assert "stands in as" not in result.error.message


def test_a_parameter_used_otherwise_still_asks_for_its_value(tmp_path, monkeypatch):
    # fit(self, X, epochs, ...): epochs has no default and nothing passes it; it is no data
    result = check(_wrapper(tmp_path, monkeypatch, epochs="epochs, ", range_of="epochs.steps"), "TabVAE.fit", ["16x12"], init=_INIT)
    assert result.error is not None  # not checked: epochs is no data, and nothing gives it
    assert not any("is the code's data" in n for n in result.notes)
    assert "is the code's data" not in result.error.message, result.error.message
