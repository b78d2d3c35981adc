"""A Monte Carlo KL written as two terms of the loss, log p(x|z) + log p(z) - log q(z|x): the two
halves are read as one KL term (vaelint/facts/densitypairs.py), whose values runs compute from its
operands (NodeValues). Before, each half was read alone, neither is a KL, and VAE002/VAE004 went
unchecked (helper-found in public code that writes the ELBO as its log-densities)."""

from __future__ import annotations

import operator
import os

import torch
import torch.fx as fx
from conftest import FIXTURES
from helpers import check

CLEAN = os.path.join(FIXTURES, "clean", "elbo_written_as_three_log_densities.py")


def test_the_two_halves_are_one_kl_term_and_every_kl_reduction_rule_runs():
    result = check(CLEAN, "VAE", ["16x784"], dynamic=False)
    assert result.error is None and result.findings == [], [f.message for f in result.findings]
    assert result.beta_effective == "1"
    assert "VAE002" not in dict(result.skipped) and "VAE004" not in dict(result.skipped), result.skipped


def test_halves_that_make_no_kl_are_joined_and_still_not_read_as_one(tmp_path):
    # the near miss: log q(z) averaged over the latent dims, log p(z) summed: no Gaussian KL
    text = open(CLEAN).read().replace("log_prob(z).sum(-1)\n        return", "log_prob(z).mean(-1)\n        return")
    assert text != open(CLEAN).read()
    path = tmp_path / "halves_apart.py"
    path.write_text(text)
    result = check(str(path), "VAE", ["16x784"], dynamic=False)
    assert "no term of the loss reads as the Gaussian KL" in dict(result.skipped)["VAE002"]
    # and, averaged over the noise, the two halves are no estimate of the KL: VAE007 says so (facts/samplekl.py)
    (finding,) = result.findings
    assert finding.code == "VAE007" and "reads the sample z, and is no estimate of the KL" in finding.message


def test_a_node_added_after_the_run_is_computed_from_its_operands():
    from vaelint.capture.result import NodeValues

    graph = fx.Graph()
    a, b = graph.placeholder("a"), graph.placeholder("b")
    joined = graph.call_function(operator.sub, (a, b))
    joined.meta["vaelint_derived"] = True
    plain = graph.call_function(operator.add, (a, b))
    values = NodeValues({a: torch.tensor([3.0]), b: torch.tensor([1.0])})
    assert joined in values and torch.equal(values[joined], torch.tensor([2.0])) and torch.equal(values.get(joined), torch.tensor([2.0]))
    assert plain not in values and values.get(plain) is None  # a node of the run's own that it did not keep
    assert NodeValues({a: torch.tensor([3.0])}).get(joined) is None  # an operand not kept: no value
