"""An optimiser step the run leaves out (vaelint never steps one) must not hide a backward that a
real run's step breaks: a critic stepped inside the VAE's step, between the VAE loss's forward and
its backward (vaelint/frontends/training/livestepped.py)."""

from json_cli import check_json as _json
from training_cli import RUNNING


def test_a_step_that_changes_weights_the_vae_backward_needs_is_the_error_a_real_run_raises(monkeypatch):
    # FactorVAE's critic updated inside the VAE's step (amir-abdi/disentanglement-pytorch): every real
    # run raises at the VAE's backward; the check said "no findings", exit 0
    monkeypatch.chdir(RUNNING)
    r, result = _json("critic_stepped_inside_the_vae_step.py")
    assert r.exit_code == 2, r.output
    message = result["error"]["message"]
    assert "RuntimeError: one of the variables needed for gradient computation has been modified by an inplace operation" in message
    assert "changed in place by the optimiser step at critic_stepped_inside_the_vae_step.py:45" in message, message
    assert "stopped at critic_stepped_inside_the_vae_step.py:48" in message, message


def test_a_critic_stepped_after_the_vae_backward_is_checked(monkeypatch):
    # the near miss: the same critic trained after the VAE's backward; nothing the backward reads changed
    monkeypatch.chdir(RUNNING)
    r, result = _json("critic_stepped_after_the_vae_backward.py")
    assert r.exit_code == 0 and result["error"] is None and result["findings"] == [], r.output
    assert result["loss"].endswith("backward at line 41)"), result["loss"]


def test_the_marked_weights_keep_their_values():
    import torch

    from vaelint.frontends.training.livestepped import mark_changed

    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight[0, 0] = -0.0
        layer.weight[0, 1] = float("inf")
    before, version, bias_version = layer.weight.detach().clone(), layer.weight._version, layer.bias._version
    opt = torch.optim.SGD(layer.parameters(), lr=1.0)
    changed = mark_changed(opt, {id(layer.weight)})
    assert [p is layer.weight for p, _where in changed] == [True]
    assert torch.equal(layer.weight.detach(), before) and torch.signbit(layer.weight[0, 0])
    assert layer.weight._version > version and layer.bias._version == bias_version  # the bias got no gradient: not marked


def test_a_weight_torch_will_not_write_in_place_is_left_as_it_is():
    import torch

    from vaelint.frontends.training.livestepped import mark_changed

    with torch.inference_mode():
        frozen = torch.nn.Parameter(torch.ones(3), requires_grad=False)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=1.0)
    opt.param_groups[0]["params"].append(frozen)
    assert mark_changed(opt, {id(frozen)}) == [] and torch.equal(frozen, torch.ones(3))
