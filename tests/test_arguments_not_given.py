"""A forward that takes parameters no --input gives (``forward(self, x, max_len, device)``) fails
with a TypeError that quotes the parameter names: the word 'device' in it is no device error, and
the message says which parameters were missing and what to do, never the CUDA hint
(helper-found: maximus12793/MiniGPT's text VAE)."""

from __future__ import annotations

from typer.testing import CliRunner

from vaelint.cli import app
from vaelint.errorkinds import arguments_hint, kind_of
from vaelint.vocab import ErrorKind

runner = CliRunner()

MODEL = """import torch
import torch.nn as nn


class TextVAE(nn.Module):
    def __init__(self, vocab=50, z=8):
        super().__init__()
        self.emb, self.enc, self.dec = nn.Embedding(vocab, 16), nn.Linear(16, 2 * z), nn.Linear(z, vocab)

    def forward(self, x, max_len, device):
        mu, logvar = self.enc(self.emb(x).mean(1)).chunk(2, dim=1)
        z = mu + torch.randn(mu.shape, device=device) * torch.exp(0.5 * logvar)
        return self.dec(z).unsqueeze(1).expand(-1, max_len, -1), mu, logvar
"""


def test_missing_parameters_are_said_by_name_and_no_cuda_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(MODEL)
    r = runner.invoke(app, ["check", "model.py:TextVAE", "--input", "8x12:int64:50", "--no-cache"])
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "TextVAE.forward takes parameters the check did not give ('max_len', 'device')" in text, r.output
    assert "CUDA" not in text and "vaelint check train.py" in text


def test_a_call_error_is_no_device_error_but_a_device_error_still_is():
    missing = TypeError("TextVAE.forward() missing 2 required positional arguments: 'max_len' and 'device'")
    assert kind_of(missing) is ErrorKind.OTHER and "('max_len', 'device')" in arguments_hint(missing)
    moved = RuntimeError("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!")
    assert kind_of(moved) is ErrorKind.DEVICE and arguments_hint(moved) == ""
    assert kind_of(TypeError("linear(): argument 'input' (position 1) must be Tensor, not str on device")) is ErrorKind.DEVICE
