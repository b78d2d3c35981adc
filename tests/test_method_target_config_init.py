"""A ``Class.method`` target whose constructor reads a config object's attributes
(``conf.hidden``), given as ``--init conf={'hidden': 16}``: the dict reads as an object there too,
as a Namespace (it was handed over as a plain dict, so "'dict' object has no attribute"; helper G3,
ZhaolinGao/TD-VAE-CF's VAEmultilayer). A parameter of the method nothing passes is said once, at
its own line (it was "recvae.py:27: recvae.py:29: ...")."""

import re
import textwrap

from helpers import check

SOURCE = """
import torch
from torch import nn
import torch.nn.functional as F


class Recommender(nn.Module):
    def __init__(self, conf, n_items):
        super().__init__()
        self.hidden = conf.hidden
        self.beta = conf.beta
        self.enc = nn.Linear(n_items, 2 * conf.hidden)
        self.dec = nn.Linear(conf.hidden, n_items)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar

    def run_epoch(self, rows, opt, batch_size=32):
        for start in range(0, rows.shape[0], batch_size):
            x = rows[start : start + batch_size]
            logits, mu, logvar = self(x)
            nll = -(F.log_softmax(logits, 1) * x).sum(1).mean()
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
            loss = nll + self.beta * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
"""


def _write(tmp_path):
    path = tmp_path / "recommender.py"
    path.write_text(textwrap.dedent(SOURCE))
    return str(path)


def _given():
    from vaelint.source.literals import parse_init

    return parse_init(["conf={'hidden': 8, 'beta': 0.2}", "n_items=40"])


def test_a_config_dict_given_with_init_reads_as_an_object_in_the_constructor(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check(_write(tmp_path), "Recommender.run_epoch", ["32x40"], init=_given())
    assert result.error is None, result.error.message
    # the data parameter stands in as rows of --input; the optimiser nothing passes is cleared, never stepped
    assert any("the parameter 'rows' of Recommender.run_epoch" in n and "rows of --input 32x40" in n for n in result.notes), result.notes
    assert result.beta_effective == "0.2", result.beta_effective


def test_a_parameter_nothing_passes_is_said_once_at_its_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    said = check(_write(tmp_path), "Recommender.run_epoch", [], init=_given()).error.message
    assert "recommender.py:21: the step uses the parameter 'rows' of Recommender.run_epoch" in said, said
    assert not re.search(r"recommender\.py:\d+: recommender\.py:\d+:", said), said
    assert "give one batch's shape with --input" in said, said
