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
