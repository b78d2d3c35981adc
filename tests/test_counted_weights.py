"""A KL weight that reads a count the code keeps is a warm-up not read as a schedule: VAE004 says
it changes from step to step instead of judging its first value (vaelint/facts/countedweights.py)."""

from __future__ import annotations

import os

from conftest import FIXTURES
from helpers import check, found

CASE = os.path.join(FIXTURES, "training", "warmup_counted_in_the_loss_object.py")


def test_a_weight_counted_in_the_loss_object_is_not_checked_and_says_which_count(monkeypatch):
    monkeypatch.chdir(os.path.dirname(CASE))
    result = check(CASE, "-", [])
    assert result.error is None, result.error.message
    assert found(result) == set()
    (why,) = [why for code, why in result.skipped if code == "VAE004"]
    assert "w reads self.calls, which the code counts up at" in why and "warmup_counted_in_the_loss_object.py:26" in why
    assert "is no beta" in why


def test_the_counts_read_are_the_codes_own_ways_of_counting(tmp_path):
    from vaelint.facts.countedweights import _counted

    path = tmp_path / "train.py"
    path.write_text(
        "step = 0\n"
        "for epoch in range(10):\n"
        "    for i, x in enumerate(loader):\n"
        "        step += 1\n"
        "        it = it + 1\n"
        "        crit.update(step, epoch)\n"
        "class C:\n"
        "    def update(self, step, epoch):\n"
        "        self.step, self.epoch = step, epoch\n"
        "        self.beta = 0.5\n"
    )
    counted = _counted([str(path)])
    assert {k for k in counted} == {("step", False), ("epoch", False), ("i", False), ("it", False), ("step", True), ("epoch", True)}
    assert counted[("epoch", True)].startswith("sets from a count at")
    assert ("beta", True) not in counted


def test_an_attribute_the_training_code_sets_on_the_model_from_a_count_is_counted(tmp_path):
    # model.kl_weight = min(1.0, (epoch + 1) / 5) in the epoch loop, read in forward as
    # self.kl_weight: a warm-up (was a [confirmed] VAE004 on its first value); a weight set once
    # (model.beta = 0.2) or to the same value either way of a test on the count is none
    from vaelint.facts.countedweights import _counted

    path = tmp_path / "train.py"
    path.write_text(
        "model.beta = 0.2\n"
        "for epoch in range(10):\n"
        "    model.kl_weight = min(1.0, (epoch + 1) / 5)\n"
        "    model.epoch = epoch\n"
        "    model.gamma = 4.0 if epoch > 3 else 4.0\n"
        "    model.delta = 1.0 if epoch > 3 else 0.0\n"
        "    model.name = str(type(model))\n"
        "    model(x).backward()\n"
        "for k in range(5):  # an evaluation sweep after training: no warm-up\n"
        "    model.sweep = k / 4\n"
    )
    counted = _counted([str(path)])
    assert {k for k in counted if k[1]} == {("kl_weight", True), ("epoch", True), ("delta", True)}
    assert counted[("kl_weight", True)].startswith("sets from a count at") and counted[("kl_weight", True)].endswith("train.py:3")


def test_a_warmup_the_loop_hands_the_model_is_not_judged_by_its_first_value():
    case = os.path.join(FIXTURES, "training", "warmup_in_forward_from_trainer_attribute.py")
    result = check(case, "-", [])
    assert result.error is None and found(result) == set(), result.error
    (why,) = [why for code, why in result.skipped if code == "VAE004"]
    assert "reads self.kl_weight, which the code sets from a count at" in why and "is no beta" in why, why
