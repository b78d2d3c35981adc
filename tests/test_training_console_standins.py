"""Console packages (a console logger, coloured text) a script imports and this machine lacks stand
in as text passed through: the run reaches the step, nothing is written, and the report names them
(helper-found: loguru and colorful stopped checks of music and sketch VAEs)."""

import importlib.util

import pytest
from helpers import check

SCRIPT = """
import torch
import torch.nn as nn
from loguru import logger
from termcolor import colored
from colorama import Fore, Style
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


@logger.catch
def main():
    logger.add("train.log", level="INFO")
    model = VAE()
    opt = torch.optim.Adam(model.parameters())
    for (x,) in DataLoader(TensorDataset(torch.rand(64, 20)), batch_size=16):
        recon, mu, logvar = model(x)
        loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        logger.info(colored(f"loss {loss.item():.3f}", "green") + Fore.RESET + Style.RESET_ALL)
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
"""


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is not None for m in ("loguru", "termcolor", "colorama")), reason="a console package is installed here"
)
def test_console_packages_not_installed_stand_in_as_text_and_the_step_is_checked(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is None and result.findings == [], (result.error, result.findings)
    for package in ("loguru", "termcolor", "colorama"):
        assert any(f"{package} is not installed; it stands in as plain text" in n for n in result.notes), result.notes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.py"]  # the decorated main ran; no log file written


def test_console_text_gives_back_what_it_is_given():
    from vaelint.frontends.standinconsole import ConsoleText

    styled = ConsoleText()
    assert styled.red("epoch 3") == "epoch 3" and f"{styled.Fore.RED}x" == "x"
    assert styled.catch(len) is len and isinstance(styled.info("msg"), str)
