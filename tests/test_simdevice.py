"""VAE012 decided on a simulated GPU, on a machine without one (issue: "VAE012
decided without a GPU")."""

from __future__ import annotations

import textwrap

import pytest
import torch
from fixture_cases import all_cases
from helpers import check

from vaelint.confirm.simdevice import simulate

SIMULATED = "VAE012 ran the model on a simulated CUDA device"


def _case(name):
    return next(c for c in all_cases() if c.path.endswith(name))


def test_guards_seen_in_public_code_are_device_safe():
    cases = [c for c in all_cases() if c.path.endswith("clean/device_guards.py")]
    assert len(cases) == 3, "the device-guard fixture's cases are gone: nothing would be checked"
    for case in cases:
        result = check(case.path, case.target, case.inputs, init=case.init)
        assert result.error is None, result.error.message
        assert [f.code for f in result.findings] == [], case.init


def test_a_mask_beside_guarded_noise_is_confirmed_on_the_simulated_gpu():
    case = _case("buggy/mask_beside_guarded_noise.py")
    result = check(case.path, case.target, case.inputs)
    assert [(f.code, f.loc.line, f.confirmed) for f in result.findings] == [("VAE012", 24, True)]
    assert any(SIMULATED in n for n in result.notes)


def test_cpu_call_and_legacy_constructor_are_confirmed_without_a_gpu():
    for name, line in (("buggy/cpu_call_mask.py", 27), ("buggy/noise_variable_legacy.py", 20)):
        case = _case(name)
        result = check(case.path, case.target, case.inputs)
        hits = [f for f in result.findings if f.code == "VAE012"]
        assert [(f.loc.line, f.confirmed) for f in hits] == [(line, True)], name


def test_a_clean_model_pays_for_no_simulation(fixtures_dir):
    result = check(f"{fixtures_dir}/clean/mlp_vae.py", "VAE", ["8x784"])
    assert not any("simulated" in n for n in result.notes)


def test_packed_sequences_run_on_the_simulated_gpu():
    """Packed sequences keep their batch sizes on the CPU, as on a real GPU; a
    noise moved by a helper that calls .cuda() when CUDA is available is safe."""

    class SeqVAE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(20, 6)
            self.rnn = torch.nn.GRU(6, 8, batch_first=True)
            self.head = torch.nn.Linear(8, 4)

        def forward(self, tokens, length):
            packed = torch.nn.utils.rnn.pack_padded_sequence(self.emb(tokens), length.tolist(), batch_first=True, enforce_sorted=False)
            _, h = self.rnn(packed)
            mu, logvar = self.head(h[-1]).chunk(2, dim=1)
            eps = torch.randn(mu.shape)
            if torch.cuda.is_available():
                eps = eps.cuda()
            return mu + eps * torch.exp(0.5 * logvar)

    sim = simulate(SeqVAE(), (torch.randint(0, 20, (3, 5)), torch.tensor([5, 3, 2])))
    assert sim.error is None and sim.meetings == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="a real GPU answers the query the simulated one cannot")
def test_a_simulation_that_cannot_run_leaves_the_rule_not_checked(tmp_path):
    """A device mismatch the simulated run did not reach may be guarded later
    (``if mu.is_cuda: eps = eps.cuda()``): not checked, never a finding."""
    path = tmp_path / "numpy_in_forward.py"
    path.write_text(
        textwrap.dedent("""
        import torch
        import torch.nn as nn


        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.dec = nn.Linear(10, 4), nn.Linear(2, 10)

            def forward(self, x):
                mu, logvar = self.enc(x).chunk(2, dim=1)
                eps = torch.randn(mu.shape)
                # a GPU's own query, which the simulated GPU cannot answer
                big = torch.cuda.get_device_properties(0).total_memory > 2**33 if torch.cuda.is_available() else False
                scale = 0.5 if big else 1.0
                return self.dec(mu + eps * scale * torch.exp(0.5 * logvar)), mu, logvar
    """)
    )
    result = check(str(path), "VAE", ["4x10"])
    assert result.error is None, result.error.message
    assert not [f for f in result.findings if f.code == "VAE012"]
    reason = dict(result.skipped)["VAE012"]
    assert "did not run to its end on a simulated GPU" in reason, result.skipped


def test_what_a_legacy_variable_of_a_gpu_tensor_computes_is_on_the_gpu_too():
    # wohlert/semi-supervised-pytorch's notebooks: u = Variable(u), then a BCE written out by
    # hand, (1 - x) * torch.log(1 - r): 1 - x is on the GPU whenever u is
    from torch.autograd import Variable

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dec = torch.nn.Linear(6, 6)

        def forward(self, u):
            x = Variable(u)
            r = torch.sigmoid(self.dec(x))
            return -torch.sum(x * torch.log(r) + (1 - x) * torch.log(1 - r))

    sim = simulate(Step(), (torch.rand(3, 6),))
    assert sim.error is None and sim.meetings == []


def test_a_tensor_made_on_the_cpu_still_meets_the_model_after_arithmetic():
    # the near miss: 1 - mask, the mask made on the CPU in forward, is still on the CPU
    class Masked(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dec = torch.nn.Linear(6, 6)

        def forward(self, u):
            mask = torch.ones(3, 6)
            return (self.dec(u) * (1 - mask)).sum()

    sim = simulate(Masked(), (torch.rand(3, 6),))
    assert [(m.op, m.made_by) for m in sim.meetings] == [("mul", "ones")]


def test_memory_a_freed_simulated_tensor_gave_back_is_no_gpu_memory_for_the_next_cpu_tensor():
    # a plain tensor over a simulated tensor's memory (Variable(t)) is on the GPU; but the CPU
    # allocator hands a freed block out again, and a CPU tensor made there later is not: the
    # capvae fixture's torch.Tensor([0.0]) went unseen in some runs, by the luck of addresses
    class Turns(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(64, 64)

        def forward(self, x):
            out = 0
            for _ in range(50):
                h = self.lin(x) * 2.0  # simulated, freed at the next turn
                del h
                floor = torch.Tensor(x.shape[0], 64).fill_(0.0)  # made outside torch's functions
                out = out + (self.lin(x) + floor).sum()
            return out

    assert len(simulate(Turns(), (torch.rand(16, 64),)).meetings) == 50


def test_a_size_read_on_the_simulated_gpu_stays_a_size():
    # sylvester-flows, vampprior: eps = torch.FloatTensor(std.size()).normal_(); the size came back
    # as a plain tuple, read as data: "a tensor of shape 2"
    import torch
    import torch.nn as nn

    from vaelint.confirm.simdevice import simulate

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            std = self.lin(x).exp()
            eps = torch.FloatTensor(std.size()).normal_()
            return (std * eps).sum()

    sim = simulate(Model(), (torch.rand(3, 4),))
    assert sim.error is None and [m.shape for m in sim.meetings] == [(3, 4)]


def test_legacy_cuda_tensor_types_make_simulated_gpu_tensors():
    """``torch.cuda.FloatTensor(size)`` on the simulated GPU: a simulated tensor of that shape (of
    that data, for a list), an instance of the legacy type; put back after the run."""
    from vaelint.confirm.simdevice import SimulatedCuda, _simulated
    from vaelint.frontends.legacycuda import legacy_types

    before = torch.cuda.FloatTensor
    with legacy_types(_simulated):
        sized = torch.cuda.FloatTensor(torch.Size([3, 4])).normal_()
        data = torch.cuda.LongTensor([1, 2, 3])
        assert isinstance(sized, SimulatedCuda) and sized.shape == (3, 4) and sized.dtype == torch.float32
        assert data.tolist() == [1, 2, 3] and data.dtype == torch.int64
        assert isinstance(sized, torch.cuda.FloatTensor) and not isinstance(data, torch.cuda.FloatTensor)
        assert not isinstance(torch.zeros(2), torch.cuda.FloatTensor)  # a CPU tensor is not one
    assert torch.cuda.FloatTensor is before


def test_a_large_model_is_simulated_at_a_small_batch_and_said_at_the_users(monkeypatch, fixtures_dir):
    """Issue 33: the simulated run held a large model's activations at the user's batch beside the
    check's own (a 151M-parameter NVAE at batch 32 went out of memory there). Above LARGE_MODEL
    parameters it takes the smallest batch the shape runs took; where tensors meet does not hang
    on the batch, and the finding still says the shapes at the user's batch."""
    import vaelint.confirm.simdevice as simdevice
    import vaelint.confirm.simrun as simrun

    seen = []
    real = simdevice.simulate
    monkeypatch.setattr(
        simrun, "simulate", lambda module, inputs, reseed, **k: seen.append(inputs[0].shape[0]) or real(module, inputs, reseed, **k)
    )
    case = _case("buggy/onehot_scattered_on_cpu.py")
    monkeypatch.setattr(simrun, "LARGE_MODEL", 0)  # every model is large
    result = check(case.path, case.target, case.inputs)
    assert seen and seen[0] < 8, seen
    finding = next(f for f in result.findings if f.code == "VAE012")
    assert "B x 10 (8 x 10)" in finding.message and finding.confirmed, finding.message
    seen.clear()
    monkeypatch.setattr(simrun, "LARGE_MODEL", 20_000_000)
    check(case.path, case.target, case.inputs)
    assert seen == [8]  # a small model: the user's batch


def test_an_error_naming_a_real_gpu_is_no_mismatch_of_the_codes(monkeypatch):
    # the simulated GPU's tensors say cuda:0 to the code only; torch's device checks see their CPU
    # memory, so "cuda:0" in a simulated run's error is a tensor on this machine's real GPU
    from vaelint.confirm import simcontext

    said = "Expected all tensors to be on the same device, but got mat1 is on cpu, different from other tensors on cuda:0"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert simcontext.names_a_real_gpu(said)
    assert not simcontext.names_a_real_gpu("Expected all tensors to be on the same device, but found cpu and cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not simcontext.names_a_real_gpu(said)  # no real GPU here: whatever the text says


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a real GPU (scripts/gpu_checks.py runs it there)")
def test_a_model_on_a_real_gpu_is_simulated_from_a_cpu_copy_of_its_weights():
    # a training step's batch starts on the CPU and the step moves it: with the model's weights
    # left on the real GPU the moved batch (simulated, CPU memory) met them in the first layer
    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Linear(6, 4)

        def forward(self, x):
            return self.enc(x.to("cuda")).sum()

    model = Step().cuda()
    sim = simulate(model, (torch.rand(3, 6),), batch_on_cpu=True)
    assert sim.error is None and sim.meetings == [] and sim.batch_moved
    assert next(model.parameters()).is_cuda  # the model itself stays where the code put it


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a real GPU (scripts/gpu_checks.py runs it there)")
def test_tensors_the_code_put_on_a_real_gpu_are_gpu_tensors_to_the_simulation():
    # a legacy torch.cuda.FloatTensor kept as the model's type, and a distribution whose loc the
    # __init__ moved with .cuda(): real GPU tensors, which met the simulated ones (CPU memory) and
    # were taken for CPU tensors meeting the model (false VAE012s on a GPU machine)
    class Legacy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Linear(6, 8)
            self.FloatTensor = torch.cuda.FloatTensor
            self.N = torch.distributions.Normal(0, 1)
            self.N.loc = self.N.loc.cuda()
            self.N.scale = self.N.scale.cuda()

        def forward(self, x):
            mu, logvar = self.enc(x).chunk(2, dim=1)
            eps = self.FloatTensor(mu.size()).normal_()
            return (mu + eps * logvar.exp() + self.N.sample(mu.shape)).sum()

    sim = simulate(Legacy().cuda(), (torch.rand(3, 6),))
    assert sim.error is None and sim.meetings == []

    class Left(Legacy):
        def forward(self, x):  # the near miss: a CPU tensor still meets the model on the GPU
            return (self.enc(x) * torch.ones(8)).sum()

    assert [m.op for m in simulate(Left().cuda(), (torch.rand(3, 6),)).meetings] == ["mul"]


def test_a_cpu_type_given_a_gpu_tensor_is_a_device_error_in_either_wording():
    """torch.LongTensor(a CUDA tensor) raises, worded by torch's version: both read as a device error
    (an H100 with torch 2.11 said the TensorOptions form; read as a dtype error, VAE012 was not confirmed)."""
    from vaelint.errorkinds import kind_of
    from vaelint.vocab import ErrorKind

    got = (
        "expected TensorOptions(dtype=long int, device=cpu, layout=Strided, requires_grad=false (default), "
        "pinned_memory=false (default), memory_format=(nullopt)) (got TensorOptions(dtype=long int, device=cuda:0, "
        "layout=Strided, requires_grad=false (default), pinned_memory=false (default), memory_format=(nullopt)))"
    )
    assert kind_of(TypeError(got)) is ErrorKind.DEVICE
    assert kind_of(RuntimeError("legacy constructor expects device type: cpu but device type: cuda was passed")) is ErrorKind.DEVICE
    dtype = "expected TensorOptions(dtype=double, device=cpu, layout=Strided) (got TensorOptions(dtype=float, device=cpu, layout=Strided))"
    assert kind_of(TypeError(dtype)) is ErrorKind.DTYPE  # a dtype refused on the CPU stays a dtype error
