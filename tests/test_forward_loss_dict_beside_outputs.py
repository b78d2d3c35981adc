"""A forward that returns its loss in a dict beside its other outputs (scVI's ``return inference,
generative, {"loss": ..., "rec": ..., "kl": ...}``): vaelint read only a dict returned alone, said
"no loss found", skipped seven rules and exited 0 (helper-found, a single-cell VAE). Now the loss is read
at its place (out[2]["loss"]) and the loss rules run on it: a mismatched reduction there is VAE002. A dict
beside the outputs that holds no loss is still no loss."""

from __future__ import annotations

from json_cli import check_json

MODEL = """import torch
import torch.nn as nn
from torch.distributions import Normal, kl_divergence


class MiniVAE(nn.Module):
    def __init__(self, d=50, z=6):
        super().__init__()
        self.enc = nn.Linear(d, 2 * z)
        self.dec = nn.Linear(z, d)

    def inference(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        z = Normal(mu, (0.5 * logvar).exp()).rsample()
        return dict(z=z, mu=mu, logvar=logvar)

    def generative(self, z):
        return dict(recon=self.dec(z))

    def forward(self, x):
        inf = self.inference(x)
        gen = self.generative(inf["z"])
        kl = kl_divergence(Normal(inf["mu"], (0.5 * inf["logvar"]).exp()), Normal(0.0, 1.0)).sum(1)
        rec = ((gen["recon"] - x) ** 2).sum(1)
        return inf, gen, {LOSSES}
"""


def _model(tmp_path, losses):
    path = tmp_path / "scvi_like.py"
    path.write_text(MODEL.replace("LOSSES", losses))
    return path


def _skipped(result) -> list[str]:
    return [s["code"] for s in result["skipped"]]


def test_the_loss_in_a_dict_beside_the_outputs_is_read_and_checked(tmp_path):
    path = _model(tmp_path, '"loss": (rec + kl).mean(), "rec": rec.mean(), "kl": kl.mean()')
    r, result = check_json(f"{path}:MiniVAE", "--input", "16x50")
    assert r.exit_code == 0, r.output
    assert result["findings"] == [], result["findings"]
    assert "out[2]['loss']" in (result["loss"] or ""), result["loss"]
    assert not {"VAE002", "VAE004", "VAE007"} & set(_skipped(result)), result["skipped"]


def test_a_mismatched_reduction_there_is_VAE002(tmp_path):
    path = _model(tmp_path, '"loss": rec.mean() / 50 + kl.sum()')
    r, result = check_json(f"{path}:MiniVAE", "--input", "16x50")
    assert r.exit_code == 1, r.output
    assert "VAE002" in [f["code"] for f in result["findings"]], result["findings"]


def test_a_dict_beside_the_outputs_without_a_loss_is_no_loss(tmp_path):
    path = _model(tmp_path, '"rec_per_sample": rec, "kl_per_sample": kl')
    r, result = check_json(f"{path}:MiniVAE", "--input", "16x50")
    assert r.exit_code == 0, r.output
    assert "VAE002" in _skipped(result), result["skipped"]
