"""A tiny VAE checked once in the parent process before its workers fork, so that
each worker starts with torch's kernels and vaelint's code paths warm."""

from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class _TinyVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(8, 4)
        self.dec = nn.Linear(2, 8)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def _loss(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    return rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def tiny_check() -> None:
    """Check the tiny VAE of this file (its result is thrown away)."""
    from vaelint.analyze import Options, analyse
    from vaelint.inputs import parse_input_spec

    here = os.path.abspath(__file__)
    analyse(f"{here}:_TinyVAE", Options(inputs=[parse_input_spec("3x8")], loss=f"{here}:_loss", timeout=None))
