"""A dtype error said by where its tensor comes from: one the model's own layers computed (an
activation handed to an nn.Embedding) is the model's to mend, and no --input dtype is advised;
one read from the input gets the --input dtype to give. Before, the advice went back and forth:
":int64" for the embedding, then "float32" for the LSTM that reads the input (helper-found:
kaletap/vae-text)."""

from __future__ import annotations

from helpers import check

MODEL = """
import torch
import torch.nn as nn


class SeqVAE(nn.Module):
    def __init__(self, features=6, hidden=16, latent=4, tokens=30):
        super().__init__()
        self.enc = nn.LSTM(features, hidden)
        self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.to_tokens = nn.Linear(latent, 5)
        self.embed = nn.Embedding(tokens, 8)
        self.out = nn.Linear(8, features)

    def forward(self, x):
        _, (h, _) = self.enc(x)
        mu, logvar = self.mu(h[-1]), self.logvar(h[-1])
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        e = self.embed(TOKENS)
        return self.out(e).mean(1), mu, logvar
"""


def test_an_activation_handed_to_an_embedding_is_the_models_to_mend(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL.replace("TOKENS", "self.to_tokens(z)"))
    result = check(str(path), "SeqVAE", ["5x4x6"])
    assert result.error is not None
    message = " ".join(result.error.message.split())
    assert "computed by the model's own layers (made at" in message and "no input dtype changes it" in message
    assert "--input 5x4x6:int64" not in message


def test_a_dtype_the_input_gives_is_asked_of_the_input(tmp_path):
    # the near miss: the LSTM that reads the input given int64 ids: the input's dtype to change
    path = tmp_path / "model.py"
    path.write_text(MODEL.replace("TOKENS", "(z.abs() * 10).long()"))
    result = check(str(path), "SeqVAE", ["5x4x6:int64:30"])
    assert result.error is not None
    message = " ".join(result.error.message.split())
    assert "Give --input the dtype the model expects" in message
    assert "computed by the model's own layers" not in message
