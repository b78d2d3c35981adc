"""A package's __main__.py (what `python -m PKG` runs) is run as `python -m` runs it: its own folder is
not first on the import path, so a module named like the package inside it (textvae/textvae.py) does not
hide the package (helper-found: altescy/textvae, where every import of textvae.x failed)."""

from helpers import check

MODEL = """
import torch
from torch import nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(24, 8), nn.Linear(4, 24)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        return self.dec(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)), mu, logvar
"""

COMMANDS = """
import torch

from vaepkg.vaepkg import VAE


def main():
    model = VAE()
    for (x,) in torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 24)), batch_size=16):
        recon, mu, logvar = model(x)
        rec = ((recon - x) ** 2).sum() / x.size(0)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
        (rec + 0.1 * kl).backward()
"""


def test_a_packages_main_is_run_as_python_m_runs_it(tmp_path, monkeypatch):
    pkg = tmp_path / "vaepkg"
    (pkg / "commands").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "vaepkg.py").write_text(MODEL)
    (pkg / "commands" / "__init__.py").write_text(COMMANDS)
    (pkg / "__main__.py").write_text('from vaepkg.commands import main\n\nif __name__ == "__main__":\n    main()\n')
    monkeypatch.chdir(tmp_path)
    result = check(str(pkg / "__main__.py"), "-", [])
    assert result.error is None, result.error.message
    assert {f.code for f in result.findings} == {"VAE004"}, [f.message for f in result.findings]  # the 0.1 on the KL
