"""VAE006 on sequence-first data holding several segments a sample (bars of a song, sentences of a
document): ``(T, B, K, E) -> (T, B*K, E)`` keeps time in front and merges the batch with whole dims
after it, so each merged row is one sample's segment: clean (helper-found: YatingMusic/MuseMorphose,
a false "[unconfirmed]" VAE006). The near miss, the same tensor made rows with time inside them
(``.reshape(-1, E)`` of ``(B, K, T, E)`` moved time-first), still mixes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class BarVAE(nn.Module):
    def __init__(self, vocab=40, emb=16, latent=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.enc = nn.GRU(emb, emb)
        self.mu, self.logvar = nn.Linear(emb, latent), nn.Linear(emb, latent)
        self.dec = nn.Linear(latent, vocab)

    def forward(self, x):
        T, B, K = x.shape
        e = self.emb(x)
        e = {merge}
        _, h = self.enc(e)
        mu, logvar = self.mu(h[-1]), self.logvar(h[-1])
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z).reshape(B, K, -1), mu, logvar

    def loss_function(self, logits, x, mu, logvar):
        rec = F.cross_entropy(logits.reshape(-1, logits.size(-1)), x[0].reshape(-1), reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (rec + kl) / x.size(1)
"""


@pytest.mark.parametrize(
    "merge, mixes",
    [
        ("e.reshape(T, B * K, e.size(-1))", False),  # each (sample, bar) its own sequence
        ("e.permute(1, 2, 0, 3).reshape(T, B * K, e.size(-1))", True),  # B x K x T x E read as T rows of B*K: samples meet
    ],
)
def test_segments_merged_behind_time(tmp_path, monkeypatch, merge, mixes):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(MODEL.format(merge=merge))
    r = runner.invoke(app, ["check", "model.py:BarVAE", "--input", "10x5x3:int64:40", "--batch-dim", "1", "--format", "json", "--no-cache"])
    (result,) = json.loads(r.output)["results"]
    assert result["error"] is None, result["error"]
    assert ("VAE006" in [f["code"] for f in result["findings"]]) is mixes, result["findings"]
