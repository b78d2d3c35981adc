"""A batch of one sample (a latent-diffusion or video VAE trained one sample per device) is
checked at one, as it trains: a run at two held twice the step's activations (Wan 2.1's video
VAE, whose step takes 39 GiB, ran an H200's 140 GiB out). The batch dim is read from the runs
at other batch sizes, so the batch's own dim, a 1 at B=1, is never taken for a kept or
broadcast dim of 1."""

from __future__ import annotations

import json
import os

from conftest import FIXTURES
from typer.testing import CliRunner

from vaelint.cli import app
from vaelint.facts.shapes import Dim, ShapeFact


def _check(*args):
    r = CliRunner().invoke(app, ["check", *args, "--format", "json", "--no-cache", "--no-fixes"])
    return r, json.loads(r.output)["results"][0]


def test_the_batch_dim_at_one_sample_is_no_dim_of_one():
    fact = ShapeFact((1, 3, 1), (Dim(1, 0), Dim(0, 3), Dim(0, 1)))
    assert not fact.one_at(0) and fact.one_at(2) and not fact.one_at(1)
    assert not fact.scalar_like() and ShapeFact((1, 1), (Dim(0, 1), Dim(0, 1))).scalar_like()
    assert ShapeFact((1,), None).one_at(0)  # no solved dims: the size is all there is


def test_a_mean_over_the_batch_of_one_sample_is_read_as_over_b(tmp_path):
    # F.mse_loss(pred, x) beside a KL summed over the latent and divided by x.shape[0] (the
    # diffusers-style SD-VAE step): at B=1 the mean's batch dim was read as a broadcast 1
    # ("mean over 1, 3, 64, 64"), beta_eff D/B, "changes with the batch size": an error where a
    # warning is due
    path = tmp_path / "conv_vae.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.enc, self.dec = nn.Conv2d(3, 8, 4, 2, 1), nn.ConvTranspose2d(4, 3, 4, 2, 1)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)\n        return self.dec(z), mu, logvar\n\n"
        "    def loss_function(self, pred, x, mu, logvar):\n"
        "        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())\n"
        "        return F.mse_loss(pred, x) + 1e-6 * kl / x.shape[0]\n"
    )
    r, result = _check(f"{path}:VAE", "--input", "1x3x16x16")
    rows = {row["name"]: row for row in result["flow"]}
    assert rows["x"]["sizes"] == {"B": 1} and rows["x"]["shape"] == ["B", "3", "16", "16"], r.output
    found = [(f["code"], f["severity"]) for f in result["findings"]]
    assert ("VAE002", "warning") in found, r.output
    vae002 = next(f for f in result["findings"] if f["code"] == "VAE002")
    assert "mean over B, 3, 16, 16" in vae002["message"] and "changes with the batch size" not in vae002["message"]


def test_samples_that_mix_are_found_at_a_batch_of_one_sample():
    # one sample has no other to read: the batch-mixing run takes 3 samples, without gradients
    for spec, fixture, line in (
        ("1x3x32x32", "attention_tokens_mixed.py:VAE", 20),
        ("1x12:int64:50", "bidirectional_hidden_view.py:SentenceVAE", 25),
    ):
        r, result = _check(os.path.join(FIXTURES, "buggy", fixture), "--input", spec)
        assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE006", line)], r.output
    # its clean near miss: a model whose samples never meet stays clean at one sample
    r, result = _check(os.path.join(FIXTURES, "clean", "mlp_vae.py:VAE"), "--input", "1x784")
    assert result["findings"] == [] and r.exit_code == 0, r.output


def test_a_batch_norm_that_cannot_train_on_one_sample_is_said_as_such():
    # BatchNorm1d in training mode refuses one value per channel, in the model's own training too:
    # it was a VAE013 blaming the layer's num_features; it is the input's batch, exit 2
    r, result = _check(os.path.join(FIXTURES, "clean", "batch_independent.py:BatchNormVAE"), "--input", "1x24")
    assert r.exit_code == 2 and result["findings"] == [], r.output
    said = result["error"]["message"]
    assert "is a batch of one sample" in said and "enc.1 (BatchNorm1d)" in said and "a batch of 2 or more" in said
    # at two samples the same model is clean
    r, result = _check(os.path.join(FIXTURES, "clean", "batch_independent.py:BatchNormVAE"), "--input", "2x24")
    assert r.exit_code == 0 and result["findings"] == [], r.output


def test_an_mmd_of_one_sample_is_no_monte_carlo_kl_and_a_monte_carlo_kl_of_one_still_is():
    # at a batch of one sample an MMD term summed to one number was read as log q(z) - log p(z)
    # times a constant (any one number's ratio is "constant"): a false VAE002 and VAE004 on a clean
    # InfoVAE-style loss; a second point of the heads must agree now
    r, mmd = _check(os.path.join(FIXTURES, "clean", "mmd_beside_kl.py:VAE"), "--input", "1x20")
    assert mmd["findings"] == [] and r.exit_code == 0, r.output
    r, mc = _check(os.path.join(FIXTURES, "buggy", "mc_kl_mean_vs_sum.py:VAE"), "--input", "1x16")
    assert [(f["code"], f["line"]) for f in mc["findings"]] == [("VAE002", 26)], r.output
