"""A training script that draws its progress with curses (``curses.wrapper(run)``, colours, a
screen it writes the loss to) runs under vaelint with no terminal: its screen draws nothing and
its training is reached. Before: exit 2 'no training step to check: running it stopped at ...:
nocbreak() returned ERR', with the terminal's escape codes in the report."""

from __future__ import annotations

import curses

import pytest
from json_cli import check_json

from vaelint.frontends.training.sandbox import Sandbox

SCRIPT = """import curses

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader


class VAE(nn.Module):
    def __init__(self, z=8):
        super().__init__()
        self.enc = nn.Linear(784, 2 * z)
        self.dec = nn.Linear(z, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, 1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return torch.sigmoid(self.dec(z)), mu, logvar


def run(screen):
    curses.start_color()
    curses.init_pair(1, curses.COLOR_GREEN, curses.COLOR_BLACK)
    curses.curs_set(0)
    height, width = screen.getmaxyx()
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loader = DataLoader(torch.load("digits_flat.pt"), batch_size=16, shuffle=True)
    for step, x in enumerate(loader):
        recon, mu, logvar = model(x)
        loss = (F.binary_cross_entropy(recon, x, reduction=REDUCTION) - 0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp())) / x.size(0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        screen.addstr(0, 0, f"step {step} loss {loss.item():.3f}"[:width], curses.color_pair(1))
        screen.refresh()


if __name__ == "__main__":
    curses.wrapper(run)
"""


@pytest.mark.parametrize(("reduction", "codes"), [('"sum"', []), ('"mean"', ["VAE002"])], ids=["clean", "rec averaged"])
def test_a_curses_dashboard_reaches_the_training_step(tmp_path, reduction, codes):
    path = tmp_path / f"curses_train_{'clean' if not codes else 'mean'}.py"
    path.write_text(SCRIPT.replace("REDUCTION", reduction))
    r, result = check_json(str(path), "--input", "16x784")
    assert r.exit_code == (1 if codes else 0), r.output
    assert [f["code"] for f in result["findings"]] == codes, result["findings"]
    assert "\x1b" not in r.output, r.output  # no terminal escape codes in the report


def test_the_screen_draws_nothing_and_curses_is_itself_after(tmp_path):
    real = curses.wrapper
    seen = []
    with Sandbox(str(tmp_path / "train.py")).active():
        curses.wrapper(lambda screen: seen.append((screen.getmaxyx(), screen.getch(), screen.addstr(0, 0, "x"))))
        curses.start_color()
    assert seen == [((24, 80), -1, None)]
    assert curses.wrapper is real
