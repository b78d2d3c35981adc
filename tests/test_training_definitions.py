"""A class or function of the code's that Python cannot define (an annotation the installed torch
lacks: ``-> torch.Tuple[...]``): `python` stops at that line too, so the report says so, first,
and what to do is to fix that line. It said "the training step calls no nn.Module that vaelint
can see" and "Make the value a plain constant" (helper-found: keinsam/vae-from-scratch)."""

from __future__ import annotations

import textwrap

from helpers import check

SCRIPT = textwrap.dedent("""
    import torch
    import torch.nn as nn
    from torch.utils.data import DataLoader, TensorDataset


    class VAE(nn.Module):
        def __init__(self, d=64, z=8):
            super().__init__()
            self.enc, self.dec = nn.Linear(d, 2 * z), nn.Linear(z, d)

        def forward(self, x) -> torch.Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            mu, logvar = self.enc(x).chunk(2, 1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.dec(z)), mu, logvar


    def train(model, loader, opt):
        for (x,) in loader:
            out, mu, logvar = model(x)
            loss = ((out - x) ** 2).sum() - 0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()


    model = VAE()
    train(model, DataLoader(TensorDataset(torch.rand(64, 64)), batch_size=16), torch.optim.Adam(model.parameters()))
""")

SAID = "train.py:7 defines the class 'VAE', and Python could not define it (AttributeError: module 'torch' has no attribute 'Tuple')"


def test_a_class_python_cannot_define_is_said_first_in_training_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(SCRIPT)
    result = check("train.py", "-", [])
    assert result.error is not None
    message = result.error.message
    assert SAID in message and "Fix that line" in message, message
    assert "calls no nn.Module" not in message and "plain constant" not in message, message


def test_and_in_a_model_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(SCRIPT)
    result = check("train.py", "VAE", ["4x64"])
    assert result.error is not None and SAID in result.error.message, result.error


def test_a_value_that_fails_at_module_level_keeps_its_advice(tmp_path, monkeypatch):
    # the near miss: a module-level value the class reads (not a definition) keeps the value's advice
    monkeypatch.chdir(tmp_path)
    code = SCRIPT.replace("-> torch.Tuple[torch.Tensor, torch.Tensor, torch.Tensor]", "").replace(
        "class VAE", "LATENT = torch.Latent\n\n\nclass VAE"
    )
    (tmp_path / "train.py").write_text(code.replace("d=64, z=8", "d=64, z=LATENT"))
    result = check("train.py", "VAE", ["4x64"])
    assert result.error is not None
    message = result.error.message
    assert "defines 'LATENT' at module level" in message and "plain constant" in message and "defines the class" not in message, message
