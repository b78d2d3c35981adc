"""A lengths input beside padded tokens (``forward(x, lengths)`` packing with pack_padded_sequence): drawn
as other 1-D integers, in [1, HIGH), its longest was shorter than the padded batch, pad_packed_sequence
gave back fewer steps than the tokens had, and the loss got a false VAE013 [confirmed] (helper-found, a
trajectory VAE). An input named for lengths whose HIGH is the padded length is now drawn in [1, HIGH]
with the longest HIGH, longest first (enforce_sorted holds), and said in a note. An input of labels
whose HIGH happens to equal the length is drawn as before."""

from __future__ import annotations

import pytest
from json_cli import check_json

MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class SeqVAE(nn.Module):
    def __init__(self, vocab=50, emb=16, hid=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.enc = nn.GRU(emb, hid, batch_first=True)
        self.mu, self.lv = nn.Linear(hid, hid), nn.Linear(hid, hid)
        self.dec = nn.GRU(emb, hid, batch_first=True)
        self.out = nn.Linear(hid, vocab)

    def forward(self, x, LENGTHS):
        e = self.emb(x)
        _, h = self.enc(pack_padded_sequence(e, LENGTHS.cpu(), batch_first=True, enforce_sorted=SORTED))
        mu, lv = self.mu(h), self.lv(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
        o, _ = self.dec(pack_padded_sequence(e, LENGTHS.cpu(), batch_first=True, enforce_sorted=SORTED), z)
        o, _ = pad_packed_sequence(o, batch_first=True)
        return self.out(o), mu.squeeze(0), lv.squeeze(0)


def loss_function(logits, x, mu, lv):
    rec = F.cross_entropy(logits.transpose(1, 2), x, reduction="sum") / x.size(0)
    return rec - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp()) / x.size(0)
"""


def _model(tmp_path, name="lengths", enforce_sorted="False"):
    path = tmp_path / "seqvae.py"
    path.write_text(MODEL.replace("LENGTHS", name).replace("SORTED", enforce_sorted))
    return path


def _said(result) -> list[str]:
    return [n for n in result["notes"] if "one length per sample" in n]


@pytest.mark.parametrize("enforce_sorted", ["False", "True"])
def test_lengths_are_drawn_to_the_padded_length(tmp_path, enforce_sorted):
    path = _model(tmp_path, enforce_sorted=enforce_sorted)
    r, result = check_json(f"{path}:SeqVAE", "--input", "8x12:int64:50", "--input", "8:int64:12")
    assert r.exit_code == 0, r.output
    assert result["findings"] == [], result["findings"]
    assert _said(result) and "[1, 12]" in _said(result)[0], result["notes"]


def test_an_input_not_named_for_lengths_is_drawn_as_before(tmp_path):
    path = _model(tmp_path, name="steps_given")
    r, result = check_json(f"{path}:SeqVAE", "--input", "8x12:int64:50", "--input", "8:int64:12")
    assert _said(result) == [], result["notes"]


SCRIPT = """import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from seqvae import SeqVAE


def collate(batch):
    n = max(len(s) for s in batch)
    return torch.LongTensor([list(s) + [0] * (n - len(s)) for s in batch]), np.array([len(s) for s in batch])


loader = DataLoader(list(np.load("seqs.npy", allow_pickle=True)), batch_size=8, shuffle=True, collate_fn=collate)
model = SeqVAE()
opt = torch.optim.Adam(model.parameters(), 1e-3)
for x, lengths in loader:
    logits, mu, lv = model(x, lengths)
    rec = F.cross_entropy(logits.transpose(1, 2), x, reduction="sum") / x.size(0)
    loss = rec - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp()) / x.size(0)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_training_runs_lengths_reach_the_step_as_written(tmp_path, monkeypatch):
    _model(tmp_path)
    (tmp_path / "train.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    r, result = check_json("train.py", "--input", "8x12:int64:50", "--input", "8:int64:12")
    assert r.exit_code == 0, r.output
    assert not any("did not reach its step" in n for n in result["notes"]), result["notes"]
    assert _said(result), result["notes"]
