"""A run whose only backwards train another network from a frozen VAE's samples (a world model's
dynamics net on latents drawn under torch.no_grad()): no VAE step to check, said with where the
sample was drawn and where the other network's backward is (vaelint/frontends/training/livenoise.py
frozen_only). Noise scaled under no_grad is still noise, and a step where the VAE's own loss
joins is checked."""

import os

from conftest import FIXTURES
from helpers import check, found

RUNNING = os.path.join(FIXTURES, "training", "running")


def test_a_dynamics_net_trained_on_a_frozen_vaes_latents_is_no_vae_step():
    result = check(os.path.join(RUNNING, "frozen_vae_world_model.py"), "-", [])
    assert result.error is not None and result.error.kind == "load"
    message = result.error.message
    assert "no training step of a VAE to check" in message, message
    assert "running/frozen_vae_world_model.py:23 is drawn under torch.no_grad()" in message, message
    assert "running/frozen_vae_world_model.py:54 trains another network" in message, message


def test_the_same_world_model_trained_jointly_is_checked():
    result = check(os.path.join(RUNNING, "frozen_vae_world_model_trained_jointly.py"), "-", [])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE002", 48)}


def test_noise_scaled_per_latent_dim_under_no_grad_is_still_noise():
    result = check(os.path.join(RUNNING, "scaled_noise_drawn_under_no_grad.py"), "-", [])
    assert result.error is None, result.error.message
    assert found(result) == set()
    assert {r.name for r in result.flow if r.stage == "loss"} >= {"rec", "kl"}
