"""A KL weight tuned beside reductions that differ by a size (a latent-diffusion autoencoder's 1e-6
beside an L1 averaged over every value): VAE002 and VAE004 both say which --beta declares the whole
weight (the number written times D), and declaring it leaves nothing; declaring the number written
leaves VAE002, as its fix said it would (before, VAE004 advised --beta 1e-06, which left VAE002)."""

from __future__ import annotations

import os

from conftest import FIXTURES
from json_cli import check_json

BUGGY = os.path.join(FIXTURES, "buggy", "first_stage_mean_reconstruction_tiny_kl.py")
ARGS = (f"{BUGGY}:FirstStage", "--input", "8x3x32x32", "--loss", f"{BUGGY}:first_stage_loss")


def test_both_fixes_name_the_whole_weight():
    r, result = check_json(*ARGS)
    fixes = {f["code"]: f["fix"] for f in result["findings"]}
    assert set(fixes) == {"VAE002", "VAE004"}, r.output
    assert "declare the whole weight: --beta 0.003072" in fixes["VAE002"]
    assert "--beta 0.003072 (1e-06 times the reductions' D = 3072; --beta 1e-06 leaves VAE002)" in fixes["VAE004"]


def test_declaring_the_number_written_leaves_vae002_and_the_whole_weight_nothing():
    r, result = check_json(*ARGS, "--beta", "1e-6")
    assert [f["code"] for f in result["findings"]] == ["VAE002"], r.output
    r, result = check_json(*ARGS, "--beta", "0.003072")
    assert r.exit_code == 0 and result["findings"] == [], r.output


def test_a_weight_that_changes_with_the_batch_is_not_offered_as_a_beta(tmp_path):
    # the near miss: the KL summed over the batch too (beta_eff follows B): no one --beta declares it
    text = open(BUGGY).read().replace(".sum(dim=(1, 2, 3)).mean()", ".sum()")
    path = tmp_path / "kl_over_the_batch.py"
    path.write_text(text)
    r, result = check_json(f"{path}:FirstStage", "--input", "8x3x32x32", "--loss", f"{path}:first_stage_loss")
    fixes = {f["code"]: f["fix"] for f in result["findings"]}
    assert "VAE002" in fixes and "declare the whole weight" not in fixes["VAE002"], r.output
    assert "leaves VAE002" not in fixes.get("VAE004", ""), r.output


WEIGHTED_REC = os.path.join(FIXTURES, "buggy", "weighted_mean_reconstruction.py")


def test_a_weight_on_the_reconstruction_declared_whole_leaves_nothing():
    # alpha * mse_mean + kl: beta_eff = D/1024; --beta of that whole weight is the match (before: VAE004
    # said beta_eff = 1/1024 and offered 1024 * rec + 784 * kl, beta_eff 600)
    args = (f"{WEIGHTED_REC}:MLPVAE", "--input", "16x784")
    r, result = check_json(*args, "--beta", "0.765625")
    assert r.exit_code == 0 and result["findings"] == [], r.output
    # another beta: the reductions differ, so VAE002 says it, once, with the whole beta_eff
    r, result = check_json(*args, "--beta", "0.5")
    assert [f["code"] for f in result["findings"]] == ["VAE002"], r.output
    assert "beta_eff = D/1024 = 0.765625" in result["findings"][0]["message"], r.output
