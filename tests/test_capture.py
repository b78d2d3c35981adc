"""Capture: random ops stay graph nodes, fallback to recording, roles and binding from the graph."""

import os

import pytest
from conftest import FIXTURES
from helpers import captured_graph as _graph
from helpers import check

from vaelint.capture.ops import op_name
from vaelint.facts.graphview import GraphView
from vaelint.facts.roles import forward_roles
from vaelint.facts.shapes import make_inputs
from vaelint.frontends import LoadRequest, load_program
from vaelint.inputs import parse_input_spec

NOISE = os.path.join(FIXTURES, "seeds", "seed000_noise_latent_only.py")


def test_randn_with_constant_sizes_stays_a_node_in_the_fx_graph():
    cap = _graph(NOISE, "VAE")
    names = [op_name(n) for n in cap.graph.nodes]
    assert "randn" in names
    randn = next(n for n in cap.graph.nodes if op_name(n) == "randn")
    assert randn.args == (10,)
    assert randn.meta["loc"].line == 24 and randn.meta["loc"].path.endswith("seed000_noise_latent_only.py")


def test_plain_symbolic_trace_would_have_folded_it():
    import torch.fx

    loaded = load_program(f"{NOISE}:VAE", LoadRequest(init={}))
    gm = torch.fx.symbolic_trace(loaded.model)
    assert "randn" not in [op_name(n) for n in gm.graph.nodes]


def test_recording_route_records_every_call_with_its_line():
    cap = _graph(NOISE, "VAE", route="record")
    names = [op_name(n) for n in cap.graph.nodes]
    for op in ("linear", "relu", "exp", "randn", "mul", "add"):
        assert op in names
    assert cap.method == "recording"


def test_a_recording_sees_through_legacy_constructors_given_tensors():
    """``torch.sparse.FloatTensor(torch.LongTensor(i), torch.FloatTensor(v), size)`` (a hand-written
    sparse dropout): the recorded graph keeps the path from the input to the sample, so every rule
    runs (before: what followed was a constant, "no reparameterisation", nine rules not checked)."""
    path = os.path.join(FIXTURES, "buggy", "legacy_sparse_dropout.py")
    result = check(path, "SparseInputVAE", ["16x40"])
    assert result.capture_method == "recording" and not result.skipped
    assert [f.code for f in result.findings] == ["VAE012"]  # the CPU types refuse GPU tensors


def test_legacy_types_seen_through_answer_as_before():
    import torch

    from vaelint.frontends.legacycuda import legacy_types_seen_through

    with legacy_types_seen_through() as used:
        assert isinstance(torch.zeros(2), torch.FloatTensor) and not isinstance(torch.zeros(2), torch.LongTensor)
        assert torch.zeros(2).type(torch.LongTensor).dtype == torch.int64
        assert tuple(torch.FloatTensor(3, 2).shape) == (3, 2) and torch.LongTensor([1, 2]).dtype == torch.int64
        assert torch.LongTensor(torch.ones(2, dtype=torch.long)).dtype == torch.int64
        with pytest.raises(TypeError):
            torch.DoubleTensor(torch.ones(2))  # another dtype: refused, as without vaelint
        assert torch.sparse.FloatTensor(torch.zeros(2, 1, dtype=torch.long), torch.ones(1), (2, 2)).is_sparse
    assert used == ["torch.LongTensor(...)", "torch.DoubleTensor(...)", "torch.sparse.FloatTensor(...)"]
    assert type(torch.FloatTensor).__name__ == "tensortype"  # put back


def test_roles_are_found_from_the_graph_not_names(tmp_path):
    # deliberately misleading names: "mu" holds the log-variance and vice versa
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.a = nn.Linear(6, 3)\n        self.b = nn.Linear(6, 3)\n        self.d = nn.Linear(3, 6)\n"
        "    def forward(self, x):\n"
        "        mu = self.b(x)\n        logvar = self.a(x)\n"
        "        sample = logvar + torch.exp(mu / 2) * torch.randn_like(mu)\n"
        "        return self.d(sample), logvar, mu\n"
    )
    cap = _graph(str(path), "VAE")
    view = GraphView(cap.graph, cap.modules)
    leaves = {n.meta["forward_output"]: n for n in cap.graph.nodes if "forward_output" in n.meta}
    roles = forward_roles(view, leaves)
    r = roles.reparam
    assert roles.path_of(r.mu) == (1,) and roles.path_of(r.logvar) == (2,) and roles.recon_path == (0,)
    assert op_name(r.noise) == "randn_like" and r.scale_ops == ["exp", "div"]


def test_binding_reports_each_parameter():
    res = check(os.path.join(FIXTURES, "clean", "star_args_loss_vae.py"), "StarArgsVAE", ["4x3x16x16"], loss_kwargs={"M_N": 0.5})
    assert res.error is None
    assert ("*args", "the forward's outputs, in order") in res.binding
    assert ("M_N", "--loss-kwarg M_N = 0.5") in res.binding
    res = check(os.path.join(FIXTURES, "clean", "dict_output_vae.py"), "DictVAE", ["4x64"])
    assert res.binding == [("x", "the input x"), ("outputs", "the forward's whole output")]


def test_loss_discovery_order_and_absence():
    res = check(os.path.join(FIXTURES, "clean", "elbo_method_vae.py"), "VAE", ["4x1x16x16"])
    assert res.loss_name == "VAE.elbo"
    res = check(os.path.join(FIXTURES, "seeds", "seed002_latent_linear.py"), "VAE", ["4x784"])
    assert res.loss_name is None and any("no loss found" in n for n in res.notes)
    assert "loss" not in {row.stage for row in res.flow}


def test_user_rng_state_is_restored():
    import torch

    torch.manual_seed(123)
    before = torch.get_rng_state()
    check(os.path.join(FIXTURES, "clean", "mlp_vae.py"), "VAE", ["4x784"])
    assert torch.equal(before, torch.get_rng_state())


def test_a_factory_given_sizes_of_traced_tensors_is_a_node_of_the_fx_graph(tmp_path):
    # torch.randn(mu.size(0), mu.size(1)): torch's argument parser refuses Proxies before a mode
    # sees the call, which sent such models (rasbt's VAE notebooks) to the recording route
    import torch

    path = tmp_path / "m.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.enc = nn.Linear(6, 8)\n        self.dec = nn.Linear(4, 6)\n"
        "    def forward(self, x):\n"
        "        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        eps = torch.randn(mu.size(0), mu.shape[1])\n"
        "        return self.dec(mu + eps * torch.exp(0.5 * logvar)), mu, logvar\n"
    )
    original = torch.randn
    cap = _graph(str(path), "VAE")
    assert cap.method == "torch.fx" and torch.randn is original  # the factory is put back after the trace
    randn = next(n for n in cap.graph.nodes if op_name(n) == "randn")
    assert [op_name(a) for a in randn.args] == ["size", "getitem"] and randn.meta["loc"].line == 10
    assert tuple(cap.run(make_inputs([parse_input_spec("5x6")], 5), 5).shapes[randn]) == (5, 4)


_OUTER = """
import torch
from torch import nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(784, 8)
        self.dec = nn.Linear(4, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        {extra}
        return torch.sigmoid(self.dec(z)), mu, logvar
"""


def test_two_batch_sizes_settle_a_clean_model_and_a_third_runs_only_on_doubt(tmp_path):
    # two points fit any line: a clean model's dims are plain sizes or k*B through the
    # user's batch and one more, so the third forward is saved; a dim that is neither
    # (B*B reads as 37*B-160 through 32 and 5) or a failed run brings the third batch
    from vaelint.facts.shapes import run_batches

    cases = {
        "clean": ("pass", 1),
        "folded batch": ("z = z.view(-1, 2).view(-1, 4)", 1),  # k*B and back: settled
        "outer product": ("pairs = (z @ z.t()).flatten()", 2),
        "one more row": ("z = torch.cat([z, z[:1]])[:-1]", 2),
    }
    for name, (extra, ran) in cases.items():
        path = tmp_path / f"m_{len(extra)}.py"
        path.write_text(_OUTER.replace("{extra}", extra))
        cap = _graph(str(path), "VAE")
        runs = run_batches(cap, [parse_input_spec("32x784")])
        assert len(runs.extra) == ran, name
        facts = {op_name(n): n.meta["shape"] for n in cap.graph.nodes if "shape" in n.meta}
        assert facts["randn_like"].text() == "B x 4", name
        if name == "outer product":
            assert facts["flatten"].sizes == (1024,) and facts["flatten"].dims is None  # not linear: unsolved
        if name == "one more row":
            assert facts["cat"].text() == "B+1 x 4"


def test_a_model_that_fails_at_the_second_batch_size_is_run_at_a_third(tmp_path):
    from vaelint.facts.shapes import run_batches

    path = tmp_path / "pinned.py"
    path.write_text(_OUTER.replace("{extra}", "z = z.view(32, 4)"))
    runs = run_batches(_graph(str(path), "VAE"), [parse_input_spec("32x784")])
    assert runs.extra == (5, 7) and all(runs.failure_at(b) is not None for b in runs.extra)


CAPACITY_LOSS = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.C_max = torch.Tensor([25.0])  # a tensor attribute, neither parameter nor buffer
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar

    def loss_function(self, recon, x, mu, logvar):
        rec = F.binary_cross_entropy(recon, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        self.C_max = self.C_max.to(x.device)  # assigned in the loss: a Proxy while fx traces it
        return rec + kl + 0 * self.C_max.sum()
"""


def test_a_tensor_attribute_the_loss_assigns_is_the_models_own_in_the_graph(tmp_path):
    """The trace stores a Proxy on ``self.C_max``; the graph's read of the attribute is of the
    tensor the model had, not of that Proxy (before: the confirmation run's loss was a Proxy,
    "the confirmation run failed (loss not a scalar)", exit 2)."""
    path = tmp_path / "capacity.py"
    path.write_text(CAPACITY_LOSS)
    result = check(str(path), "VAE", ["8x20"])
    assert result.error is None, result.error
    assert result.capture_method == "torch.fx"
    loss = next(c for c in result.checks if c.name == "loss")
    assert loss.ok, loss


def test_each_run_starts_from_the_modules_as_built_not_the_last_runs_state():
    # an LSTM's (h, c) kept on the module between batches: the shape runs at other batch sizes
    # met the last run's state (the batch never symbolic past the encoder), the simulated GPU
    # the CPU runs' state
    path = os.path.join(FIXTURES, "clean", "recurrent_state_kept_on_the_module.py")
    result = check(path, "VAE", ["10x16x88"], loss=f"{path}:loss_function")
    assert result.error is None and result.capture_method == "recording", result.fallback_reason
    assert {r.name: r.shape for r in result.flow if r.stage in ("encoder", "decoder")} == {
        "mu": ["B", "Z"],
        "logvar": ["B", "Z"],
        "recon": ["B", "88"],
    }
    assert not result.findings and "VAE012" not in {code for code, _why in result.skipped}


_DICT_OUTPUT = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(12, 8)
        self.dec = nn.Linear(4, 12)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return dict(recon=self.dec(z), mu=mu, logvar=logvar)


def loss_fn(out, x):
    rec = F.binary_cross_entropy_with_logits(out["{KEY}"], x, reduction="sum")
    return rec - 0.5 * torch.sum(1 + out["logvar"] - out["mu"] ** 2 - out["logvar"].exp())
"""


@pytest.mark.parametrize("key", ["recon_logits", "x_hat"])
def test_a_key_the_forwards_own_dict_lacks_is_said_as_the_codes_bug(tmp_path, key):
    # out["recon_logits"] where the forward returns dict(recon=...): a key the code never wrote, not
    # a keyword vaelint was not given ("pass --loss-kwarg recon_logits=VALUE" sent the user away)
    path = tmp_path / "m.py"
    path.write_text(_DICT_OUTPUT.replace("{KEY}", key))
    res = check(str(path), "VAE", ["4x12"], loss=f"{path}:loss_fn")
    message = res.error.message
    assert f"The code reads out[{key!r}], but out holds 'recon', 'mu', 'logvar' and no {key!r}" in message, message
    assert ("did you mean 'recon'?" in message) == (key == "recon_logits"), message
    assert "--loss-kwarg" not in message, message
