"""beta_eff as the report writes it (a formula in B, D, Z and its value) equals a
direct measurement on the model's own tensors, at several batch, data and
latent sizes: the KL term's weight per summed KL over the reconstruction term's
weight per summed reconstruction element."""

import math
import textwrap

import pytest
import torch
from helpers import check

MODEL = """
import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, dim, latent):
        super().__init__()
        self.enc = nn.Linear(dim, 2 * latent)
        self.dec = nn.Linear(latent, dim)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec_el = (recon - x) ** 2
    kl_el = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    return {REC} + {KL}
"""

# (the reconstruction term, the KL term) as a user writes them
VARIANTS = {
    "sum, sum": ("rec_el.sum()", "kl_el.sum()"),
    "mean, sum": ("rec_el.mean()", "kl_el.sum()"),
    "sum, mean": ("rec_el.sum()", "kl_el.mean()"),
    "mean, mean": ("rec_el.mean()", "kl_el.mean()"),
    "per-sample sums, batch mean": ("rec_el.sum(1).mean()", "kl_el.sum(1).mean()"),
    "per-sample mean, sum": ("rec_el.mean(1).sum()", "kl_el.sum()"),
    "sum, per-sample sum averaged": ("rec_el.sum()", "kl_el.sum(1).mean()"),
    "mean, per-sample sum averaged": ("rec_el.mean()", "kl_el.sum(1).mean()"),
    "both / x.size(0)": ("rec_el.sum() / x.size(0)", "kl_el.sum() / x.size(0)"),
}
SIZES = [(4, 12, 3), (8, 12, 3), (4, 30, 3), (4, 12, 5)]  # (B, D, Z)


def _measured(rec_code: str, kl_code: str, b: int, d: int, z: int) -> float:
    """KL weight / reconstruction weight, read off the two terms on random tensors."""
    g = torch.Generator().manual_seed(0)
    recon, x = torch.rand(b, d, generator=g), torch.rand(b, d, generator=g)
    mu, logvar = torch.randn(b, z, generator=g), torch.randn(b, z, generator=g)
    rec_el = (recon - x) ** 2
    kl_el = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    scope = {"rec_el": rec_el, "kl_el": kl_el, "x": x}
    rec = float(eval(rec_code, scope)) / float(rec_el.sum())  # noqa: S307 - the variant's own code
    kl = float(eval(kl_code, scope)) / float(kl_el.sum())  # noqa: S307
    return kl / rec


@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
def test_beta_eff_formula_and_value_match_a_measurement(variant, tmp_path):
    rec_code, kl_code = VARIANTS[variant]
    path = tmp_path / "vae.py"
    path.write_text(textwrap.dedent(MODEL).replace("{REC}", rec_code).replace("{KL}", kl_code))
    formulas = set()
    for b, d, z in SIZES:
        result = check(str(path), "VAE", [f"{b}x{d}"], init={"dim": d, "latent": z}, dynamic=False)
        assert result.error is None, result.error.message
        formula = result.beta_effective
        formulas.add(formula)
        value = eval(formula.replace("B", str(b)).replace("D", str(d)).replace("Z", str(z)), {"__builtins__": {}})  # noqa: S307
        assert math.isclose(value, _measured(rec_code, kl_code, b, d, z), rel_tol=1e-6), (variant, b, d, z, formula)
        # a finding's message states the same value
        for f in result.findings:
            if f.code == "VAE002":
                assert f"= {value:g}" in f.message, (f.message, value)
    assert len(formulas) == 1  # one formula in B, D, Z for every size


def test_a_kl_written_as_a_constant_over_the_batch_size_is_read(monkeypatch):
    # -0.5 / x.size(0) * torch.sum(...): fx holds -0.5 / x.size(0) as a number over a size, which
    # no run records; the term was not read ("not checked: VAE002, VAE004", exit 0)
    from conftest import FIXTURES
    from json_cli import check_json

    monkeypatch.chdir(FIXTURES)
    r, clean = check_json("clean/kl_constant_over_batch_size.py:VAE", "--input", "32x784")
    assert clean["beta_effective"] == "1" and clean["skipped"] == [] and not clean["findings"], r.output
    r, buggy = check_json("buggy/kl_constant_over_batch_size.py:VAE", "--input", "32x784")
    assert [f["code"] for f in buggy["findings"]] == ["VAE002"] and "beta_eff = 1/B" in buggy["findings"][0]["message"], r.output


def test_loss_terms_kept_in_a_vector_are_read_through_it(monkeypatch):
    # losses[1] += kl; loss = w * losses[0] + beta * losses[1]: fx stopped at the item assignment
    from json_cli import check_json
    from training_cli import RUNNING

    monkeypatch.chdir(RUNNING)
    r, result = check_json("loss_vector_buffer_beta_one.py")
    assert result["capture"] == "torch.fx" and result["beta_effective"] == "1", r.output
    assert [s["code"] for s in result["skipped"]] == ["VAE012"], result["skipped"]  # the KL rules all ran


@pytest.mark.parametrize(
    "rec_mean, kl_mean, data, latent, said",
    [
        (16384, 128, 3 * 128 * 128, 128, "16384/Z"),  # discriminator features, not D: never "Z" because 16384/128 = 128
        (784, 16, 784, 16, "D/Z"),
        (784, 1, 784, 16, "D"),
        (1, 16, 784, 16, "1/Z"),
        (1, 1, 784, 16, "1"),
        (10000, 100, 50, 16, "100"),  # neither side is D or Z: the number
    ],
)
def test_beta_eff_names_each_terms_own_averaged_size(rec_mean, kl_mean, data, latent, said):
    # a VAE-GAN whose reconstruction averages 16384 discriminator features beside a KL averaged
    # over Z = 128 was said "5*Z": the symbol was the first whose value matched the ratio
    from vaelint.facts.lossscales import LossScales
    from vaelint.facts.reductions import Factor, TermScale

    def term(size):
        return TermScale(None, None, [Factor("mean", 1.0, 0, size, "", None, "mean")])

    assert LossScales(term(rec_mean), term(kl_mean)).formula(data, latent) == said


def test_a_kl_without_its_minus_one_is_the_kl_plus_a_constant(monkeypatch):
    # 0.5 * sum(mu^2 + exp(logvar) - logvar): the same gradients as the KL; VAE007 called it no KL
    from conftest import FIXTURES
    from json_cli import check_json

    monkeypatch.chdir(FIXTURES)
    r, result = check_json("clean/kl_without_its_minus_one.py:VAE", "--input", "32x784")
    assert not result["findings"] and result["skipped"] == [] and result["beta_effective"] == "1", r.output
    assert any("is the Gaussian KL plus a constant (the - 1 of each latent dim is left out)" in n for n in result["notes"])


def test_numpy_sizes_in_forward_are_traced_symbolically(monkeypatch):
    from conftest import FIXTURES
    from json_cli import check_json

    monkeypatch.chdir(FIXTURES)
    r, result = check_json("clean/numpy_sizes_in_forward.py:VAE", "--input", "8x1x28x28")
    assert result["capture"] == "torch.fx" and not result["findings"] and result["beta_effective"] == "1", r.output
