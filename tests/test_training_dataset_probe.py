"""A data set that stands in as a whole for --input (its folder is not here) lacks what its
constructor would have set from its files; where the code reads such an attribute (a model sized
from ``dataset.n_features``), the constructor runs again, on stand-in files, and the attribute is
what it sets there (vaelint/frontends/training/livelistings.py, probed; helper-found:
mxkrn/pytorch-groovae's input_size). Where that run fails too, the step is told it has no value,
as before. fixtures/training/running/dataset_sizes_the_model.py is the class."""

from __future__ import annotations

import os

from conftest import FIXTURES
from helpers import check, found

PATH = os.path.join(FIXTURES, "training", "running", "dataset_sizes_the_model.py")


def test_the_attribute_its_constructor_sets_on_stand_in_files_sizes_the_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/grooves here
    result = check(PATH, "-", ["8x32x9", "8x32x9"])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE002", 48)}
    assert any("Sequences's n_features is what its constructor sets on stand-in files" in n for n in result.notes), result.notes
    assert not os.listdir(tmp_path), "nothing is written"


def test_where_the_constructor_fails_on_stand_in_files_too_the_step_is_told(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = (
        open(PATH)
        .read()
        .replace(
            "self.n_features = np.load(self.files[0]).shape[-1]", 'self.n_features = json.load(open(f"{root}/meta.json"))["n_features"]'
        )
    )
    (tmp_path / "train.py").write_text("import json\n" + code)
    result = check(str(tmp_path / "train.py"), "-", ["8x32x9", "8x32x9"])
    assert result.error is not None
    message = result.error.message
    assert "the step uses Sequences.n_features (the data set stands in: its data is not here" in message, message
    # why the second run did not give it: the constructor's own stop (a package not installed, a file)
    assert "its constructor, run again on stand-in files, stopped at " in message and "meta.json" in message, message
