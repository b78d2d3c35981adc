"""A setup line that fails for a reason of its own is not blamed on a package the run lacks: a
missing import is said only where the names it binds are read by what ran before the line (a
plotting helper's einops never called is not), and a module built before its super().__init__() is
said as that (helper E, ashworks1706/llm-from-scratch blamed torchvision; frontends/installadvice.py,
frontends/placeholders.py)."""

from helpers import check

SCRIPT = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from einops_not_installed_here import rearrange
{USE}

def show_grid(imgs):
    return rearrange(imgs, "(r c) h w -> (r h) (c w)", r=4)


class VAE(nn.Module):
    def __init__(self, d=20, z=4):
        {SUPER}
        self.enc = nn.Linear(d, 2 * z)
        self.dec = nn.Linear(z, d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for (x,) in DataLoader(TensorDataset(torch.rand(64, 20)), batch_size=16):
    recon, mu, logvar = model(x)
    loss = F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def _run(tmp_path, monkeypatch, use="", super_call="pass"):
    (tmp_path / "train.py").write_text(SCRIPT.replace("{USE}", use).replace("{SUPER}", super_call))
    monkeypatch.chdir(tmp_path)
    return check(str(tmp_path / "train.py"), "-", [])


def test_a_module_built_before_its_super_init_is_said_as_that_not_as_a_missing_package(tmp_path, monkeypatch):
    for use in ("", "SCALE = rearrange\n"):  # the package's name read before the line, or only in a helper never called
        result = _run(tmp_path, monkeypatch, use=use)
        message = result.error.message
        assert "cannot assign module before Module.__init__() call" in message
        assert "add super().__init__() as the first line of that __init__" in message
        assert "einops_not_installed_here" not in message, message


def test_a_missing_package_whose_name_only_an_uncalled_helper_reads_is_not_blamed(tmp_path, monkeypatch):
    from vaelint.frontends.installadvice import missing_before

    (tmp_path / "a.py").write_text(
        "from einops_not_installed_here import rearrange\n\n\ndef helper(x):\n    return rearrange(x)\n\n\nvalue = compute()\n"
    )
    assert missing_before(str(tmp_path / "a.py"), 8) == ""
    (tmp_path / "b.py").write_text(
        "from einops_not_installed_here import rearrange\n\n\ndef helper(x):\n    return rearrange(x)\n\n\nvalue = helper(1)\n"
    )
    assert "imports 'einops_not_installed_here', which is not installed here" in missing_before(str(tmp_path / "b.py"), 8)


def test_the_same_script_with_its_super_init_checks_clean(tmp_path, monkeypatch):
    result = _run(tmp_path, monkeypatch, super_call="super().__init__()")
    assert result.error is None, result.error.message
    assert result.findings == []
