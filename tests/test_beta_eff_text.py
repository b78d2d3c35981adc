"""An annealed beta_eff is written as a person writes it: ``0.004/(B*Z) at step 10, annealed (w)
to 1/(B*Z)``, not ``0.004*1/(B*Z) ... to 1*1/(B*Z)``."""

from __future__ import annotations

import os

from conftest import FIXTURES
from helpers import check

from vaelint.facts.flow import _times


def test_a_value_times_a_formula():
    assert _times("0.004", "1/(B*Z)") == "0.004/(B*Z)"
    assert _times("1", "1/(B*Z)") == "1/(B*Z)"
    assert _times("0.5", "1") == "0.5"
    assert _times("0.01", "B*D") == "0.01*B*D"


def test_the_annealed_beta_eff_of_a_fixture():
    result = check(os.path.join(FIXTURES, "training", "running", "anneal_weight_returned_by_a_nested_loss.py"), "-", [])
    assert result.beta_effective == "0.004/(B*Z) at step 10, annealed (w) to 1/(B*Z)", result.beta_effective


def test_vae002s_fix_names_the_codes_own_loss():
    # a per-token mean cross-entropy (a text VAE) is summed with F.cross_entropy, not F.mse_loss
    from conftest import FIXTURES as fixtures

    folder = os.path.join(fixtures, "training", "running", "text_lengths_as_lists")
    here = os.getcwd()
    os.chdir(folder)
    try:
        result = check(os.path.join(folder, "train.py"), "-", [])
    finally:
        os.chdir(here)
    fix = next(f.fix for f in result.findings if f.code == "VAE002")
    assert "F.cross_entropy(..., reduction='sum') / x.size(0)" in fix and "mse_loss" not in fix, fix
