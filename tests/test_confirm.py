"""The confirmation pass, through the CPU path (the same code runs on CUDA)."""

import os

import torch
from conftest import FIXTURES
from helpers import check
from typer.testing import CliRunner

from vaelint.cli import app
from vaelint.confirm import forward_backward as confirm

MLP = os.path.join(FIXTURES, "clean", "mlp_vae.py")
NOISE = os.path.join(FIXTURES, "seeds", "seed000_noise_latent_only.py")


def test_auto_picks_cuda_only_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert confirm.pick_device("auto") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert confirm.pick_device("auto") == "cuda"
    assert confirm.pick_device("cpu") == "cpu"


def test_cuda_requested_without_cuda_is_exit_2(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = CliRunner().invoke(app, ["check", f"{MLP}:VAE", "--input", "4x784", "--device", "cuda"])
    assert r.exit_code == 2 and "no CUDA device is available" in r.output


def test_a_model_too_large_for_the_device_skips_the_pass_with_a_notice(monkeypatch):
    monkeypatch.setattr(confirm, "fits", lambda model, device: "the model needs about 90.0 GiB and cpu has 1.0 GiB free")
    res = check(NOISE, "VAE", ["8x784"])
    assert res.error is None and res.confirmed_on is None
    assert any("confirmation pass skipped" in n for n in res.notes)
    assert res.findings and all(f.confirmed is None for f in res.findings)


def test_out_of_memory_during_the_pass_is_caught(monkeypatch):
    original = confirm._forward_backward

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(confirm, "_forward_backward", oom)
    res = check(NOISE, "VAE", ["8x784"])
    assert res.error is None and any("ran out of memory" in n for n in res.notes)
    monkeypatch.setattr(confirm, "_forward_backward", original)


def _spy_on_the_pass(monkeypatch) -> list:
    seen = []
    original = confirm.confirm_run

    def spy(
        capture, specs, device, total_of, seed=0, doubled=True, reuse=None, retain_graph=True, keep=None, random_nodes=None, contracts=None
    ):
        obs = original(capture, specs, device, total_of, seed, doubled, reuse, retain_graph, keep, random_nodes, contracts)
        obs.retained = retain_graph
        obs.reused = reuse is not None and obs.result is reuse
        seen.append(obs)
        return obs

    monkeypatch.setattr("vaelint.confirm.stage.confirm_run", spy)
    return seen


def test_the_pass_trains_at_the_batch_and_runs_a_doubled_batch_only_when_a_finding_reads_it(monkeypatch, fixtures_dir):
    seen = _spy_on_the_pass(monkeypatch)
    res = check(NOISE, "VAE", ["8x784"])
    (obs,) = seen
    assert obs.result.batch == 8 and obs.doubled is None  # VAE001 reads the noise at B
    # on the CPU the pass takes the shape stage's run at B (kept with its graph)
    assert obs.reused
    assert obs.result.tensors and all(t.grad_fn is not None or not t.requires_grad for t in obs.result.tensors.values())
    assert any(t.requires_grad for t in obs.result.tensors.values())
    assert obs.loss_value is not None and obs.grads  # backward ran
    assert res.findings[0].code == "VAE001" and res.findings[0].confirmed is True
    # VAE002 on a KL summed over the batch: the ratio is shown moving at 2*B
    seen.clear()
    res = check(f"{fixtures_dir}/buggy/kl_sum_over_batch_only.py", "VAE", ["6x32"])
    (obs,) = seen
    assert obs.doubled is not None and obs.doubled.batch == 12
    assert [(f.code, f.confirmed) for f in res.findings] == [("VAE002", True)]
    # a clean model: no second batch
    seen.clear()
    assert check(MLP, "VAE", ["8x784"]).findings == []
    assert seen[0].doubled is None


def test_noise_confirmation_recovers_each_samples_noise():
    clean = check(MLP, "VAE", ["8x784"])
    assert clean.findings == []
    buggy = check(NOISE, "VAE", ["8x784"])
    assert [f.confirmed for f in buggy.findings if f.code == "VAE001"] == [True]


def test_a_rule_that_crashes_does_not_hide_the_others(monkeypatch):
    from vaelint.rules.vae012_device_mismatch import DeviceMismatch

    def boom(self, ctx):
        raise ZeroDivisionError("division by zero")
        yield  # pragma: no cover

    monkeypatch.setattr(DeviceMismatch, "check", boom)
    res = check(NOISE, "VAE", ["8x784"])
    assert res.error is None
    assert [f.code for f in res.findings] == ["VAE001"]
    assert any(n.startswith("VAE012 could not check this model (ZeroDivisionError") for n in res.notes)
    # and it is a rule not checked, never a clean result: the summary and the JSON's skipped say so
    assert ("VAE012", "the rule failed on this model, a bug in vaelint (the note says where)") in res.skipped


def test_the_graph_is_kept_after_the_backward_only_for_a_finding_that_reads_gradients(monkeypatch, fixtures_dir):
    seen = _spy_on_the_pass(monkeypatch)
    assert check(MLP, "VAE", ["8x784"]).findings == []
    assert seen[-1].retained is False
    res = check(f"{fixtures_dir}/buggy/decoder_fed_mu.py", "VAE", ["8x40"])
    assert seen[-1].retained is True  # VAE009 asks d recon / d std of the real run
    assert [(f.code, f.confirmed) for f in res.findings] == [("VAE009", True)]


def test_large_inner_activations_are_let_go_before_the_backward(monkeypatch):
    seen = _spy_on_the_pass(monkeypatch)
    assert check(MLP, "VAE", ["256x784"]).findings == []
    obs = seen[-1]
    big = [t for t in obs.result.tensors.values() if t.numel() > 1 << 16]
    # 256 x 784 input and reconstruction stay (read by the rules); the 256 x 400 hidden layers go
    assert sorted(tuple(t.shape) for t in big) == [(256, 784)] * len(big) and big


def test_a_replayed_draw_is_taken_only_at_its_shape_and_in_place_for_an_in_place_draw():
    import torch

    from vaelint.capture.result import take_replay

    drawn, replay = torch.zeros(4, 2), torch.ones(4, 2)
    assert take_replay("randn_like", drawn, replay) is replay and drawn.sum() == 0
    assert take_replay("normal_", drawn, replay) is drawn and drawn.sum() == 8  # eps.normal_(): in place
    pinned = torch.zeros(2, 2)  # randn(8, Z) at twice the batch: another shape, drawn fresh
    assert take_replay("randn", pinned, torch.ones(4, 2)) is pinned and pinned.sum() == 0


def test_a_stage_whose_gradient_is_zero_names_the_dead_activation(monkeypatch):
    # a decoder ending in a ReLU whose every value is 0 at its initialisation: "decoder gradient
    # norm 0; no rule explains it" said nothing of where; the message names the ReLU and its line
    from conftest import FIXTURES
    from json_cli import check_json

    monkeypatch.chdir(FIXTURES)
    r, result = check_json("buggy/dead_relu_output.py:VAE", "--input", "16x784")
    assert r.exit_code == 2 and result["error"] is not None, r.output
    message = " ".join(result["error"]["message"].split())
    assert "decoder gradient norm 0: every value of `relu` at buggy/dead_relu_output.py:22" in message, message
    assert "is 0 at this initialisation" in message and "End the decoder with no activation" in message


DENSE_GRAPH = """
import torch
import torch.nn as nn
import torch.nn.functional as F


def dense_adjacency(edge_index, n):
    adj = torch.zeros(n, n, device=edge_index.device)
    adj[edge_index[0], edge_index[1]] = 1.0
    return adj


class DenseAdjVGAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.mu, self.logvar = nn.Linear(10, 16), nn.Linear(16, 4), nn.Linear(16, 4)

    def forward(self, x, edge_index):
        h = F.relu(dense_adjacency(edge_index, x.size(0)) @ self.lin(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return z @ z.t(), mu, logvar


def vgae_loss(out, x, edge_index):
    logits, mu, logvar = out
    rec = F.binary_cross_entropy_with_logits(logits, dense_adjacency(edge_index, x.size(0)))
    return rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
"""


def test_a_term_over_pairs_of_samples_is_not_confirmed_by_a_doubled_batch(tmp_path):
    """A graph VAE's reconstruction averaged over the N x N adjacency beside a KL summed over the
    nodes: VAE002 is right, but two copies of the graph add the pairs across the copies, so the
    doubled batch cannot show it: unconfirmed (None), never "not confirmed" (False)."""
    path = tmp_path / "graph.py"
    path.write_text(DENSE_GRAPH)
    result = check(str(path), "DenseAdjVGAE", ["30x10", "2x90:int64:30"], loss=f"{path}:vgae_loss")
    (finding,) = [f for f in result.findings if f.code == "VAE002"]
    assert "B*B" in finding.message and finding.confirmed is None
