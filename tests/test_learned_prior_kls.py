"""KLs the reduction rules (VAE002, VAE004) read whatever the prior: a recurrent VAE's KL of every
step read against the steps' heads stacked alike (vaelint/facts/stackedheads.py), a Monte Carlo KL
against a learned prior weighed by its log q(z) (vaelint/facts/montecarlokl.py), a learned prior's
log-density kept one density (lossroles._one_density), a flow's KL reduced in parts
(termscale._monte_carlo_in_parts). Each was "not checked", exit 0. The fixtures
{clean,buggy}/vrnn_learned_prior_kl*, mixture_prior_monte_carlo_kl*, flow_kl_reduced_in_parts*
are run by the fixture suite; these are the near misses and the parts."""

from __future__ import annotations

from json_cli import check_json

STEPS = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class StepVAE(nn.Module):
    """A recurrent VAE with N(0, 1) as every step's prior, its heads stacked over time."""

    def __init__(self, x_dim=5, h_dim=16, z_dim=4):
        super().__init__()
        self.h_dim = h_dim
        self.enc = nn.Linear(x_dim + h_dim, 2 * z_dim)
        self.dec = nn.Linear(z_dim + h_dim, x_dim)
        self.rnn = nn.GRUCell(x_dim + z_dim, h_dim)

    def forward(self, x):
        B, T, _ = x.shape
        h = x.new_zeros(B, self.h_dim)
        means, mus, logvars = [], [], []
        for t in range(T):
            mu, logvar = self.enc(torch.cat([x[:, t], h], 1)).chunk(2, 1)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            means.append(self.dec(torch.cat([z, h], 1)))
            h = self.rnn(torch.cat([x[:, t], z], 1), h)
            mus.append(mu)
            logvars.append(logvar)
        return torch.stack(means, 1), torch.stack(mus, 1), torch.stack(logvars, 1)


def loss_function(out, x):
    mean, mu, logvar = out
    rec = F.mse_loss(mean, x, reduction="none").sum(dim=(1, 2)).mean()
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=(1, 2)).mean()
    return rec + kl
'''


def _check(tmp_path, text: str, name: str = "steps.py"):
    path = tmp_path / name
    path.write_text(text)
    return check_json(f"{path}:StepVAE", "--input", "8x6x5", "--loss", f"{path}:loss_function")


def _skipped(result, code):
    return [s["reason"] for s in result["skipped"] if s["code"] == code]


def test_a_standard_prior_kl_of_stacked_steps_is_read_and_clean(tmp_path):
    r, result = _check(tmp_path, STEPS)
    assert r.exit_code == 0 and result["findings"] == [], r.output
    assert all(_skipped(result, code) == [] for code in ("VAE002", "VAE004", "VAE007", "VAE008")), result["skipped"]
    kl = next(row for row in result["flow"] if row["name"] == "kl")
    assert kl["reduction"] == "mean over B, sum over 6, 4", kl


def test_a_stacked_kl_with_its_half_left_out_is_vae007(tmp_path):
    # VAE007 reads the stacked steps' KL against their joined heads too (klcheck._read_term)
    text = STEPS.replace("kl = -0.5 * (1 + logvar", "kl = -(1 + logvar")
    assert text != STEPS
    r, result = _check(tmp_path, text)
    assert [f["code"] for f in result["findings"]] == ["VAE007"], r.output
    assert "twice the Gaussian KL" in result["findings"][0]["message"], result["findings"][0]["message"]


def test_the_same_kl_averaged_over_steps_and_latent_dims_is_vae002(tmp_path):
    text = STEPS.replace(".sum(dim=(1, 2)).mean()\n    return", ".mean()\n    return")
    assert text != STEPS
    r, result = _check(tmp_path, text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.strip().startswith("kl = "))
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", line)], r.output
    assert "beta_eff = 1/24" in result["findings"][0]["message"], result["findings"][0]["message"]


def test_a_stack_that_holds_a_head_twice_or_something_else_is_no_layer():
    import torch
    import torch.fx as fx

    from vaelint.facts.stackedheads import _joined

    graph = fx.Graph()
    a, b, c = (graph.placeholder(n) for n in "abc")
    means = {a: "layer a", b: "layer b"}
    assert _joined(graph.call_function(torch.stack, ([a, b], 1)), means) == ["layer a", "layer b"]
    assert _joined(graph.call_function(torch.stack, ([a, a], 1)), means) is None  # one head twice
    assert _joined(graph.call_function(torch.stack, ([a, c], 1)), means) is None  # c is no mean
    assert _joined(graph.call_function(torch.stack, ([a], 1)), means) is None  # one step: no join


def test_the_std_reading_is_the_one_every_step_shares():
    from types import SimpleNamespace

    import torch

    from vaelint.facts.stackedheads import _reading

    head = torch.randn(4, 3)
    layer = SimpleNamespace(logvar="h", std="s")
    run = SimpleNamespace(tensors={"h": head, "s": torch.exp(0.5 * head)})
    ctx = SimpleNamespace(runs=SimpleNamespace(runs={4: run}, batch=4))
    assert _reading(ctx, [layer, layer]) == "log-variance"
    run.tensors["s"] = torch.exp(head)
    assert _reading(ctx, [layer]) == "log-std"
    run.tensors["s"] = torch.sigmoid(head)  # a transform no reading inverts: none
    assert _reading(ctx, [layer]) is None


def test_a_learned_priors_log_density_stays_one_term_a_data_term_beside_a_sample_does_not():
    from types import SimpleNamespace

    import torch.fx as fx

    from vaelint.facts.lossroles import _one_density

    graph = fx.Graph()
    prior_half, sample_half = graph.placeholder("log_2pi_pvar"), graph.placeholder("z_minus_pmu_sq")

    def ranks(p: int, z: int) -> None:
        prior_half.meta["shape"] = SimpleNamespace(sizes=(8,) * p)
        sample_half.meta["shape"] = SimpleNamespace(sizes=(8,) * z)

    kinds = {prior_half: None, sample_half: "latent"}
    ranks(2, 2)  # log(2 pi pvar) beside (z - pmu)**2 / pvar, both B x Z: one density
    assert _one_density(prior_half, sample_half, kinds.get)
    ranks(1, 2)  # one number per sample already: two terms of the loss, not two halves
    assert not _one_density(prior_half, sample_half, kinds.get)
    ranks(2, 2)  # a reconstruction beside a sample's term is never one density
    assert not _one_density(prior_half, sample_half, {prior_half: "rec", sample_half: "latent"}.get)
