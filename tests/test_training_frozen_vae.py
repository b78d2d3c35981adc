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


_DENOISING = """import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

batches = DataLoader(TensorDataset(torch.rand(48, 100)), batch_size=12)
net = nn.Sequential(nn.Linear(100, 16), nn.Tanh(), nn.Linear(16, 100))
optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
for (clean,) in batches:
    with torch.no_grad():
        corrupted = clean + 0.3 * torch.randn_like(clean)
    loss = F.mse_loss(net(corrupted), clean)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
"""


def test_noise_added_to_the_data_under_no_grad_is_no_frozen_sample(tmp_path):
    # a denoising autoencoder corrupts its batch under no_grad: noise met by the data, not by a
    # frozen model's heads; its step is checked as the model's (no VAE: the KL rules do not apply)
    script = tmp_path / "denoise_under_no_grad.py"
    script.write_text(_DENOISING)
    result = check(str(script), "-", [])
    assert result.error is None, result.error.message
    assert "drawn under torch.no_grad()" not in " ".join(result.notes)


def test_a_decoder_fine_tuned_on_a_frozen_encoder_is_asked_for_no_kl():
    # the encoder frozen with requires_grad_(False): VAE004 does not apply, and says why
    result = check(os.path.join(FIXTURES, "training", "decoder_finetuned_on_frozen_encoder.py"), "-", [])
    assert result.error is None, result.error.message
    assert found(result) == set()
    assert "the encoder is frozen" in dict(result.skipped).get("VAE004", ""), result.skipped
