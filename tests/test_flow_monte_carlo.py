"""A flow posterior's Monte Carlo KL, log q0(z0) - sum log|det J| - log p(zK), read for its
reductions (VAE002, VAE004) as a Gaussian log q(z) - log p(z) is (vaelint/facts/montecarlokl.py)."""

from __future__ import annotations

import os

from conftest import FIXTURES
from json_cli import check_json

CLEAN = os.path.join(FIXTURES, "clean", "flow_monte_carlo_kl.py")


def _skipped(result, code):
    return [s["reason"] for s in result["skipped"] if s["code"] == code]


def test_a_flows_monte_carlo_kl_is_read_for_its_reductions():
    r, result = check_json(f"{CLEAN}:FlowVAE", "--input", "16x784")
    assert r.exit_code == 0 and result["findings"] == [], r.output
    assert _skipped(result, "VAE002") == [] and _skipped(result, "VAE004") == [], result["skipped"]
    assert _skipped(result, "VAE007") and "Monte Carlo" in _skipped(result, "VAE007")[0]
    kl = next(row for row in result["flow"] if row["name"] == "kl")
    assert kl["reduction"] == "mean over B, sum over 8 (inside log q - log p)", kl


def test_the_same_kl_with_no_flow_is_read_by_its_log_q_as_any_prior_is(tmp_path):
    # the near miss: the same loss without the flows' log-determinant (log q0(z0) - log p(zK)):
    # a Monte Carlo KL against some prior all the same, weighed by its log q0(z0) (montecarlokl.py:
    # a learned prior's, a mixture's); it was left unread, the KL rules "not checked", exit 0
    text = open(CLEAN).read().replace("(log_q0 - sum_log_det - log_pk).mean()", "(log_q0 - log_pk).mean()")
    assert text != open(CLEAN).read()
    path = tmp_path / "no_log_det.py"
    path.write_text(text)
    r, result = check_json(f"{path}:FlowVAE", "--input", "16x784")
    assert r.exit_code == 0 and result["findings"] == [], r.output
    assert _skipped(result, "VAE002") == [] and _skipped(result, "VAE004") == [], result["skipped"]
    weighted = text.replace("(log_q0 - log_pk).mean()", "0.01 * (log_q0 - log_pk).mean()")
    path.write_text(weighted)
    r, result = check_json(f"{path}:FlowVAE", "--input", "16x784")
    assert [f["code"] for f in result["findings"]] == ["VAE004"], r.output


def test_signed_parts_follow_adds_and_subtractions():
    import torch.fx as fx

    from vaelint.facts.graphview import GraphView
    from vaelint.facts.montecarlokl import signed_parts

    def loss(a, b, c):
        return (a - b) - (c + 2.0)

    graph = fx.symbolic_trace(loss).graph
    a, b, c = [n for n in graph.nodes if n.op == "placeholder"]
    out = next(n for n in graph.nodes if n.op == "output").args[0]
    assert signed_parts(GraphView(graph, {}), out) == [(1.0, a), (-1.0, b), (-1.0, c)]


OVERFLOWING = """
import math

import torch
import torch.nn as nn


class Step(nn.Module):
    # an inverse-autoregressive step with an unbounded scale: exp(s) overflows on a wide init
    def __init__(self, z):
        super().__init__()
        self.net = nn.Linear(z, 2 * z)
        nn.init.normal_(self.net.weight, std=3.0)

    def forward(self, z):
        m, s = self.net(z).chunk(2, 1)
        sigma = s.exp()
        return sigma * z + (1 - sigma) * m, torch.log(sigma).sum(1)


class FlowVAE(nn.Module):
    def __init__(self, d=784, z=16):
        super().__init__()
        self.enc, self.dec = nn.Linear(d, 2 * z), nn.Linear(z, d)
        self.flows = nn.ModuleList(Step(z) for _ in range(6))

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, 1)
        if logvar.max() > 50:  # a value read: fx cannot trace it, the run is recorded
            logvar = logvar.clamp(max=50)
        eps = torch.randn_like(mu)
        z = mu + eps * torch.exp(0.5 * logvar)
        log_q = -0.5 * (eps**2 + logvar + math.log(2 * math.pi)).sum(1)
        for flow in self.flows:
            z, log_det = flow(z)
            log_q = log_q - log_det
        return self.dec(z), log_q, -0.5 * (z**2 + math.log(2 * math.pi)).sum(1)


def loss_function(recon, x, log_q, log_p):
    return ((x - recon).pow(2).sum(1) + log_q - log_p).mean()
"""


def test_a_flows_kl_that_overflowed_is_the_runs_failure_not_an_internal_error(tmp_path):
    # a recorded run whose flow overflowed (loss nan) read its Monte Carlo KL as a ratio of nan,
    # and vaelint crashed on it: "cannot convert float NaN to integer" (helper-found, an IAF of
    # the hcagri/Inverse-Autoregressive-Flow kind)
    path = tmp_path / "overflow.py"
    path.write_text(OVERFLOWING)
    r, result = check_json(f"{path}:FlowVAE", "--input", "64x784", "--loss", f"{path}:loss_function")
    assert r.exit_code == 2 and result["error"]["kind"] == "loss", r.output
    assert "the confirmation run failed (loss nan" in result["error"]["message"], r.output
