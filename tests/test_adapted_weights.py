"""A KL weight a controller adapts (soft free bits, GECO, ControlVAE) is not judged by its first
value: VAE004 says it changes from step to step and VAE002 leaves a constant ratio of the
reductions to it (vaelint/facts/adaptedweights.py; Arnaud15/vaes_ptorch's VD-VAE)."""

from __future__ import annotations

import ast
import os

from conftest import FIXTURES
from helpers import check, found

CASE = os.path.join(FIXTURES, "training", "kl_weight_adapted_by_a_controller.py")


def _skipped(result, code):
    return [why for c, why in result.skipped if c == code]


def test_a_controllers_weight_is_said_to_change_not_judged(monkeypatch):
    monkeypatch.chdir(os.path.dirname(CASE))
    result = check(CASE, "-", [], script_args=["--mean-rec"])
    assert result.error is None, result.error.message
    assert found(result) == set()
    (why4,) = _skipped(result, "VAE004")
    assert "reads controller, which the code hands a value each step at" in why4 and "controller.step(kl.item())" in why4
    (why2,) = _skipped(result, "VAE002")
    assert "adapted as training goes" in why2 and "(D)" in why2
    assert "changes from step to step" in result.beta_effective


def test_a_fixed_weight_beside_the_same_controller_is_judged(monkeypatch):
    monkeypatch.chdir(os.path.dirname(CASE))
    result = check(CASE, "-", [], script_args=["--fixed", "--mean-rec"])
    assert found(result) == {("VAE002", 70), ("VAE004", 74)}
    assert "changes from step to step" not in result.beta_effective


def _update(code: str, held: set):
    from vaelint.facts.adaptedweights import _set_from_itself

    (node,) = ast.parse(code).body
    return _set_from_itself(node, held)


def test_a_weight_moved_from_its_own_value_by_another_value_is_adapted():
    assert _update("self.beta = self.beta * math.exp(lr * (kl - target))", {"self.beta"}) == (
        "self.beta",
        "moves from its own last value each step",
    )
    assert _update("beta *= math.exp(err)", {"beta"}) is not None
    assert _update("self.lam += self.lr * err", {"self.lam"}) is not None


def test_a_count_a_sum_of_terms_and_a_name_not_the_weights_are_not():
    assert _update("beta += 1", {"beta"}) is None  # a count: countedweights' to say
    assert _update("beta *= 1.1", {"beta"}) is None  # moved by a number alone: a schedule, no controller
    assert _update("self.beta = min(self.beta, 1.0)", {"self.beta"}) is None  # itself and numbers only
    assert _update("kl_total += kl", {"beta"}) is None  # not the weight's name
    assert _update("self.beta = other * 2", {"self.beta"}) is None  # not from its own value


def _handed(code: str, objects: set):
    from vaelint.facts.adaptedweights import _handed_a_value, _in_a_training_loop

    tree = ast.parse(code)
    stepped = _in_a_training_loop(tree)[0]
    return [n.lineno for n in ast.walk(tree) if id(n) in stepped and _handed_a_value(n, objects)]


def test_an_object_handed_the_steps_value_in_the_loop_is_a_controller():
    code = (
        "model.to(device)\n"  # 1: the setup, no loop
        "ctl.load(state)\n"  # 2: outside the loop
        "for x in loader:\n"
        "    loss = rec + ctl.scale * kl\n"
        "    loss.backward()\n"
        "    ctl.step()\n"  # 6: a count
        "    ctl.step(1)\n"  # 7: a number
        "    model.to(device)\n"  # 8: a move
        "    ctl.update(kl.item())\n"  # 9: the controller
        "    meter.update(loss.item())\n"  # 10: not the weight's object
    )
    assert _handed(code, {"ctl", "model"}) == [9]
    assert _handed("for x in loader:\n    ctl.update(kl.item())\n", {"ctl"}) == []  # no backward: no training loop
