"""A sample of scripts/sweep.py's bad inputs and hostile models, one of each kind, judged as
the sweep judges them: no traceback, no silent green, the exit class expected, a report that
parses, nothing the model's code tried left behind. The whole sweep runs by hand (minutes)."""

import os
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))

import sweep  # noqa: E402

SAMPLE = [
    "cli-input-terabytes",
    "cli-flat-input-into-a-conv",
    "file-binary-file-mode",
    "file-latin1-bytes",
    "hostile-signals-vaelint",
    "hostile-nan-loss",
    "train-starts-a-program",
    "cache-entries-planted-pickle",
    "pre-commit-unconfigured-model",
]


def test_the_sweep_has_over_a_hundred_cases_of_every_kind():
    cases = sweep.all_cases(sweep.Case)
    assert len(cases) >= 100 and len({c.id for c in cases}) == len(cases)
    assert {c.kind for c in cases} == {"cli", "file", "hostile", "training", "cache", "pre-commit"}
    assert set(SAMPLE) <= {c.id for c in cases}


@pytest.mark.parametrize("case_id", SAMPLE)
def test_a_sample_of_the_sweep_holds(case_id):
    (case,) = [c for c in sweep.all_cases(sweep.Case) if c.id == case_id]
    ok, said, code = sweep.run(case)
    assert ok, f"{case_id}: exit {code}: {said}"
