"""The KL reading survives float32: a property test over head scales, latent
sizes, dtypes and spellings of the Gaussian KL (issue: "Right on real VAEs", 1).

An untrained encoder gives |mu|, |logvar| from 1e-6 up; in float32,
``1 + logvar - mu**2 - exp(logvar)`` then cancels to a few significant digits.
A correct KL must still read as the KL (no VAE007, beta_eff as its reductions
say), and a wrong one must still read as wrong, at every scale.
"""

from __future__ import annotations

import textwrap

import pytest
import torch
from helpers import check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaelint.facts.gaussian_kl import NOT_CONSTANT, UNKNOWN, closed_form, ratio

_MODEL = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    """Heads scaled to ``scale``: mu and logvar are about scale * U(-1, 1)."""

    def __init__(self, latent=4, scale=1.0, dtype="float32"):
        super().__init__()
        self.scale = scale
        self.enc = nn.Linear(6, 2 * latent)
        self.dec = nn.Linear(latent, 6)
        with torch.no_grad():
            self.enc.weight.uniform_(-1, 1)
            self.enc.bias.zero_()
        self.to(getattr(torch, dtype))

    def forward(self, x):
        mu, logvar = (self.scale * torch.tanh(self.enc(x))).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = {REC}
    kl = {KL}
    return rec + kl
'''

_SUM = 'F.binary_cross_entropy(recon, x, reduction="sum")'
_PER_SAMPLE_MEAN = 'torch.mean(torch.sum(F.binary_cross_entropy(recon, x, reduction="none"), dim=1))'
_ELEMENT_MEAN = 'torch.mean(torch.mean(F.binary_cross_entropy(recon, x, reduction="none"), 1))'

# (reconstruction term, KL term, beta_eff): every common spelling of a correct KL
CORRECT = [
    (_SUM, "-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())", "1"),
    (_SUM, "-0.5 * torch.sum(1 + logvar - mu ** 2 - torch.exp(logvar))", "1"),
    (_SUM, "0.5 * torch.sum(mu.square() + logvar.exp() - 1 - logvar)", "1"),
    (_SUM, "torch.sum(-0.5 * (1 + logvar - torch.square(mu) - logvar.exp()))", "1"),
    (_PER_SAMPLE_MEAN, "torch.mean(-0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1), dim=0)", "1"),
    (_ELEMENT_MEAN, "torch.mean(torch.mean(-0.5 * (1 + logvar - mu ** 2 - logvar.exp()), 1))", "1"),
    (_SUM, "0.5 * torch.sum(mu * mu + torch.exp(logvar) - logvar - 1)", "1"),
]
# a wrong KL: (KL term, the words VAE007 must say)
WRONG = [
    ("0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())", "wrong sign"),
    ("-torch.sum(1 + logvar - mu.pow(2) - logvar.exp())", "missing 1/2"),
    ("-0.5 * torch.sum(1 + logvar - logvar.exp())", "not the Gaussian KL"),
]

scales = st.integers(-6, 1).map(lambda e: 10.0**e)
latents = st.sampled_from([2, 3, 16, 128, 512, 1024])
dtypes = st.sampled_from(["float32", "float64"])


def _analyse(tmp_path, rec, kl, latent, scale, dtype):
    path = tmp_path / "kl_model.py"
    path.write_text(_MODEL.replace("{REC}", rec).replace("{KL}", kl))
    spec = "5x6" if dtype == "float32" else "5x6:float64"
    return check(str(path), "VAE", [spec], init={"latent": latent, "scale": scale, "dtype": dtype}, dynamic=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spelling=st.sampled_from(CORRECT), latent=latents, scale=scales, dtype=dtypes)
def test_a_correct_kl_reads_as_the_kl_at_every_scale(tmp_path, spelling, latent, scale, dtype):
    rec, kl, beta = spelling
    result = _analyse(tmp_path, rec, kl, latent, scale, dtype)
    assert result.error is None, result.error.message
    assert [f.message for f in result.findings if f.code in ("VAE007", "VAE008")] == []
    if rec == _ELEMENT_MEAN:
        assert result.beta_effective == "D/Z" if latent != 6 else "1"
    else:
        assert result.beta_effective == beta


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wrong=st.sampled_from(WRONG), latent=latents, scale=scales, dtype=dtypes)
def test_a_wrong_kl_reads_as_wrong_at_every_scale(tmp_path, wrong, latent, scale, dtype):
    kl, words = wrong
    result = _analyse(tmp_path, _SUM, kl, latent, scale, dtype)
    assert result.error is None, result.error.message
    hits = [f.message for f in result.findings if f.code == "VAE007"]
    assert hits and words in hits[0], [f.message for f in result.findings]


def test_the_bundled_mlp_vae_at_latent_32_is_clean(fixtures_dir):
    """The report of issue 8: float32 cancellation at latent 32 read as 'no constant multiple'."""
    result = check(f"{fixtures_dir}/clean/mlp_vae.py", "VAE", ["32x784"], init={"latent_dim": 32})
    assert result.error is None
    assert result.findings == []
    assert result.beta_effective == "1"


@given(log_scale=st.integers(-6, 1), n=st.integers(2, 1024), c=st.sampled_from([1.0, -1.0, 2.0, 0.5, -0.25]))
@settings(max_examples=80, deadline=None)
def test_ratio_finds_the_constant_of_a_float64_element(log_scale, n, c):
    """ratio() on an element computed exactly in float64: finds c whatever the scale."""
    g = torch.Generator().manual_seed(n)
    scale = 10.0**log_scale
    mu = scale * (2 * torch.rand(n, generator=g, dtype=torch.float64) - 1)
    lv = scale * (2 * torch.rand(n, generator=g, dtype=torch.float64) - 1)
    ref = closed_form(mu, lv)
    element = c * ref
    bound = 16 * torch.finfo(torch.float64).eps * (1 + mu**2 + lv.abs() + lv.exp())
    found = ratio(element, ref, bound)
    if found.constant:
        assert found.value == pytest.approx(c, rel=1e-3)
    else:
        assert found is UNKNOWN  # too close to zero to tell: never "not a KL"


def test_ratio_says_not_constant_for_a_missing_term():
    mu = torch.linspace(-1, 1, 20, dtype=torch.float64)
    lv = torch.linspace(-0.5, 0.7, 20, dtype=torch.float64)
    no_mean_term = 0.5 * (torch.expm1(lv) - lv)
    assert ratio(no_mean_term, closed_form(mu, lv), torch.zeros(20, dtype=torch.float64)) == NOT_CONSTANT


def test_float32_rounding_is_not_taken_for_a_wrong_formula():
    """The float32 element at |mu|, |logvar| ~ 1e-3 is a few percent off the exact KL;
    judged with float32's error bound, it is 'cannot tell', never 'not a KL'."""
    from vaelint.facts.gaussian_kl import rounding_error

    g = torch.Generator().manual_seed(1)
    mu32 = 1e-3 * torch.randn(256, generator=g)
    lv32 = 1e-3 * torch.randn(256, generator=g)
    e32 = -0.5 * (1 + lv32 - mu32.pow(2) - lv32.exp())
    mu, lv = mu32.double(), lv32.double()
    exact = closed_form(mu, lv)
    assert float(((e32.double() - exact) / exact).abs().median()) > 1e-3  # the rounding is real
    found = ratio(e32.double(), exact, rounding_error(torch.float32, mu, lv))
    assert found.value == pytest.approx(1.0, rel=1e-3) or found is UNKNOWN


def test_a_kl_computed_in_float32_inside_an_op_is_read_not_flagged(tmp_path):
    """An op in the formula that computes in float32 whatever its inputs: the replay
    notes the lower precision and judges with its error bound, on heads spread
    around the run's (too small to read at 1e-3 in float32)."""
    path = tmp_path / "opaque_kl.py"
    path.write_text(
        textwrap.dedent(_MODEL.replace("{REC}", _SUM).replace("{KL}", "torch.sum(_opaque(mu, logvar))"))
        + textwrap.dedent(
            """

            class _Opaque(torch.autograd.Function):
                @staticmethod
                def forward(ctx, mu, logvar):
                    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).to(torch.float32)

                @staticmethod
                def backward(ctx, g):
                    return g, g


            def _opaque(mu, logvar):
                return _Opaque.apply(mu, logvar)
            """
        )
    )
    result = check(str(path), "VAE", ["5x6"], init={"latent": 64, "scale": 1e-3}, dynamic=False)
    assert result.beta_effective == "1"
    assert result.error is None, result.error.message
    assert [f.message for f in result.findings if f.code == "VAE007"] == []


def test_without_a_float64_replay_tiny_heads_are_skipped_with_a_reason(tmp_path, monkeypatch):
    """Where the formula cannot be replayed, the run's float32 element is judged
    with float32's error bound: at |mu| ~ 1e-3 that cannot decide, and the report
    says which rules did not run and why instead of flagging the KL."""
    import vaelint.facts.gaussian_kl as gk

    monkeypatch.setattr(gk, "replay", lambda *a, **k: None)
    result = _analyse(tmp_path, _SUM, CORRECT[0][1], 256, 1e-3, "float32")
    assert result.error is None, result.error.message
    assert [f.code for f in result.findings] == []
    skipped = dict(result.skipped)
    assert {"VAE002", "VAE004", "VAE007", "VAE008"} <= set(skipped)
    assert "too close to zero" in skipped["VAE007"] and "float64" in skipped["VAE007"]


def test_a_kl_against_a_learned_sequential_prior_is_said_as_such(fixtures_dir):
    """SLAC's KL between the posterior and a prior a network computes from the previous sample:
    it reads the sample only through that network, so it is no Monte Carlo estimate, and its
    element is far from zero; the rules it keeps from running say what it is (toshikwa/slac.pytorch:
    'too close to zero' and 'a Monte Carlo estimate' before)."""
    from vaelint.facts.learnedprior import LEARNED_PRIOR

    result = check(f"{fixtures_dir}/clean/sequential_learned_prior.py", "SequentialVAE", ["8x5x12"])
    assert result.error is None and not result.findings
    skipped = dict(result.skipped)
    assert all(skipped[code] == LEARNED_PRIOR for code in ("VAE002", "VAE004", "VAE007", "VAE008")), skipped


def test_a_penalty_on_the_weights_weighted_0_is_not_said_as_the_kl_weighted_0(tmp_path, fixtures_dir):
    """Mult-VAE's loss adds weight_decay * l2 with weight_decay 0 (cydonia999's Trainer): that
    term is no KL, and the reason the KL rules did not run (here: a learned prior) stands, not
    'the loss term at ... is multiplied by 0'."""
    from vaelint.facts.learnedprior import LEARNED_PRIOR

    text = open(f"{fixtures_dir}/clean/sequential_learned_prior.py").read()
    text = text.replace(
        "        return rec + kl",
        "        total = rec + self.weight_decay * sum(p.pow(2).sum() for p in self.parameters())\n        return total + kl",
    )
    text = text.replace("def __init__(self, x_dim=12, z_dim=4):", "def __init__(self, x_dim=12, z_dim=4, weight_decay=0.0):")
    text = text.replace("        super().__init__()\n", "        super().__init__()\n        self.weight_decay = weight_decay\n", 1)
    path = tmp_path / "model.py"
    path.write_text(text)
    result = check(str(path), "SequentialVAE", ["8x5x12"])
    assert result.error is None and not result.findings
    skipped = dict(result.skipped)
    assert skipped["VAE002"] == LEARNED_PRIOR, skipped
    assert not any("multiplied by 0" in n for n in result.notes), result.notes


def test_a_spatial_kl_flattened_per_sample_is_read():
    # element.view(B, -1).sum(1).mean() of a B x C x h x w latent: the flattened element was "the KL
    # element and the encoder's heads do not share a shape" (VAE007, VAE008 skipped) and "too close
    # to zero" (VAE002, VAE004 skipped); it is the heads laid out per sample
    import os

    from conftest import FIXTURES
    from json_cli import check_json

    r, result = check_json(os.path.join(FIXTURES, "clean", "spatial_kl_flattened_per_sample.py:ConvVAE"), "--input", "4x3x16x16")
    assert r.exit_code == 0 and result["findings"] == [] and result["skipped"] == [], r.output
    kl = next(row for row in result["flow"] if row["name"] == "kl")
    assert kl["reduction"] == "mean over B, sum over 256", kl
