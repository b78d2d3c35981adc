"""What a check spares where the code's own step ran on a real GPU (issue 33): there a batch
tensor the step left on the CPU raised in the code's own run, so VAE012's simulated run (a whole
forward of the model on the CPU, the most of a latent-diffusion VAE's check on a GPU machine) is
not made for the step's batch. Tested through the CPU path: the weights' place is what decides."""

import vaelint.rules.vae012_device_mismatch as vae012
from fixture_cases import all_cases, run_case

import vaelint.confirm.simrun as simrun


def _case(rel):
    return next(c for c in all_cases() if c.path.endswith(rel))


def _simulated_runs(monkeypatch) -> list:
    made = []
    real = simrun.simulate
    monkeypatch.setattr(simrun, "simulate", lambda *a, **k: made.append(1) or real(*a, **k))
    return made


def test_on_the_cpu_a_step_that_moves_its_batch_is_run_on_the_simulated_gpu(monkeypatch):
    made = _simulated_runs(monkeypatch)
    result = run_case(_case("training/running/batch_moved_but_the_original_passed.py"))
    assert made and [f.code for f in result.findings] == ["VAE012"], [f.message for f in result.findings]


def test_a_step_whose_model_is_on_a_real_gpu_is_not_run_again_on_the_simulated_one(monkeypatch):
    made = _simulated_runs(monkeypatch)
    monkeypatch.setattr(vae012, "on_a_real_gpu", lambda ctx: True)
    result = run_case(_case("training/running/batch_moved_and_passed.py"))
    assert result.error is None and not made and not result.findings, [f.message for f in result.findings]
    assert "VAE012" not in {code for code, _why in result.skipped}


def test_the_weights_place_is_read_from_the_model():
    from types import SimpleNamespace

    import torch

    from vaelint.confirm.simrun import on_a_real_gpu

    for model in (torch.nn.Linear(2, 2), torch.nn.ReLU()):  # on the CPU; no weights: nothing on a GPU
        assert not on_a_real_gpu(SimpleNamespace(capture=SimpleNamespace(wrapper=model)))
