from hypothesis import given
from hypothesis import strategies as st

from vaelint.facts.shapes import Dim, ShapeFact, pick_extra_batches, solve


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
