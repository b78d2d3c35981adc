from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from vaelint.capture.result import RunResult
from vaelint.facts.argnumbers import per_batch
from vaelint.facts.shapes import Dim, ShapeFact, batch_parts, pick_extra_batches, solve


def test_constant_and_batch_dims():
    dims = solve({32: (32, 784), 5: (5, 784), 7: (7, 784)})
    assert dims == (Dim(1, 0), Dim(0, 784))
    assert ShapeFact((32, 784), dims).text() == "B x 784"


def test_folded_batch_is_a_multiple_of_b():
    dims = solve({32: (128, 1024), 5: (20, 1024), 7: (28, 1024)})
    assert dims[0] == Dim(4, 0) and dims[0].text() == "4*B"


def test_named_constants():
    fact = ShapeFact((32, 16), (Dim(1, 0), Dim(0, 16)))
    assert fact.text({16: "Z"}) == "B x Z"


def test_rank_change_or_nonlinear_growth_is_not_solved():
    assert solve({32: (32,), 5: (5, 1)}) is None
    assert solve({2: (4,), 3: (9,), 5: (25,)}) is None
    assert solve({32: (32,)}) is None


def test_a_part_of_the_batch_solves_as_a_fraction_only_when_asked():
    # x.chunk(2)'s first half at batch sizes 2 divides: B/2 (a FactorVAE's VAE batch)
    halves = {32: (16, 6), 10: (5, 6), 14: (7, 6)}
    assert solve(halves) is None
    dims = solve(halves, parts=True)
    assert dims == (Dim(Fraction(1, 2), 0), Dim(0, 6))
    assert ShapeFact((16, 6), dims).text({6: "Z"}) == "B/2 x Z"
    assert solve({32: (17,), 10: (6,), 14: (8,)}, parts=True) == (Dim(Fraction(1, 2), 1),)
    # a curve, or a line whose constant is no whole number, is no part
    assert solve({32: (16,), 10: (5,), 14: (8,)}, parts=True) is None
    assert solve({10: (5,), 14: (6,)}, parts=True) is None


def _run(shapes: dict) -> RunResult:
    run = RunResult.__new__(RunResult)
    run.shapes, run.failure = shapes, None
    return run


def test_halves_of_odd_batches_are_told_from_a_curve():
    # ceil(b/2) at the odd sizes the shapes stage runs, b0/2 at the user's batch: halves
    halves = {32: _run({"x1": (16, 196)}), 5: _run({"x1": (3, 196)}), 7: _run({"x1": (4, 196)})}
    assert batch_parts(halves, 32) == 2
    quarters = {32: _run({"q": (8, 3)}), 5: _run({"q": (1, 3)}), 7: _run({"q": (2, 3)})}
    assert batch_parts(quarters, 32) == 4
    # a dim that does follow B, or a user's batch no part divides: none
    whole = {32: _run({"x": (32, 196)}), 5: _run({"x": (5, 196)}), 7: _run({"x": (7, 196)})}
    assert batch_parts(whole, 32) == 0
    assert batch_parts({33: _run({"x1": (16,)}), 5: _run({"x1": (3,)}), 7: _run({"x1": (4,)})}, 33) == 0


def test_a_size_read_of_a_half_is_half_the_batch():
    assert per_batch({32: 16, 10: 5, 14: 7}) == Fraction(1, 2)
    assert per_batch({32: 64, 5: 10, 7: 14}) == 2
    assert per_batch({32: 11, 10: 5, 14: 7}) is None
    assert per_batch({32: 3, 10: 1}) is None  # not 1/2, 1/3 or 1/4 of every batch
    assert per_batch({32: 32.0, 10: 10.0}) == 1  # float(x.size(0)) is the batch's size still
    assert per_batch({32: 16.5, 10: 5.5}) is None


def test_extra_batches_avoid_sizes_the_model_uses():
    extra = pick_extra_batches({5, 7, 784, 16}, 32)
    assert len(extra) == 2 and not ({5, 7, 32} & set(extra))


@given(st.integers(0, 6), st.integers(0, 100), st.lists(st.integers(2, 64), min_size=3, max_size=3, unique=True))
def test_linear_dims_are_recovered(coef, const, batches):
    by_batch = {b: (coef * b + const,) for b in batches}
    assert solve(by_batch) == (Dim(coef, const),)


def test_tensor_bytes_counts_every_tensor_a_run_computed():
    from vaelint.capture.result import RunResult
    from vaelint.facts.shapes import tensor_bytes

    run = RunResult(batch=2, shapes={"a": (2, 3, 4), "b": (2, 5), "c": ()}, values={})
    assert tensor_bytes(run) == 4 * (24 + 10 + 1)


def test_an_extra_batch_whose_tensors_would_be_large_runs_on_fake_tensors(monkeypatch):
    """A run that is quick but large (a video VAE on a GPU: time alone ran its batch of 7 for real,
    ten times the activations of its step) gives its extra batches' shapes from fake tensors;
    a small model's stay real."""
    import os
    import sys

    import vaelint.facts.shapes as shapes

    sys.path.insert(0, os.path.dirname(__file__))
    from helpers import check

    fixture = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "clean", "mlp_vae.py")
    faked = []
    real_fake = shapes._fake_run
    monkeypatch.setattr(shapes, "_fake_run", lambda *a, **k: faked.append(a[2]) or real_fake(*a, **k))
    assert check(fixture, "VAE", ["32x784"]).error is None
    assert faked == []  # small: every run real
    monkeypatch.setattr(shapes, "_FAKE_ABOVE_BYTES", 1 << 10)  # as if its tensors were large
    result = check(fixture, "VAE", ["32x784"])
    assert result.error is None and faked
    assert [r.shape for r in result.flow if r.stage == "input"] == [["B", "784"]]  # the batch symbolic all the same
