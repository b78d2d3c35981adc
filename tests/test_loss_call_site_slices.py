"""A loss the training code calls with a slice of the batch or of an output (``targets=batch[:, 1:]``,
the next tokens a teacher-forced decoder predicts): checking the model with that loss binds the
parameter as the call writes it. Before, the slice was not read: ``targets`` took the whole input,
and a sequence VAE got a false [confirmed] VAE003 (29*B logits against 30*B targets) with a fix
telling it to change its decoder (helper-found on a SMILES VAE)."""

from __future__ import annotations

import pytest
from json_cli import check_json

from vaelint.capture.binding import as_index, index_text

MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class SeqVAE(nn.Module):
    def __init__(self, vocab=20, emb=16, hid=32, z_dim=8):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.enc = nn.GRU(emb, hid, batch_first=True)
        self.mu = nn.Linear(hid, z_dim)
        self.lv = nn.Linear(hid, z_dim)
        self.z2h = nn.Linear(z_dim, hid)
        self.dec = nn.GRU(emb, hid, batch_first=True)
        self.out = nn.Linear(hid, vocab)

    def forward(self, x):
        _, h = self.enc(self.emb(x))
        mu, lv = self.mu(h[-1]), self.lv(h[-1])
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
        y, _ = self.dec(self.emb(x[:, :-1]), self.z2h(z).unsqueeze(0))
        return self.out(y), mu, lv


def seq_vae_loss(logits, targets, mu, log_var):
    rec = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), REDUCTION)
    kl = torch.mean(torch.sum(-0.5 * (1 + log_var - mu.pow(2) - log_var.exp()), dim=-1))
    return rec + kl


def train(model, loader, opt):
    for batch in loader:
        out = model(batch)
        loss = seq_vae_loss(logits=out[0], targets=batch[:, 1:], mu=out[1], log_var=out[2])
        opt.zero_grad()
        loss.backward()
        opt.step()
"""


@pytest.mark.parametrize(
    ("reduction", "codes"),
    [("reduction='mean'", ["VAE002"]), ("reduction='sum') / logits.size(0", [])],
    ids=["mean over tokens", "summed per sample"],
)
def test_a_slice_of_the_batch_at_the_loss_call_binds_as_written(tmp_path, reduction, codes):
    path = tmp_path / "seqvae.py"
    path.write_text(MODEL.replace("REDUCTION", reduction))
    r, result = check_json(f"{path}:SeqVAE", "--input", "16x30:int64:20", "--loss", f"{path}:seq_vae_loss")
    assert r.exit_code == (1 if codes else 0), r.output
    assert [f["code"] for f in result["findings"]] == codes, result["findings"]
    targets = next(b["source"] for b in result["binding"] if b["parameter"] == "targets")
    assert targets.startswith("the input[:, 1:] (as seqvae.py:"), result["binding"]
    if codes:
        assert "beta_eff = 29 (B=16)" in result["findings"][0]["message"], result["findings"][0]["message"]


def test_an_index_is_held_hashable_and_written_back_as_python_writes_it():
    key = (("slice", None, None, None), ("slice", 1, None, None))
    hash(key)
    assert as_index(key) == (slice(None), slice(1, None))
    assert index_text(key) == ":, 1:"
    assert index_text((Ellipsis, ("slice", None, -1, 2))) == "..., :-1:2"
    assert as_index(0) == 0
