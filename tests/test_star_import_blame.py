"""A NameError raised in a module the training code imports, whose `from M import *` failed: the
star import is the cause, said at its own line (it was blamed on the step's line, 'python stops at
it too'; helper O, axellkir/S3VAE); a repository importing itself by its folder's name is told to
run from the folder above."""

import os
import textwrap

from helpers import check

NETS = """
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(20, 8)

    def forward(self, x):
        return self.net(x).chunk(2, -1)


class Decoder(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(4, 20))
"""

VAE = """
import torch
import torch.nn as nn
from IMPORTED import *


class SeqVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = Encoder(), Decoder()

    def forward(self, x):
        mu, logvar = self.enc(x)
        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp()), mu, logvar
"""

TRAIN = """
import torch
import torch.nn.functional as F
from models.vae import SeqVAE

vae = SeqVAE()
opt = torch.optim.Adam(vae.parameters())
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 20)), batch_size=16)
for (x,) in loader:
    recon, mu, logvar = vae(x)
    loss = F.mse_loss(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def _repo(tmp_path, imported: str):
    root = tmp_path / "seqvae"
    (root / "models").mkdir(parents=True)
    (root / "models" / "nets.py").write_text(textwrap.dedent(NETS))
    (root / "models" / "vae.py").write_text(textwrap.dedent(VAE).replace("IMPORTED", imported))
    (root / "train.py").write_text(textwrap.dedent(TRAIN))
    return root


def test_a_failed_self_package_star_import_is_said_where_it_is(tmp_path, monkeypatch):
    root = _repo(tmp_path, "seqvae.models.nets")
    monkeypatch.chdir(root)
    result = check(str(root / "train.py"), "-", [])
    said = result.error.message if result.error else ""
    assert "models/vae.py:4 imports * from 'seqvae.models.nets'" in said, said
    assert "'Encoder' is not defined" in said and "the folder above" in said and "cd .." in said
    monkeypatch.chdir(tmp_path)  # from the folder above, Python finds the package: checked
    again = check(os.path.join("seqvae", "train.py"), "-", [])
    assert again.error is None, again.error.message


def test_a_star_import_of_a_package_not_here_names_the_package(tmp_path, monkeypatch):
    root = _repo(tmp_path, "notinstalledpkg.layers")
    monkeypatch.chdir(root)
    said = check(str(root / "train.py"), "-", []).error.message
    assert "imports * from 'notinstalledpkg.layers'" in said and "Install the package that provides 'notinstalledpkg'" in said, said


def test_a_name_a_model_target_uses_in_forward_from_a_failed_star_import_is_said_as_it(tmp_path, monkeypatch):
    """``F`` from ``from fastai.vision import *`` (not installed) used in forward: the star import at its line,
    with what to install, not "fix it so the model runs" (Baukebrenninkmeijer/Variational-Autoencoder-Pytorch)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "starforward_vae.py").write_text(
        textwrap.dedent(
            """
            import torch
            import torch.nn as nn
            from notinstalledvision.vision import *


            class VAE(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

                def forward(self, x):
                    mu, logvar = self.enc(x).chunk(2, -1)
                    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                    return F.sigmoid(self.dec(z)), mu, logvar
            """
        )
    )
    said = check(str(tmp_path / "starforward_vae.py"), "VAE", ["8x20"]).error.message
    assert "starforward_vae.py:4 imports * from 'notinstalledvision.vision'" in said and "'F' is not defined" in said, said
    assert "fix it so the model runs" not in said, said
