"""VAE014's reading of jaxtyping annotations agrees with jaxtyping's own check,
and the contracts are found, watched and confirmed on real models."""

from __future__ import annotations

import typing

import pytest
import torch
from beartype import beartype
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jaxtyping import AnnotationError, Bool, Float, Int, jaxtyped  # noqa: F401
from torch import Tensor

from vaelint.contracts.annotations import Contract, spec_of
from vaelint.contracts.calls import Call, jaxtyping_rejects
from vaelint.contracts.check import check_calls, concrete_fact
from vaelint.source.frames import SourceLoc

_TOKENS = ["a", "b", "2", "3", "_", "#a", "#b", "a+1", "b-1", "...", "*v", "#*v"]


def _contract(fn) -> Contract:
    hints = typing.get_type_hints(fn)  # this file's future import makes them strings
    specs = {k: spec_of(v) for k, v in hints.items()}
    params = list(fn.__code__.co_varnames[: fn.__code__.co_argcount])
    return Contract(fn, fn.__name__, params, specs, hints, {}, SourceLoc("<test>", 1, 1), api=False)


def _valid(dims: list[str]) -> bool:
    return sum(1 for d in dims if d in ("...", "*v", "#*v")) <= 1


@st.composite
def _case(draw):
    annotations, shapes = [], []
    for _ in range(3):  # two arguments and the return value
        dims = draw(st.lists(st.sampled_from(_TOKENS), max_size=3).filter(_valid))
        rank = draw(st.integers(0, 4))
        annotations.append((draw(st.sampled_from(["Float", "Int"])), " ".join(dims)))
        shapes.append(
            (draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)), draw(st.sampled_from([torch.float32, torch.int64])))
        )
    return annotations, shapes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
# a later ``#*v`` must broadcast *to* a plain ``*v``'s shape, () here, not merely with it
@example(([("Float", "*v"), ("Float", "#*v"), ("Float", "")], [([], torch.float32), ([1], torch.float32), ([], torch.float32)]))
# a broadcastable ``#*v`` widens to the broadcast shape, (3,); a plain ``*v`` of (1,) then fails
@example(([("Float", "#*v"), ("Float", "#*v"), ("Float", "*v")], [([1], torch.float32), ([3], torch.float32), ([1], torch.float32)]))
def test_the_check_agrees_with_jaxtyping(case):
    """Random annotations (named, fixed, '_', '#', expressions, '...', '*v') and
    random shapes and dtypes: a call fails vaelint's check exactly when it fails
    jaxtyped(typechecker=beartype)."""
    annotations, shapes = case
    (k1, d1), (k2, d2), (k3, d3) = annotations
    ns = {"Float": Float, "Int": Int, "Tensor": Tensor}
    exec(f'def f(x: {k1}[Tensor, "{d1}"], y: {k2}[Tensor, "{d2}"]) -> {k3}[Tensor, "{d3}"]:\n    return ret\n', ns)
    f = ns["f"]
    x, y, r = (torch.zeros(s, dtype=t) for s, t in shapes)
    ns["ret"] = r
    try:
        jaxtyped(typechecker=beartype)(f)(x, y)
        theirs = False
    except AnnotationError:
        return  # an expression naming a dim no earlier value bound: jaxtyping refuses the annotation itself
    except Exception:  # noqa: BLE001
        theirs = True
    call = Call(_contract(f), {"x": x, "y": y}, r, returned=True)
    ours = bool(check_calls([call], concrete_fact).violations)
    assert ours == theirs, (annotations, [tuple(s) for s, _ in shapes])
    assert (jaxtyping_rejects(call) is not None) == theirs


def test_a_broken_contract_is_found_at_its_line_and_confirmed_by_jaxtyping():
    from conftest import FIXTURES

    from vaelint.analyze import Options, analyse
    from vaelint.inputs import parse_input_spec as parse_input

    result = analyse(f"{FIXTURES}/buggy/contract_wrong_latent.py:VAE", Options([parse_input("8x784")], device="cpu"))
    (f,) = result.findings
    assert (f.code, f.loc.line, f.confirmed) == ("VAE014", 22, True)
    assert "B x 16" in f.message and 'Float[Tensor, "batch 32"]' in f.message and "batch=B" in f.message
    assert 'Float[Tensor, "batch 16"]' in f.fix


def test_a_model_without_annotations_is_not_watched(monkeypatch):
    """No jaxtyping in the model's files: no profile function is set, no cost."""
    import sys

    from conftest import FIXTURES

    from vaelint.analyze import Options, analyse
    from vaelint.contracts import calls as contract_calls
    from vaelint.inputs import parse_input_spec as parse_input

    used = []
    monkeypatch.setattr(contract_calls, "watching", lambda *a, **k: used.append(a) or pytest.fail("watched"))
    result = analyse(f"{FIXTURES}/clean/mlp_vae.py:VAE", Options([parse_input("4x784")], dynamic=False))
    assert result.error is None and not used and sys.getprofile() is None


def test_held_annotations_name_the_flow_and_ambiguous_sizes_stay_numbers():
    from conftest import FIXTURES

    from vaelint.analyze import Options, analyse
    from vaelint.inputs import parse_input_spec as parse_input

    result = analyse(f"{FIXTURES}/clean/contracts_hold.py:VAE", Options([parse_input("4x1x12x12")], dynamic=False))
    rows = {r.name: r.shape for r in result.flow}
    assert rows["mu"] == ["B", "latent"] and rows["z"] == ["B", "latent"]
    assert rows["x"] == ["B", "1", "12", "12"]  # height and width are both 12: no name for 12
    assert not result.findings


def test_a_dataclass_field_and_a_training_step_are_checked_too(tmp_path):
    """A field of the output dataclass, checked through its generated __init__ (the
    clean fixture with one field's dims dropped)."""
    from conftest import FIXTURES

    from vaelint.analyze import Options, analyse
    from vaelint.inputs import parse_input_spec as parse_input

    text = open(f"{FIXTURES}/clean/contracts_hold.py").read()
    broken = text.replace('recon: Float[Tensor, "batch 1 height width"]', 'recon: Float[Tensor, "batch height width"]')
    assert broken != text
    (tmp_path / "m.py").write_text(broken)
    result = analyse(f"{tmp_path}/m.py:VAE", Options([parse_input("4x1x12x12")], device="cpu"))
    (f,) = result.findings
    assert f.code == "VAE014" and f.loc.line == 18 and f.confirmed is True
    assert f.message.startswith("Output's field recon is B x 1 x 12 x 12") and 'Float[Tensor, "batch 1 12 12"]' in f.fix


def test_annotations_that_cannot_be_read_leave_vae014_not_checked(monkeypatch):
    from conftest import FIXTURES

    from vaelint.analyze import Options, analyse
    from vaelint.contracts import annotations as contracts
    from vaelint.inputs import parse_input_spec as parse_input

    def broken(program, watch_unannotated=False):
        raise RuntimeError("unreadable")

    monkeypatch.setattr(contracts, "find_contracts", broken)
    result = analyse(f"{FIXTURES}/buggy/contract_wrong_latent.py:VAE", Options([parse_input("8x784")], dynamic=False))
    assert result.error is None and not result.findings
    assert [code for code, _why in result.skipped] == ["VAE014"] and "unreadable" in result.skipped[0][1]
