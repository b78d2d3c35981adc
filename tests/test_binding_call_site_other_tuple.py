"""A call site of the loss inside a wrapper, handed an item of another function's tuple
(``z, outs = self.features(x)`` then ``self.vae.compute_loss(forward_outputs=outs, ...)``): the
path it names (``out[1]``) is none the forward's dict has, so the call site does not bind that
parameter; the loss reads it as the forward's record (through ``out = forward_outputs``), so it is
the whole output. Before, ``out[1]`` was taken from the call site and the check ended in
'KeyError: 1 ... fix it so the model runs' on a model that runs."""

from __future__ import annotations

from json_cli import check_json

MODEL = """import torch
import torch.nn as nn


class DictVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(10, 8)
        self.dec = nn.Linear(4, 10)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return {"z": z, "recon": self.dec(z), "mu": mu, "logvar": logvar}

    def compute_loss(self, forward_outputs, x):
        out = forward_outputs
        rec = ((out["recon"] - x) ** 2).sum(-1).mean()
        kl = -0.5 * (1 + out["logvar"] - out["mu"] ** 2 - out["logvar"].exp()).sum(-1).mean()
        return rec + kl


class Wrapper(nn.Module):
    def __init__(self):
        super().__init__()
        self.vae = DictVAE()
        self.head = nn.Linear(4, 3)

    def features(self, x):
        outs = self.vae(x)
        return outs["z"], outs

    def compute_loss(self, x, labels):
        z, vae_outs = self.features(x)
        return nn.functional.cross_entropy(self.head(z), labels) + self.vae.compute_loss(forward_outputs=vae_outs, x=x)
"""


def test_a_call_site_path_the_forward_has_not_binds_nothing(tmp_path):
    path = tmp_path / "bcs_model.py"
    path.write_text(MODEL)
    r, result = check_json(f"{path}:DictVAE", "--input", "8x10")
    assert result["error"] is None, result["error"]
    assert ("forward_outputs", "the forward's whole output") in [(b["parameter"], b["source"]) for b in result["binding"]], r.output
    assert result["beta_effective"], r.output
