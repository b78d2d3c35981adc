"""A module-level ``loss_function`` that only a star import brings into the model's file (the
project's helper for another model, called nowhere in the file) is no loss of this model: the
forward's own returned loss is read (it was bound, failed, and the check ended with exit 2 naming
``model.py:loss_function``; helper F3, walidjalil/Normflow). Named in the file, it is the loss."""

import textwrap

from helpers import check

HELPERS = """
import torch
import torch.nn.functional as F


def loss_function(mu, log_var, gt_images, reconstructions):
    rec = F.binary_cross_entropy(reconstructions, gt_images, reduction="sum")
    return rec - 0.5 * torch.sum(1 + log_var - mu ** 2 - log_var.exp())


def own_bound(x, recon, mu, log_var):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    return rec - 0.5 * torch.sum(1 + log_var - mu ** 2 - log_var.exp())
"""

MODEL = """
import torch
from torch import nn
from helpers_lib import *


class SelfScoring(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(24, 12)
        self.dec = nn.Sequential(nn.Linear(6, 24), nn.Sigmoid())

    def forward(self, x):
        mu, log_var = self.enc(x).chunk(2, dim=-1)
        recon = self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * log_var))
        return own_bound(x, recon, mu, log_var), recon
"""


def _write(tmp_path, extra=""):
    (tmp_path / "helpers_lib.py").write_text(textwrap.dedent(HELPERS))
    (tmp_path / "model.py").write_text(textwrap.dedent(MODEL) + textwrap.dedent(extra))
    return str(tmp_path / "model.py")


def test_a_star_imported_loss_of_another_model_leaves_the_forwards_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check(_write(tmp_path), "SelfScoring", ["16x24"])
    assert result.error is None, result.error.message
    assert result.loss_name == "the forward's own out[0]", result.loss_name


def test_a_star_imported_loss_the_file_calls_is_its_loss(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    called = """

    def score(model, x):
        loss, recon = model(x)
        return loss_function(*model.enc(x).chunk(2, dim=-1), x, recon)
    """
    result = check(_write(tmp_path, called), "SelfScoring", ["16x24"])
    assert result.loss_name == "model.py:loss_function", result.loss_name
