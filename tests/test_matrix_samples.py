"""A sample drawn through a scale matrix, ``mu + L @ eps`` (a full-covariance posterior, a
MultivariateNormal's rsample through its scale_tril), is a reparameterised sample: the run takes
its backward for a VAE's (it passed over it as a generator's latent through a layer) and the graph
finds the layer (it said "no reparameterisation", nine rules skipped; yookoon/VLAE,
parneyw/vae-tutorial). The KL rules do not read such a KL against the diagonal closed form; the
others run (fixtures/training/running/full_covariance_decoder_fed_mean.py: VAE009,
multivariate_normal_diagonal.py: clean; rules/vae001_noise_shape.py's full-covariance examples)."""

from __future__ import annotations

import os

import torch
from conftest import FIXTURES
from helpers import check, found

from vaelint.frontends.training.livenoise import _a_layer

RUNNING = os.path.join(FIXTURES, "training", "running")


def test_a_product_with_a_layers_weight_is_a_layer_and_with_a_computed_matrix_is_not():
    weight = torch.nn.Parameter(torch.randn(4, 4))
    noise = torch.randn(8, 4)
    computed = torch.randn(8, 4, 4, requires_grad=True) * 2  # the encoder's output: not a leaf
    assert _a_layer(torch.matmul, (noise, weight), {})
    assert _a_layer(torch.nn.functional.linear, (noise, weight), {})
    assert not _a_layer(torch.matmul, (computed, noise.unsqueeze(-1)), {})
    assert not _a_layer(torch.bmm, (computed, noise.unsqueeze(-1)), {})
    assert not _a_layer(torch.add, (noise, noise), {})


def test_the_full_covariance_step_is_the_vaes_and_its_kl_rules_say_why_not():
    result = check(os.path.join(RUNNING, "full_covariance_decoder_fed_mean.py"), "-", [])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE009", 28)}
    skipped = dict(result.skipped)
    assert "scale matrix" in skipped["VAE007"] and "scale matrix" in skipped["VAE004"], skipped
    assert "VAE001" not in skipped and "VAE009" not in skipped
    assert not any("reaches no random sample" in n for n in result.notes), result.notes


def test_a_multivariate_normal_with_a_diagonal_scale_is_clean():
    result = check(os.path.join(RUNNING, "multivariate_normal_diagonal.py"), "-", [])
    assert result.error is None, result.error.message
    assert not result.findings
    assert "VAE009" not in dict(result.skipped) and "VAE010" not in dict(result.skipped)
