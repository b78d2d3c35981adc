"""A name the code takes from ``from PKG import *`` of a package that is not installed (fastai's
``from fastai.vision.all import *`` then ``untar_data(...)``): the NameError says where the name
would come from and what to do (helper F, EtienneT/vae); another NameError stays as it is."""

from helpers import check

SCRIPT = """
import torch
import torch.nn as nn
from {MODULE} import *

path = {NAME}("data")


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters())
for x in torch.load(path):
    recon, mu, logvar = model(x)
    loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_name_from_a_star_import_of_a_missing_package_says_where_it_comes_from(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT.replace("{MODULE}", "fastai_not_installed_here.vision.all").replace("{NAME}", "untar_data"))
    monkeypatch.chdir(tmp_path)
    message = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "NameError: name 'untar_data' is not defined" in message, message
    assert "'untar_data' would come from `from fastai_not_installed_here.vision.all import *` at train.py:4" in message, message
    assert "fastai_not_installed_here is not installed here: install it, or give the batch with --input" in message


def test_a_name_no_star_import_could_give_is_a_plain_name_error(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT.replace("{MODULE}", "math").replace("{NAME}", "untar_data"))
    monkeypatch.chdir(tmp_path)
    message = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "NameError: name 'untar_data' is not defined" in message, message
    assert "would come from" not in message
