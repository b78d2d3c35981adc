"""A backward that fails on a tensor the code changed in place is said as the code's failure at
its lines: the write and the earlier read it undoes, with what to write instead (it was torch's
"modified by an inplace operation" with no line, as "the confirmation run failed ... no rule
explains it"; helper E3, xinzuan/MusicVAE's conductor buffer)."""

import textwrap

from helpers import check

FILLED = """
import torch
from torch import nn


class StepFilled(nn.Module):
    def __init__(self, steps=3):
        super().__init__()
        self.steps = steps
        self.enc = nn.Linear(12, 8)
        self.cell = nn.GRUCell(4, 4)
        self.head = nn.Linear(4, 4)
        self.out = nn.Linear(4, 12)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        h = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        plan = torch.zeros(x.size(0), self.steps, 4)
        outs = []
        for t in range(self.steps):
            h = self.cell(h, h)
            plan[:, t] = h
            outs.append(self.out(self.head(plan[:, t])))
        return sum(outs), mu, logvar


def loss_function(recon, x, mu, logvar):
    return ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
"""

SCALED = """
import torch
from torch import nn


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(12, 8)
        self.gain = nn.Parameter(torch.ones(4))
        self.out = nn.Linear(4, 12)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        h = z * 1.0
        g = h * self.gain
        h.add_(1.0)
        return self.out(g + h), mu, logvar


def loss_function(recon, x, mu, logvar):
    return ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
"""


def _said(tmp_path, source, name):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(source))
    result = check(str(path), name, ["6x12"])
    assert result.error is not None and result.error.kind == "loss", result.error
    return result.error.message


def test_a_buffer_filled_and_read_back_in_one_loop_is_said_at_its_write_and_read(tmp_path):
    said = _said(tmp_path, FILLED, "StepFilled")
    assert "model.py:22 writes in place" in said, said
    assert "model.py:23 read earlier" in said and "torch.stack" in said, said
    assert "no rule explains it" not in said


def test_an_in_place_method_on_a_saved_tensor_is_said_at_its_line(tmp_path):
    said = _said(tmp_path, SCALED, "Scaled")
    assert "`add_` at " in said and "model.py:18 writes in place" in said and "`mul` at " in said and "model.py:17 read earlier" in said
    assert "h = h.add(...) where h.add_(...) is" in said, said
