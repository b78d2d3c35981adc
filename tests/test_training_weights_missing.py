"""A run that stops loading weights before any batch (``AutoencoderKL.from_pretrained(args.weights)``
with the path left at its default: an OSError from the library) says the weights are what is
missing, not its data: --input would not bring them (helper-found: a fine-tuning script of an
AutoencoderKL was told "its data is not here: give the batch with --input"). A missing
``torch.load`` checkpoint already leaves the weights as built, noted (tests elsewhere)."""

from __future__ import annotations

import pytest
from helpers import check
from training_cli import write_script

_LIBRARY = [
    "import argparse, os",
    "import torch",
    "from vae_common import VAE, elbo",
    "def _read(path):  # as a hub library's loader reads a folder",
    "    if path is None or not os.path.isdir(path):",
    "        raise OSError(f'{path} does not appear to have a file named config.json.')",
    "class Pretrained(VAE):",
    "    @classmethod",
    "    def from_pretrained(cls, path):",
    "        _read(path)",
    "        return cls()",
    "def read_table(path):",
    "    _read(path)",
    "parser = argparse.ArgumentParser()",
    "parser.add_argument('--weights', default=None)",
    "args = parser.parse_args()",
]


@pytest.mark.parametrize(
    "load, weights",
    [
        ("model = Pretrained.from_pretrained(args.weights)", True),
        ("model = VAE() if read_table('data/table') is None else None", False),  # the near miss: its data, not weights
    ],
    ids=["from_pretrained", "data-reader"],
)
def test_weights_that_are_not_here_are_said_as_weights(tmp_path, monkeypatch, load, weights):
    write_script(
        tmp_path,
        *_LIBRARY,
        load,
        "opt = torch.optim.Adam(model.parameters())",
        "for step in range(2):",  # a fine-tuning loop on batches it makes
        "    x = torch.rand(4, 784)",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    )
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", [])
    assert result.error is not None, result.findings
    message = result.error.message
    assert ("the weights it loads with from_pretrained(...) are not here" in message) is weights, message
    assert ("its data is not here" in message) is not weights, message
