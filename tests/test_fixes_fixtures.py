"""Fixture models with a verified fix for each rule that offers one: ``--fix --unsafe-fixes`` on a
copy removes the declared findings, and nothing new appears. A finding a plain check calls
fixable must be one ``--diff`` fixes: a KL averaged over the batch and the latent dims beside a
per-sample reconstruction is summed per sample and then averaged (a plain ``sum`` summed the
batch too, and the re-check rejected it: 'would fix 0 findings' after 'fixable')."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import FIXTURES
from fixture_cases import parse_cases
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()


def run(*args, cwd=None):
    here = os.getcwd()
    os.chdir(cwd)
    try:
        r = runner.invoke(app, list(args))
    finally:
        os.chdir(here)
    assert "Traceback" not in r.output, r.output
    return r


# fixture models with a verified fix for each rule that offers one: --fix (with
# --unsafe-fixes) on a copy removes the declared finding, and nothing new appears
FIXABLE = [
    "noise_one_row.py",
    "recon_broadcast_mse.py",
    "std_exp_logvar.py",
    "bce_on_logits.py",
    "sample_detached.py",
    "view_pinned_batch.py",
    "legacy_view_fold.py",
    "tuple_terms_mean_vs_sum.py",
    "kl_attribute_weight.py",
    "tensor_weights_in_loss.py",
    # VAE002: torch.mean(kl) of B x Z beside rec.sum() / B -> torch.sum(kl, dim=-1).mean()
    "forward_returns_scalar_loss_kl_mean.py",
    "capacity_objective_kl_mean.py",
    # VAE002: each term averaged over its sample's dims (logp.mean(1), kl.mean(1)) -> both summed
    "gaussian_nll_means_inside.py",
    # VAE001 + VAE012: torch.randn(Z) drawn before std is computed -> torch.randn_like(mu), fixing both
    "addcmul_noise_shared.py",
    # VAE010: a tanh decoder into BCE -> nn.Sigmoid() (with_logits of tanh-bounded logits was rejected)
    "bce_on_tanh.py",
    # VAE014: Float annotated on int64 tokens -> Int, imported beside Float (was a NameError on re-check)
    "contract_float_tokens.py",
    # VAE012: input noise made of a NumPy draw on the CPU -> torch.from_numpy(...).float().to(x.device)
    "numpy_input_noise_left_on_cpu.py",
]


@pytest.mark.parametrize("name", FIXABLE)
def test_fix_removes_a_fixture_models_findings(tmp_path, name):
    (case,) = parse_cases(os.path.join(FIXTURES, "buggy", name))
    shutil.copy(case.path, tmp_path / name)
    spec = f"{name}:{case.target}"
    args = [a for s in case.inputs for a in ("--input", s)] + ["--no-dynamic"]
    if case.loss:
        args += ["--loss", case.loss if ":" in case.loss else f"{name}:{case.loss}"]
    before = json.loads(run("check", spec, *args, "--format", "json", cwd=tmp_path).stdout)["results"][0]
    declared = {(code, line) for code, line in case.expect}
    assert {(f["code"], f["line"]) for f in before["findings"]} == declared
    assert all(f["autofix"] and f["autofix"]["rejected"] is None for f in before["findings"]), before["findings"]
    fixed = run("check", spec, *args, "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert fixed.exit_code == 0, fixed.stdout
    after = json.loads(run("check", spec, *args, "--format", "json", cwd=tmp_path).stdout)["results"][0]
    assert after["error"] is None and after["findings"] == []
    assert {s["code"] for s in after["skipped"]} <= {s["code"] for s in before["skipped"]}  # every rule that ran still runs
