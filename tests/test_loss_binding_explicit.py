"""A loss parameter named as a forward input less its plural (``length`` beside ``forward(self, x,
lengths)``: Sentence-VAE's loss_fn) takes that input, as the same name does; and a loss the user
names with --loss whose binding by position raised is exit 2, saying the binding tried: before, the
model was checked without it and every loss rule said "not checked" under exit 0."""

import textwrap

from helpers import check

SOURCE = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class TextVAE(nn.Module):
    def __init__(self, vocab=50, hidden=16, latent=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.enc = nn.GRU(hidden, hidden, batch_first=True)
        self.heads = nn.Linear(hidden, 2 * latent)
        self.out = nn.Linear(latent, vocab)

    def forward(self, tokens, lengths):
        _, h = self.enc(self.embed(tokens))
        mean, logv = self.heads(h[-1]).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logv)
        logp = F.log_softmax(self.out(z), dim=-1).unsqueeze(1).expand(-1, tokens.size(1), -1)
        return logp, mean, logv, z


def loss_fn(logp, target, LENGTH, mean, logv):
    target = target[:, : torch.max(LENGTH).item()]
    nll = F.nll_loss(logp[:, : target.size(1)].reshape(-1, logp.size(2)), target.reshape(-1), reduction="sum")
    kl = -0.5 * torch.sum(1 + logv - mean.pow(2) - logv.exp())
    return (nll + kl) / logp.size(0)
"""

INPUTS = ["8x12:int64:50", "8:int64:13"]


def _write(tmp_path, name: str) -> str:
    path = tmp_path / "pluralbind_textvae.py"
    path.write_text(textwrap.dedent(SOURCE).replace("LENGTH", name))
    return str(path)


def test_a_parameter_named_as_a_forward_input_less_its_plural_takes_that_input(tmp_path):
    path = _write(tmp_path, "length")
    result = check(path, "TextVAE", INPUTS, loss=f"{path}:loss_fn")
    assert result.error is None, result.error.message
    assert ("length", "the forward's input lengths") in result.binding, result.binding
    assert not result.skipped, result.skipped


def test_a_loss_given_with_loss_whose_binding_by_position_raised_cannot_be_checked(tmp_path):
    path = _write(tmp_path, "size")  # a name no input or output has: bound by position, to z
    result = check(path, "TextVAE", INPUTS, loss=f"{path}:loss_fn")
    assert result.error is not None and result.error.kind == "loss", (result.error, result.skipped)
    said = result.error.message
    assert "could not be bound from the code alone" in said and "size <- out[3]" in said, said
    assert "slice indices must be integers" in said, said
