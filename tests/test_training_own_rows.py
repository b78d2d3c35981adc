"""A training step over a TensorDataset of the code's own tensors is checked on the data's own rows
at every batch size, integer columns too, by either way to the step (running the code, or reading
it): categorical columns of 2, 3 and 5 levels are not ids drawn below the largest of them
(fixtures/training/running/tabular_categories_of_their_own_sizes.py)."""

from __future__ import annotations

import pytest
from json_cli import check_json
from training_cli import RUNNING


@pytest.mark.parametrize("way", ["run", "read"])
def test_a_tensor_datasets_own_rows_are_the_batches(monkeypatch, way):
    monkeypatch.chdir(RUNNING)
    monkeypatch.setenv("VAELINT_TRAINING", way)
    r, result = check_json("tabular_categories_of_their_own_sizes.py")
    assert result["error"] is None and not result["findings"], r.output
    assert any("input 32x2 32x3:int64:5: inferred from TensorDataset of 2 tensor(s)" in n for n in result["notes"]), result["notes"]
