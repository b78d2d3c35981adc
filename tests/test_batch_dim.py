"""Where the batch is (issue 32, item 4): the dim the data's batch size sets, not dim 0 by
assumption. A sequence-first RNN's input has it at dim 1 as the code shows; a loader's
collate function that stacks along dim 1 says it by its batch size; ``--batch-dim N`` (and
``batch-dim`` in ``[tool.vaelint]``) says it where the code cannot."""

from __future__ import annotations

import json
import os

import pytest
import torch
from conftest import FIXTURES
from json_cli import check_json as _result
from json_cli import flow_shape as _shape
from typer.testing import CliRunner

from vaelint.cli import app
from vaelint.inputs import parse_input_spec

runner = CliRunner()
CLEAN = os.path.join(FIXTURES, "clean", "sequence_first_lstm_vae.py") + ":LSTMVAE"
BUGGY = os.path.join(FIXTURES, "buggy", "sequence_first_kl_by_length.py") + ":SentenceVAE"


def test_a_spec_is_made_and_resized_along_its_batch_dim():
    spec = parse_input_spec("12x8x5").with_batch_dim(1)
    assert spec.batch == 8 and spec.sample_shape == (12, 5) and spec.sized(3) == (12, 3, 5)
    assert spec.make(3).shape == (12, 3, 5)
    # a spec read off a tensor the code made repeats the code's own samples along that dim
    real = torch.arange(12 * 2 * 1.0).view(12, 2, 1)
    made = parse_input_spec("12x2x1").with_batch_dim(1)
    made = type(made)(made.shape, real=real, batch_dim=1)
    grown = made.make(4)
    assert grown.shape == (12, 4, 1) and torch.equal(grown[:, 2], real[:, 0]) and torch.equal(grown[:, 3], real[:, 1])
    # labels or lengths beside (T, B, F) sequences keep their batch at dim 0
    assert parse_input_spec("8:int64:10").with_batch_dim(1).batch_dim == 0


def test_a_sequence_first_rnns_input_has_its_batch_at_dim_1_as_the_code_shows():
    r, result = _result(CLEAN, "--input", "12x8x5")
    assert r.exit_code == 0, r.output
    assert _shape(result, "x") == "12 x B x 5" and _shape(result, "mu") == "B x Z", result["flow"]
    note = next(n for n in result["notes"] if "the batch is dim 1" in n)
    assert "nn.LSTM (encoder)" in note and "--batch-dim 0" in note, note


def test_batch_dim_0_said_on_the_command_line_is_taken_as_said():
    # the user's word over what the code shows: the sequence length is then read as B, and the
    # loss's division by x.size(1) is a constant factor on both terms alike: the ELBO scaled,
    # beta_eff 1, no VAE004 (one beta_eff: the reconstruction's weight counts as the KL's does)
    r, result = _result(CLEAN, "--input", "12x8x5", "--batch-dim", "0")
    assert r.exit_code == 0, r.output
    assert _shape(result, "x") == "B x 8 x 5"
    assert result["findings"] == [] and result["beta_effective"] == "1"
    assert not any("the batch is dim 1" in n for n in result["notes"])


def test_a_loss_divided_by_the_sequence_length_is_found_with_the_batch_dim_given():
    r, result = _result(BUGGY, "--input", "15x8:int64:100", "--batch-dim", "1")
    assert r.exit_code == 1, r.output
    assert {f["code"] for f in result["findings"]} == {"VAE002", "VAE004"}
    vae002 = next(f for f in result["findings"] if f["code"] == "VAE002")
    # the fix names the batch as the code reads it: dim 1
    assert "x.size(1)" in vae002["fix"] and "x.size(0)" not in vae002["fix"], vae002["fix"]


def test_batch_mixing_perturbs_one_sample_along_the_batch_dim():
    # VAE006 changes sample 0 along dim 1 and watches where the change goes: no note that it
    # could not run (it raised on a (T, B, F) input before)
    r, result = _result(CLEAN, "--input", "12x8x5", "--batch-dim", "1")
    assert r.exit_code == 0, r.output
    assert not any("could not check" in n for n in result["notes"]), result["notes"]


def test_a_collate_function_that_stacks_along_dim_1_sets_the_batch_dim(monkeypatch):
    folder = os.path.join(FIXTURES, "training", "running")
    monkeypatch.chdir(folder)
    r, result = _result("sequence_first.py")
    assert r.exit_code == 0, r.output
    assert _shape(result, "x") == "20 x B x 5", result["flow"]


@pytest.mark.parametrize("value, says", [("-1", "counted from 0"), ("x", "")])
def test_a_bad_batch_dim_is_a_usage_error(value, says):
    r = runner.invoke(app, ["check", CLEAN, "--input", "12x8x5", "--batch-dim", value])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert says in r.output


def test_batch_dim_in_the_configuration(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.vaelint]\n[[tool.vaelint.targets]]\ntarget = "{CLEAN.replace(os.sep, "/")}"\ninput = ["12x8x5"]\nbatch-dim = 0\n'
    )
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["check", "--format", "json", "--no-cache"])
    assert "Traceback" not in r.output, r.output
    result = json.loads(r.output)["results"][0]
    assert _shape(result, "x") == "B x 8 x 5", result["flow"]
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.vaelint]\n[[tool.vaelint.targets]]\ntarget = "{CLEAN.replace(os.sep, "/")}"\ninput = ["12x8x5"]\nbatch-dim = "one"\n'
    )
    r = runner.invoke(app, ["check", "--no-cache"])
    assert r.exit_code == 2 and "batch-dim" in r.output, r.output


def test_sample_0_of_a_sparse_input_is_perturbed_as_a_dense_one():
    # VAE006's two runs on a sparse input (a graph's features, a user-item matrix): it raised
    # "Cannot assign to a sparse tensor" and the rule could not run
    from vaelint.facts.batchdeps import _perturbed

    spec = parse_input_spec("6x5")
    x = torch.eye(6, 5).to_sparse()
    y = _perturbed(x, spec)
    assert y.is_sparse and y.shape == x.shape
    assert torch.equal(y.to_dense()[1:], x.to_dense()[1:]) and not torch.equal(y.to_dense()[0], x.to_dense()[0])


def test_the_batch_mixing_run_redraws_sample_0s_data_and_keeps_its_length():
    """Tokens and floats change at sample 0; one integer per sample (a length, a label) keeps its
    value, so a batch sorted by length keeps its order; item ids alone are still the data."""
    from vaelint.facts.batchdeps import perturbed_inputs
    from vaelint.facts.shapes import make_inputs
    from vaelint.inputs import parse_input_spec

    specs = [parse_input_spec(s) for s in ("6x12:int64:100", "6:int64:13", "6x3")]
    tokens, lengths, floats = make_inputs(specs, 6, seed=0)
    new_tokens, new_lengths, new_floats = perturbed_inputs((tokens, lengths, floats), specs)
    assert not torch.equal(new_tokens[0], tokens[0]) and torch.equal(new_tokens[1:], tokens[1:])
    assert not torch.equal(new_floats[0], floats[0]) and torch.equal(new_floats[1:], floats[1:])
    assert torch.equal(new_lengths, lengths)
    ids = [parse_input_spec("6:int64:50")]
    (items,) = make_inputs(ids, 6, seed=0)
    (new_items,) = perturbed_inputs((items,), ids)
    assert new_items[0] != items[0] and torch.equal(new_items[1:], items[1:])


def test_sample_0_drawn_again_the_same_takes_values_in_the_datas_range():
    # a spec that gives the code's own data (the same values at any seed): sample 0 was shifted by
    # 0.5, out of [0, 1]; a BCE target there raised on the CPU, and on CUDA it was a device-side
    # assert that took the GPU from every later run of the check (scripts/gpu_checks.py, 10 cases)

    from vaelint.facts.batchdeps import _perturbed

    data = torch.rand(4, 6)
    spec = type("Given", (), {"batch_dim": 0, "high": None, "make": staticmethod(lambda n, generator=None: data[:n].clone())})()
    y = _perturbed(data, spec)
    assert torch.equal(y[0], data[1]) and torch.equal(y[1:], data[1:])  # another sample's values
    same = torch.full((3, 6), 0.25)  # every sample alike: mirrored within [0, 1]
    spec.make = staticmethod(lambda n, generator=None: same[:n].clone())
    y = _perturbed(same, spec)
    assert float(y.min()) >= 0 and float(y.max()) <= 1 and not torch.equal(y[0], same[0]) and torch.equal(y[1:], same[1:])


FIXED_BATCH_DECODER = '''
import torch
import torch.nn as nn


class FixedBatchSeqVAE(nn.Module):
    """Sequence-first, recorded (legacy .type cast), its decoder fed buffers built for the
    batch size it was made for (trained with drop_last=True): it runs at that batch only."""

    def __init__(self, steps=20, features=3, hidden=16, latent=4, batch_size=8):
        super().__init__()
        self.rnn_in = nn.LSTM(features, hidden)
        self.to_mu = nn.Linear(hidden, latent)
        self.to_logvar = nn.Linear(hidden, latent)
        self.to_state = nn.Linear(latent, hidden)
        self.rnn_out = nn.LSTM(1, hidden)
        self.head = nn.Linear(hidden, features)
        self.register_buffer("feed", torch.zeros(steps, batch_size, 1))
        self.register_buffer("c0", torch.zeros(1, batch_size, hidden))

    def forward(self, x):
        _, (h, _) = self.rnn_in(x)
        mu, logvar = self.to_mu(h[-1]), self.to_logvar(h[-1])
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        out, _ = self.rnn_out(self.feed, (self.to_state(z).unsqueeze(0), self.c0))
        return self.head(out), mu, logvar

    def compute_loss(self, batch):
        x = batch.type(torch.FloatTensor)
        recon, mu, logvar = self(x)
        kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
        return nn.functional.mse_loss(recon, x, reduction="sum") + kl
'''


def test_a_model_that_runs_at_one_batch_size_only_still_has_its_kl_read(tmp_path):
    # the runs at other batch sizes fail in the decoder, before the loss: the KL's element keeps
    # the heads' B x Z (an elementwise op keeps its input's dims) and its -0.5 is a number, not a
    # size; before, the KL read as 'scalar' and VAE002 went unchecked with exit 0
    path = tmp_path / "fixed.py"
    path.write_text(FIXED_BATCH_DECODER)
    r, result = _result(f"{path}:FixedBatchSeqVAE", "--input", "20x8x3")
    assert r.exit_code == 1, r.output
    assert _shape(result, "batch") == "20 x B x 3", result["flow"]
    assert [f["code"] for f in result["findings"]] == ["VAE002"], result["findings"]
    assert "mean over B, 4" in result["findings"][0]["message"], result["findings"][0]["message"]
    assert not any("VAE002" in str(s) for s in result["skipped"]), result["skipped"]


TRANSPOSED_COPY = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class CellGeneVAE(nn.Module):
    def __init__(self, cells=60, genes=24, z=4):
        super().__init__()
        self.enc, self.dec = nn.Linear(genes, 2 * z), nn.Linear(z, genes)
        self.per_gene = nn.BatchNorm1d(cells)

    def forward(self, x, x_t):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z) + self.per_gene(x_t).T, mu, logvar


x = torch.rand(60, 24)
x_t = x.T.contiguous()
model = CellGeneVAE()
opt = torch.optim.Adam(model.parameters())
for epoch in range(5):
    recon, mu, logvar = model(x, x_t)
    loss = F.mse_loss(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_an_input_the_code_passes_transposed_has_its_batch_at_dim_1(tmp_path, monkeypatch):
    # model(x, x.T): the inputs read off the code's own call were refused as "--input specs that
    # disagree on the batch size", with advice (--batch-dim, one dim for all) that could not place them
    # (helper B, inoue0426/scVGAE)
    (tmp_path / "train.py").write_text(TRANSPOSED_COPY)
    monkeypatch.chdir(tmp_path)
    r, result = _result("train.py")
    assert r.exit_code == 0, r.output
    assert _shape(result, "x_t") == "24 x B", result["flow"]
    assert any("its dim 1 is the batch (60) the other inputs have at dim 0" in n for n in result["notes"]), result["notes"]
