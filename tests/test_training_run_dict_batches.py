"""A batch the step reads by key (``batch["image"]``, ``batch[model.image_key]``) of a data set of
the user's whose folder is not here takes the --input specs by the keys the step reads, in the
order it reads them (or as ``--input batch.KEY=SPEC`` names them), run as written or read off the code
(moved out of tests/test_training_run_standins.py, which holds the data files that stand in)."""

from json_cli import check_json as _json
from training_cli import RUNNING


def test_a_dict_batch_takes_the_specs_in_the_order_the_step_reads_its_keys(monkeypatch):
    # batch["image"], batch["label"] of a data set of the user's own whose folder is not here
    monkeypatch.chdir(RUNNING)
    found = [("VAE002", 48)]
    r, result = _json("dict_batch_dataset.py", "--input", "16x784", "--input", "16:int64:10")
    assert [(f["code"], f["line"]) for f in result["findings"]] == found, r.output
    assert result["loss"] == "the training step of dict_batch_dataset.py (lines 43-51, backward at line 51)"
    assert (
        "the batch is a dict the step reads by key: ['image'] = --input 16x784, ['label'] = --input 16:int64:10 "
        "(the keys in the order the step reads them, or its data set's __getitem__ writes them)" in result["notes"]
    )
    assert any(n.startswith("the data set Digits (dict_batch_dataset.py:17)") for n in result["notes"]), result["notes"]
    # a key named by --input batch.KEY=SPEC takes that spec; the others take the unnamed ones
    for inputs in (["batch.image=16x784", "batch.label=16:int64:10"], ["batch.label=16:int64:10", "16x784"]):
        r, result = _json("dict_batch_dataset.py", *[a for spec in inputs for a in ("--input", spec)])
        assert [(f["code"], f["line"]) for f in result["findings"]] == found, (inputs, r.output)
    # a key no --input gives is named, with the --input that would give it
    r, result = _json("dict_batch_dataset.py", "--input", "16x784")
    assert r.exit_code == 2, r.output
    assert "the step uses batch['label']" in result["error"]["message"]
    assert "--input batch.label=SPEC" in result["error"]["message"]


def test_a_dict_batch_read_off_the_code_takes_the_specs_by_key_too(monkeypatch):
    monkeypatch.chdir(RUNNING)
    monkeypatch.setenv("VAELINT_TRAINING", "read")
    r, result = _json("dict_batch_dataset.py", "--input", "16x784", "--input", "16:int64:10")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 48)], r.output


def test_a_dict_batch_read_through_a_variable_key_takes_the_data_sets_keys(monkeypatch):
    # model.get_input(batch, model.image_key), the keys from the dict __getitem__ returns
    monkeypatch.chdir(RUNNING)
    r, result = _json("dict_batch_key_in_variable.py", "--input", "8x32x32x3")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE004", 48)], r.output
    assert any(n.startswith("the batch is a dict the step reads by key: ['image'] = --input 8x32x32x3") for n in result["notes"])
