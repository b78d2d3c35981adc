"""A sequential VAE's per-step KLs against a learned prior (VRNN, deep Markov model), stacked over a
time loop, are read per element as written: VAE002 compares their reductions with the
reconstruction's as for a one-layer VAE (before: "not checked", exit 0 on a KL weighed 1/(T*Z)).
The skip stays where the stacked KLs differ in shape (a hierarchical VAE's layers of different
latent sizes), and VAE007/VAE008 stay skipped for the learned prior."""

from conftest import FIXTURES
from helpers import check, found

from vaelint.facts.learnedprior import LEARNED_PRIOR

# the VRNN of a missed bug's reproducer (a sequence-first VRNN, T x B x F, its per-step KLs against
# the learned prior p(z_t | h_t-1) stacked over the time loop), its loss written as a function
_VRNN = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VRNN(nn.Module):
    def __init__(self, x_dim=12, h_dim=32, z_dim=5):
        super().__init__()
        self.h_dim = h_dim
        self.phi_x = nn.Sequential(nn.Linear(x_dim, h_dim), nn.ReLU())
        self.phi_z = nn.Sequential(nn.Linear(z_dim, h_dim), nn.ReLU())
        self.enc = nn.Sequential(nn.Linear(2 * h_dim, h_dim), nn.ReLU())
        self.enc_mean, self.enc_logvar = nn.Linear(h_dim, z_dim), nn.Linear(h_dim, z_dim)
        self.prior = nn.Sequential(nn.Linear(h_dim, h_dim), nn.ReLU())
        self.prior_mean, self.prior_logvar = nn.Linear(h_dim, z_dim), nn.Linear(h_dim, z_dim)
        self.dec = nn.Sequential(nn.Linear(2 * h_dim, h_dim), nn.ReLU(), nn.Linear(h_dim, x_dim))
        self.rnn = nn.GRUCell(2 * h_dim, h_dim)

    def forward(self, x):
        h = x.new_zeros(x.size(1), self.h_dim)
        recons, kls = [], []
        for t in range(x.size(0)):
            fx = self.phi_x(x[t])
            e = self.enc(torch.cat([fx, h], -1))
            mu_q, lv_q = self.enc_mean(e), self.enc_logvar(e)
            p = self.prior(h)
            mu_p, lv_p = self.prior_mean(p), self.prior_logvar(p)
            z = mu_q + torch.randn_like(mu_q) * torch.exp(0.5 * lv_q)
            fz = self.phi_z(z)
            recons.append(self.dec(torch.cat([fz, h], -1)))
            kls.append(0.5 * (lv_p - lv_q + (lv_q.exp() + (mu_q - mu_p) ** 2) / lv_p.exp() - 1))
            h = self.rnn(torch.cat([fx, fz], -1), h)
        return torch.stack(recons), torch.stack(kls)


def loss_function(out, x):
    recon, kl = out
    rec = F.mse_loss(recon, x, reduction="sum") / x.size(1)
    kld = {KL}
    return rec + kld
"""

# two layers whose KLs (against a learned p(z1 | z2), and N(0, 1)) are of 4 and 2 latents, joined
_HIERARCHICAL = """import torch
import torch.nn as nn
import torch.nn.functional as F


def normal_kl(q_mu, q_logvar, p_mu, p_logvar):
    return 0.5 * (p_logvar - q_logvar + (q_logvar.exp() + (q_mu - p_mu).pow(2)) / p_logvar.exp() - 1)


class TwoLevel(nn.Module):
    def __init__(self):
        super().__init__()
        self.e1, self.e2, self.p1, self.dec = nn.Linear(20, 8), nn.Linear(4, 4), nn.Linear(2, 8), nn.Linear(4, 20)

    def forward(self, x):
        mu1, lv1 = self.e1(x).chunk(2, 1)
        z1 = mu1 + torch.randn_like(mu1) * torch.exp(0.5 * lv1)
        mu2, lv2 = self.e2(z1).chunk(2, 1)
        z2 = mu2 + torch.randn_like(mu2) * torch.exp(0.5 * lv2)
        pm, plv = self.p1(z2).chunk(2, 1)
        kl1 = normal_kl(mu1, lv1, pm, plv)
        kl2 = normal_kl(mu2, lv2, torch.zeros_like(mu2), torch.zeros_like(lv2))
        return self.dec(z1), torch.cat([kl1, kl2], 1)

    def loss_function(self, x):
        recon, kl = self(x)
        return F.mse_loss(recon, x, reduction="sum") / x.size(0) + kl.mean()
"""


def _line(path, text: str) -> int:
    return next(i for i, line in enumerate(open(path), 1) if text in line)


def test_a_dmm_kl_averaged_over_time_steps_is_found_and_its_near_miss_is_clean():
    buggy = f"{FIXTURES}/buggy/learned_prior_dmm_kl_mean_over_time.py"
    result = check(buggy, "MarkovSSM", ["8x10x6"])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE002", _line(buggy, "kl_loss = "))}
    message = result.findings[0].message
    assert "beta_eff = 1/10" in message and "per element as written" in message, message
    skipped = dict(result.skipped)
    assert "VAE002" not in skipped and "VAE004" not in skipped, skipped
    assert skipped["VAE007"] == LEARNED_PRIOR and skipped["VAE008"] == LEARNED_PRIOR
    clean = check(f"{FIXTURES}/clean/learned_prior_dmm_kl_summed.py", "MarkovSSM", ["8x10x6"])
    assert clean.error is None and clean.findings == [], [f.message for f in clean.findings]
    assert "VAE002" not in dict(clean.skipped) and clean.beta_effective == "1"


def test_the_reproducers_vrnn_kl_averaged_over_every_element_is_found(tmp_path):
    path = tmp_path / "vrnn.py"
    path.write_text(_VRNN.replace("{KL}", "kl.mean()"))
    result = check(str(path), "VRNN", ["10x6x12"])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE002", _line(path, "kld = kl.mean()"))}, [f.message for f in result.findings]
    assert "beta_eff = 1/50" in result.findings[0].message, result.findings[0].message
    fixed = tmp_path / "fixed.py"
    fixed.write_text(_VRNN.replace("{KL}", "kl.sum() / x.size(1)"))
    clean = check(str(fixed), "VRNN", ["10x6x12"])
    assert clean.error is None and clean.findings == [], [f.message for f in clean.findings]
    assert "VAE002" not in dict(clean.skipped)


def test_a_half_written_on_the_stacked_kl_is_not_judged_as_a_weight(tmp_path):
    # 0.5 * (sum of the steps' KLs without their 1/2): the formula's own constant, or a weight
    path = tmp_path / "vrnn.py"
    path.write_text(_VRNN.replace("{KL}", "0.5 * kl.sum() / x.size(1)"))
    result = check(str(path), "VRNN", ["10x6x12"])
    assert result.error is None and result.findings == [], [f.message for f in result.findings]
    assert "may be the KL formula's own" in dict(result.skipped)["VAE004"]


def test_kls_of_layers_of_different_sizes_joined_stay_unread(tmp_path):
    path = tmp_path / "hier.py"
    path.write_text(_HIERARCHICAL)
    result = check(str(path), "TwoLevel", ["8x20"])
    assert result.error is None and result.findings == []
    assert "several stochastic layers in one tensor" in dict(result.skipped)["VAE002"]
