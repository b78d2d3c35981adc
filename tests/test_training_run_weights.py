"""The weights and normalisers a training step puts on its loss terms, read as the run has them
(vaelint/frontends/training/schedules.py, accumulating.py; VAE005): KL warm-ups however they are
written, judged where they settle, and a division by the written batch size that every batch meets."""

from json_cli import check_json as _json
from training_cli import RUNNING


def test_a_warmup_that_moves_from_its_own_last_value_is_read_as_a_schedule(monkeypatch):
    # args.beta = min(1, args.beta + 1 / n) in the step: no counter is read; before, the KL weight
    # was taken as the constant the step run saw (a false VAE004, "multiplied by 0.125")
    monkeypatch.chdir(RUNNING)
    r, result = _json("warmup_accumulating.py")
    assert result["error"] is None and not result["findings"], r.output
    note = next(n for n in result["notes"] if "the KL weight is annealed: args.beta = min(1, args.beta" in n)
    assert "it reaches beta = 1" in note, note
    r, result = _json("warmup_accumulating_to_half.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE004", 34)], r.output
    assert "settles at 0.5" in result["findings"][0]["message"]


def test_a_loss_over_the_written_batch_size_is_right_when_the_loader_drops_the_last_batch(monkeypatch):
    monkeypatch.chdir(RUNNING)
    r, result = _json("loss_over_batch_drop_last.py")
    assert result["error"] is None and not result["findings"], r.output
    assert any("right for every batch, as its DataLoader drops the last incomplete one (drop_last=True)" in n
               for n in result["notes"]), result["notes"]


def test_a_warmup_set_in_an_if_branch_of_the_epoch_loop_is_a_schedule(monkeypatch):
    # beta = 0 at epoch 0 took the KL out of the loss: the KL rules were "not checked", exit 0
    monkeypatch.chdir(RUNNING)
    r, result = _json("warmup_in_an_if_branch.py")
    assert result["error"] is None and not result["findings"], r.output
    assert [s["code"] for s in result["skipped"]] == ["VAE012"], result["skipped"]
    assert any("beta is 0 at epoch = 0, so the step is checked at epoch = 10" in n for n in result["notes"]), result["notes"]
