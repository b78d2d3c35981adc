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
