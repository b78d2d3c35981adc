"""Training code that prompts at a terminal. A value typed in and used (``float(input("KL weight: "))``)
stops the check there, said with its prompt and line (it was blamed on the line that read the value's
dict later, "KeyError: 'weight'", with advice to give --script-args that were given). A pause whose
answer is unread (``input("Press Enter to start")``) goes on, as a user's Enter would."""

import textwrap

from helpers import check

SCRIPT = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(40, 2 * 4), nn.Linear(4, 40)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


def train(settings):
    model = VAE()
    opt = torch.optim.Adam(model.parameters())
    for (x,) in DataLoader(TensorDataset(torch.randn(64, 40)), batch_size=8):
        recon, mu, logvar = model(x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
        loss = F.mse_loss(recon, x, reduction="sum") / x.size(0) + settings["weight"] * kl
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    settings = {}
    PROMPT
    train(settings)
"""


def _write(tmp_path, prompt: str) -> str:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(SCRIPT).replace("PROMPT", prompt))
    return str(path)


def test_a_value_typed_at_a_prompt_is_said_with_its_prompt(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check(_write(tmp_path, 'settings["weight"] = float(input("KL weight: "))'), "-", [])
    assert result.error is not None, [f.code for f in result.findings]
    said = result.error.message
    assert "asks for input('KL weight: ') at train.py:32" in said and "runs without a terminal" in said, said
    assert "KeyError" not in said, said


def test_a_pause_whose_answer_is_unread_goes_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check(_write(tmp_path, 'input("Press Enter to start")\n    settings["weight"] = 1.0'), "-", [])
    assert result.error is None, result.error.message
    assert result.beta_effective == "1", result.beta_effective
