import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaelint.errors import VaelintError
from vaelint.inputs import DTYPES, parse_input_spec, with_batch_indices


def test_shape_dtype_and_high():
    spec = parse_input_spec("8x20:int64:1000")
    assert spec.shape == (8, 20) and spec.dtype == "int64" and spec.high == 1000 and spec.batch == 8


def test_float_default_and_values_in_unit_interval():
    spec = parse_input_spec("32x784")
    t = spec.make(5)
    assert spec.dtype == "float32" and tuple(t.shape) == (5, 784)
    assert float(t.min()) >= 0 and float(t.max()) < 1


def test_integer_inputs_respect_high_and_lengths_are_positive():
    tokens = parse_input_spec("4x12:int64:50").make(6)
    lengths = parse_input_spec("4:int64:13").make(6)
    assert int(tokens.max()) < 50 and int(tokens.min()) >= 0
    assert 1 <= int(lengths.min()) and int(lengths.max()) < 13


@pytest.mark.parametrize(
    "text,needle",
    [
        ("32x", "empty size"),
        ("axb", "'a'"),
        ("0x784", "'0'"),
        ("-1x3", "'-1'"),
        ("32x784:float8", "unknown dtype"),
        ("32x784:bool:5", "bool input"),
        ("8x20:int64:x", "upper bound"),
        ("", "not a valid input spec"),
    ],
)
def test_malformed_specs_are_explained(text, needle):
    with pytest.raises(VaelintError) as e:
        parse_input_spec(text)
    assert needle in e.value.message and "--input" in e.value.message
    assert e.value.kind == "input"


@given(st.lists(st.integers(1, 4096), min_size=1, max_size=5), st.sampled_from(DTYPES))
def test_any_valid_spec_round_trips(sizes, dtype):
    import math

    from hypothesis import assume

    assume(math.prod(sizes) * 8 < 2**62)  # a spec a tensor can hold (larger ones are refused, as they should be)
    spec = parse_input_spec("x".join(map(str, sizes)) + f":{dtype}")
    assert list(spec.shape) == sizes and spec.dtype == dtype


def test_float_inputs_with_high_are_whole_numbers():
    spec = parse_input_spec("8x20:float32:2")
    t = spec.make(8)
    assert t.dtype.is_floating_point and set(t.unique().tolist()) <= {0.0, 1.0}
    assert spec.text() == "8x20:float32:2" and parse_input_spec("8x20").text() == "8x20"


def test_an_integer_input_whose_high_is_the_batch_indexes_its_rows():
    """A graph's node features N x F beside its edge list 2 x E over the N nodes: the edge list
    has no batch dim; at another batch size its edges grow in proportion and its values stay below it."""
    features, edges = with_batch_indices([parse_input_spec("40x12"), parse_input_spec("2x160:int64:40")])
    assert not features.indexes_batch and edges.indexes_batch and edges.batch == 40
    assert edges.sized(10) == (2, 40) and edges.sample_shape == (2, 160)
    drawn = edges.make(10)
    assert tuple(drawn.shape) == (2, 40) and 0 <= int(drawn.min()) and int(drawn.max()) < 10
    twice = edges.doubled(drawn, 10)  # two copies of the graph, the second's edges among its own nodes
    assert tuple(twice.shape) == (2, 80) and int(twice[:, 40:].min()) >= 10


@pytest.mark.parametrize(
    "texts",
    [
        ["40x12", "40:int64:10"],  # labels: one per sample, at the batch dim
        ["40x12", "2x160:int64:39"],  # HIGH is not the batch size: the specs disagree
        ["40x12", "40x40:int64:40"],  # a dim of the batch's size: a batch-first input
        ["40x12", "2x160:float32:40"],  # floats index nothing
    ],
)
def test_only_integer_inputs_below_the_batch_size_without_its_dim_index_the_rows(texts):
    specs = [parse_input_spec(t) for t in texts]
    assert with_batch_indices(specs) == specs


def test_an_edge_list_the_code_made_is_its_own_at_its_size_and_drawn_at_others():
    """Inferred from a full-batch graph the code made: its own edges at the node count they index;
    at another node count, edges drawn below it (rows of it repeated would index nodes not there)."""
    import torch

    from vaelint.inputs import InputSpec

    edges = torch.tensor([[0, 1, 2, 3, 4, 5, 0, 2], [5, 4, 3, 2, 1, 0, 1, 3]])
    features = InputSpec((6, 3), real=torch.rand(6, 3))
    _, spec = with_batch_indices([features, InputSpec((2, 8), "int64", 6, real=edges)])
    assert spec.indexes_batch and torch.equal(spec.make(6), edges)
    other = spec.make(3)
    assert tuple(other.shape) == (2, 4) and int(other.max()) < 3


def test_narrow_integer_inputs_pixels_by_default():
    # an RL agent's frames are uint8 pixels: drawn in [0, 256) unless HIGH says otherwise; a HIGH
    # more than the type holds is the input's error
    import pytest
    import torch

    from vaelint.errors import VaelintError
    from vaelint.inputs import parse_input_spec

    frames = parse_input_spec("4x3x8x8:uint8")
    made = frames.make(4)
    assert made.dtype == torch.uint8 and made.shape == (4, 3, 8, 8) and frames.text() == "4x3x8x8:uint8"
    assert int(made.max()) > 1  # pixels, not the 0/1 of other integer inputs without HIGH
    assert parse_input_spec("4x3:int8:100").make(4).dtype == torch.int8
    assert parse_input_spec("4x3:int16").make(4).max() <= 1
    with pytest.raises(VaelintError, match="more than a uint8 holds: HIGH is at most 256"):
        parse_input_spec("4x3:uint8:300")
