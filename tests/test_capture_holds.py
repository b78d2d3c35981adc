"""What a recorded or traced run of the captured computation holds: every tensor at the user's
batch for the rules to read, only the values a rule asks for, shapes alone at the shape stage's
extra batch sizes (fake tensors where large), and past a size no activation wider than its inputs:
a large VAE's check holds no more than its training step does."""

import os

import pytest
from conftest import FIXTURES
from helpers import captured_graph as _graph

from vaelint.capture.ops import op_name
from vaelint.facts.shapes import make_inputs
from vaelint.inputs import parse_input_spec

NOISE = os.path.join(FIXTURES, "seeds", "seed000_noise_latent_only.py")


def test_a_run_that_does_not_hold_its_tensors_still_records_every_shape():
    # the shapes stage's extra batches (vaelint/facts/shapes.py) read shapes only, and
    # holding every activation cost a large model up to 3x a plain forward
    import torch

    for route in ("fx", "record"):
        cap = _graph(NOISE, "VAE", route=route)
        inputs = make_inputs([parse_input_spec("4x784")], 5)
        with torch.no_grad():
            held, shapes_only = cap.run(inputs, 5), cap.run(inputs, 5, hold=False)
        assert held.tensors and not shapes_only.tensors, route
        assert shapes_only.shapes == held.shapes and (5, 784) in shapes_only.shapes.values(), route


def test_the_extra_batches_of_the_shapes_stage_hold_no_tensors():
    import torch

    from vaelint.facts.shapes import run_batches

    cap = _graph(NOISE, "VAE")
    runs = run_batches(cap, [parse_input_spec("4x784")])
    assert runs.extra and runs.runs[runs.batch].tensors
    for b in runs.extra:
        assert not runs.runs[b].tensors and runs.runs[b].shapes
    linear = next(n for n in cap.graph.nodes if n.meta.get("shape") and n.meta["shape"].sizes == (4, 784))
    assert linear.meta["shape"].text() == "B x 784"
    assert torch.is_tensor(runs.runs[runs.batch].tensors[linear])


FREES = """import gc
import weakref

import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(32, 64), nn.Linear(64, 8)
        self.dec = nn.Linear(4, 32)
        self.freed = []

    def forward(self, x):
        h = self.a(x)
        first = weakref.ref(h)
        h = torch.relu(h)
        gc.collect()
        self.freed.append(first() is None)  # the first activation, once nothing of the model holds it
        mu, logvar = self.b(h).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar
"""


def test_a_recorded_run_that_holds_nothing_frees_each_activation_as_a_plain_forward_does(tmp_path):
    # an SD-VAE's extra shape batch held every activation to its end: 3.4x a training step's memory
    import torch

    path = tmp_path / "frees.py"
    path.write_text(FREES)
    cap = _graph(str(path), "VAE", spec="4x32", route="record")
    model = next(m for m in cap.wrapper.modules() if type(m).__name__ == "VAE")
    inputs = make_inputs([parse_input_spec("4x32")], 5)
    with torch.no_grad():
        cap.run(inputs, 5)
        assert model.freed[-1] is False  # a run that holds its tensors keeps them
        cap.run(inputs, 5, hold=False)
        assert model.freed[-1] is True


def test_a_run_holds_only_the_nodes_a_rule_reads_and_the_draws():
    import torch

    from vaelint.capture.ops import RANDOM_OPS

    for route in ("fx", "record"):
        cap = _graph(NOISE, "VAE", route=route)
        inputs = make_inputs([parse_input_spec("4x784")], 3)
        with torch.no_grad():
            everything = cap.run(inputs, 3)
            out = next(n for n in cap.graph.nodes if n.op == "output")
            wanted = frozenset(a for a in out.all_input_nodes if a in everything.tensors)
            some = cap.run(inputs, 3, hold=wanted)
        draws = {n for n in everything.tensors if op_name(n) in RANDOM_OPS}
        assert wanted and draws, route
        inputs_ = {n for n in some.tensors if n.op == "placeholder"}  # the recorded run keeps its inputs
        assert set(some.tensors) - inputs_ == set(wanted) | draws, route
        assert some.shapes == everything.shapes, route


SEEN = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, reads_a_value=False):
        super().__init__()
        self.enc, self.dec = nn.Linear(32, 8), nn.Linear(4, 32)
        self.reads_a_value = reads_a_value
        self.seen = []

    def forward(self, x):
        self.seen.append(type(x).__name__)
        if self.reads_a_value and x.sum().item() < 0:  # a value read: no fake tensor has one
            x = -x
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar
"""


@pytest.mark.parametrize("reads_a_value", [False, True])
def test_a_costly_models_extra_batches_run_on_fake_tensors_unless_it_reads_a_value(tmp_path, reads_a_value):
    from vaelint.facts.shapes import run_batches

    path = tmp_path / "seen.py"
    path.write_text(SEEN.replace("reads_a_value=False", f"reads_a_value={reads_a_value}"))
    for route in ("fx", "record") if not reads_a_value else ("record",):
        cap = _graph(str(path), "VAE", spec="4x32", route=route)
        model = next(m for m in cap.wrapper.modules() if type(m).__name__ == "VAE")
        cap.first_seconds = 60.0  # as a large model's run costs: the extra batches are not run for real
        runs = run_batches(cap, [parse_input_spec("4x32")])
        extra = runs.runs[runs.extra[0]]
        assert extra.failure is None and (runs.extra[0], 32) in extra.shapes.values(), route
        out = next(n for n in cap.graph.nodes if n.meta.get("shape") and n.meta["shape"].sizes == (4, 32) and n.op != "placeholder")
        assert out.meta["shape"].text() == "B x 32", route
        if route == "record":
            # tried on fake tensors first; run for real where the model reads a value
            assert "FakeTensor" in model.seen and model.seen[-1] == ("Tensor" if reads_a_value else "FakeTensor"), model.seen


def test_a_large_recorded_run_holds_no_activation_wider_than_its_inputs(tmp_path, monkeypatch):
    # a Wan video VAE's capture at 1x3x17x256x256 held every activation, 75 GiB, twice its
    # training step's peak: past HOLD_ALL_BYTES a run holds no tensor wider than its inputs (the
    # backward keeps what it needs), while the inputs, heads, sample and reconstruction stay held
    import torch

    from vaelint.capture import recording

    path = tmp_path / "frees.py"
    path.write_text(FREES)
    cap = _graph(str(path), "VAE", spec="4x32", route="record")
    model = next(m for m in cap.wrapper.modules() if type(m).__name__ == "VAE")
    inputs = make_inputs([parse_input_spec("4x32")], 5)
    monkeypatch.setattr(recording, "HOLD_ALL_BYTES", 0)
    with torch.no_grad():
        run = cap.run(inputs, 5)
    assert model.freed[-1] is True  # the 64-wide activation, freed as in a plain forward
    held = {tuple(t.shape) for t in run.tensors.values()}
    assert (5, 32) in held and (5, 4) in held and (5, 64) not in held and (5, 8) in held
    assert (5, 64) in set(run.shapes.values())  # its shape is still read


WIDE_LATENT = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    # an overcomplete latent: 256 latent values for 32 data values
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(32, 512)
        self.dec = nn.Linear(256, 32)

    def forward(self, x):
        if float(x.abs().sum()) < 0:  # a value read: fx cannot trace it, the run is recorded
            x = -x
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = F.mse_loss(recon, x)  # a mean over every element
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
    return rec + kl
"""


def test_a_latent_wider_than_the_data_is_held_again_for_the_kl_reading(tmp_path, monkeypatch):
    # samk271/orbital-resonance: diffusers' AutoencoderKL with 256 latent channels at the data's
    # resolution; past HOLD_ALL_BYTES the run let go of the heads (wider than the input), and the
    # KL was "too close to zero ... could not be replayed": VAE002 (beta_eff = D) went unchecked
    from helpers import check

    from vaelint.capture import recording

    path = tmp_path / "wide.py"
    path.write_text(WIDE_LATENT)
    monkeypatch.setattr(recording, "HOLD_ALL_BYTES", 0)
    result = check(str(path), "VAE", ["4x32"], loss=f"{path}:loss_function", dynamic=False)
    assert result.capture_method == "recording", result.capture_method
    assert [f.code for f in result.findings] == ["VAE002"], result.findings
    assert "beta_eff = D = 32" in result.findings[0].message
