"""A model's plain tensor attributes on the simulated GPU (VAE012): ``self.mask = torch.ones(z)`` is no
parameter or buffer, so ``model.to(device)`` leaves it on the CPU. The graph's constants now include
them (graphview.loose_constants), so the simulated run is made; a constructor that moves such a
tensor under ``if torch.cuda.is_available():`` before keeping it (source.facts.constructor_move) is
undecided, said in a note. Rule examples (rules/vae012_device_mismatch.py) and the fixtures
training/running/mask_*.py run the whole route; these are the parts."""

from __future__ import annotations

import ast
import textwrap

import torch
import torch.fx as fx
import torch.nn as nn

from vaelint.facts.graphview import loose_constants


class _Held(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3))
        self.register_buffer("scale", torch.ones(3))
        self.mask = torch.ones(3)


def _graph_reading(*targets: str) -> fx.Graph:
    graph = fx.Graph()
    x = graph.placeholder("x")
    for t in targets:
        x = graph.call_function(torch.mul, (x, graph.get_attr(t)))
    graph.output(x)
    return graph


def test_a_plain_tensor_attribute_is_loose_its_parameters_and_buffers_are_not():
    modules = {"": nn.Module(), "model": _Held()}
    graph = _graph_reading("model.weight", "model.scale", "model.mask", "_tensor_constant0")
    assert [str(n.target) for n in loose_constants(graph, modules)] == ["model.mask", "_tensor_constant0"]


def test_an_attribute_of_a_module_the_capture_does_not_know_is_taken_for_a_weight():
    # no module to ask: not called loose (the simulated run is not made for it)
    assert loose_constants(_graph_reading("model.unknown.thing"), {"model": _Held()}) == []


INIT = textwrap.dedent(
    """
    def __init__(self, n):
        mask = torch.ones(n)
        if torch.cuda.is_available():
            mask = mask.cuda()
        self.mask = Variable(mask, requires_grad=False)
        other = torch.ones(n)
        self.other = other
    """
)


def test_an_attribute_made_from_a_name_moved_under_an_if_is_found_and_only_that_one():
    from vaelint.source.facts import _attributes_made_from

    init = ast.parse(INIT).body[0]
    branch = next(n for n in ast.walk(init) if isinstance(n, ast.If))
    assert _attributes_made_from(init, branch, {"mask", "other"}) == "mask"
    assert _attributes_made_from(init, branch, {"other"}) is None  # never moved
    assert _attributes_made_from(init, branch, set()) is None  # the line reads neither


def test_the_fix_names_the_attribute_to_register():
    from vaelint.rules.vae012_device_mismatch import CpuTensorSeen

    seen = CpuTensorSeen("the model's attribute flow.mask ...", "the model's GPU tensors", "attribute", True, held="flow.mask")
    assert "self.register_buffer('mask', ...)" in seen.fix() and "in place of self.mask = ..." in seen.fix()
    # held inside a distribution object (p_z.loc): the module holds no tensor to register by that name
    assert "Normal(self.prior_loc" in CpuTensorSeen("...", "...", "attribute", True).fix()


def test_a_buffer_is_set_where_it_is_registered(tmp_path):
    # VAE004 names where a weight held as a buffer is set: its register_buffer line, not the loss's
    from vaelint.source.facts import origin_of
    from vaelint.source.frames import SourceLoc

    path = tmp_path / "m.py"
    path.write_text(
        "class M:\n"
        "    def __init__(self):\n"
        '        self.register_buffer("beta", torch.tensor(4.0))\n'
        '        self.register_buffer("other", torch.tensor(1.0))\n'
        "\n"
        "    def loss(self, kl):\n"
        "        return self.beta * kl\n"
    )
    beta = ast.Attribute(ast.Name("self", ast.Load()), "beta", ast.Load())
    found = origin_of(SourceLoc(str(path), 7, 9), beta)
    assert found is not None and found[0].line == 3 and "register_buffer" in found[1]
    gamma = ast.Attribute(ast.Name("self", ast.Load()), "gamma", ast.Load())
    assert origin_of(SourceLoc(str(path), 7, 9), gamma) is None


class _MovesItsMask(nn.Module):
    def __init__(self):
        super().__init__()
        self.mask = torch.ones(3)

    def to(self, *args, **kwargs):
        out = super().to(*args, **kwargs)
        out.mask = out.mask.to(*args, **kwargs)
        return out


class _LibraryBase(nn.Module):  # stands for Lightning's DeviceDtypeModuleMixin: its to() moves no attribute
    def to(self, *args, **kwargs):
        return super().to(*args, **kwargs)


_LibraryBase.__module__ = "lightning.fabric.utilities.device_dtype_mixin"


class _LibraryModel(_LibraryBase):
    def __init__(self):
        super().__init__()
        self.mask = torch.ones(3)


class _Outer(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner


def _excused_by_an_override(model, held):
    from types import SimpleNamespace

    from vaelint.facts.deviceexcuses import _moved_by_an_override

    ctx = SimpleNamespace(capture=SimpleNamespace(wrapper=SimpleNamespace(model=model)), program=None, notes=[])
    return _moved_by_an_override(ctx, SimpleNamespace(held=held)), ctx.notes


def test_a_held_tensor_the_models_own_to_may_move_is_undecided_a_librarys_to_moves_nothing():
    excused, notes = _excused_by_an_override(_MovesItsMask(), "mask")
    assert excused and "_MovesItsMask.to is overridden" in notes[0], notes
    assert _excused_by_an_override(_Outer(_MovesItsMask()), "inner.mask")[0]  # the holder's own override
    assert not _excused_by_an_override(_LibraryModel(), "mask")[0]
    assert not _excused_by_an_override(_Held(), "mask")[0]  # no override: VAE012 decides


SETUP = textwrap.dedent(
    """
    class MaskedLinear(nn.Linear):
        def __init__(self, n_in, n_out):
            super().__init__(n_in, n_out)
            self.mask = torch.ones(n_out, n_in)

        def set_mask(self, m):
            self.mask = m.float()
            if torch.cuda.is_available():
                self.mask = self.mask.cuda()

        def forward(self, x):
            return F.linear(x, self.mask * self.weight, self.bias)

        def other(self, x):
            return x * self.scale
    """
)


def test_a_move_under_an_if_in_a_setup_method_is_found_like_one_in_the_constructor(tmp_path):
    from vaelint.source.facts import constructor_move
    from vaelint.source.frames import SourceLoc

    path = tmp_path / "made.py"
    path.write_text(SETUP)
    lines = SETUP.splitlines()
    forward = next(i for i, line in enumerate(lines, 1) if "self.mask * self.weight" in line)
    other = next(i for i, line in enumerate(lines, 1) if "self.scale" in line)
    branch = next(i for i, line in enumerate(lines, 1) if "if torch.cuda.is_available()" in line)
    assert constructor_move(SourceLoc(str(path), forward, 1)) == ("mask", branch, "torch.cuda.is_available()")
    assert constructor_move(SourceLoc(str(path), other, 1)) is None  # a line that reads no moved attribute
