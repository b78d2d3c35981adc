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
