"""`--input [NAME=]SPEC`: the shape, dtype and value range of one forward input (positional, or by
keyword with NAME=). SPEC = SHAPE[:DTYPE[:HIGH]], SHAPE = sizes joined by "x" ("32x784"); the batch is
dim 0 unless ``--batch-dim N`` or the code says otherwise (a sequence-first RNN's input, a loader whose
collate puts the batch second). Float inputs are drawn in [0, 1); integer inputs in [0, HIGH) (HIGH
defaults to 2), 1-D integer inputs (per-sample lengths) in [1, HIGH). A float input with HIGH holds
whole numbers in [0, HIGH): ``784:float32:2`` is binary data (a Bernoulli likelihood checks its support;
HIGH 1 would be all zeros: refused). An integer input whose HIGH is the others' batch size, with no dim
of that size, indexes the batch's rows (a graph's 2 x E edge list over N nodes): it has no batch dim; at
another batch size its longest dim (the edges) grows in proportion and its values are drawn below it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from vaelint.errors import VaelintError

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
_FLOAT = {"float32", "float64", "float16", "bfloat16"}
_SIZE = re.compile(r"^[1-9][0-9]*$")
MAX_DIMS = 25  # the most dims torch's CUDA element-wise kernels take (OffsetCalculator's MAX_DIMS)
_ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "bool": 1}
# the integers drawn where no HIGH is given: a uint8 input is pixels (an RL agent's frames), all of them
_DEFAULT_HIGH = {"uint8": 256}
# the exclusive bound each narrow integer type holds
_MOST = {"uint8": 256, "int8": 128, "int16": 32768}


@dataclass(frozen=True)
class InputSpec:
    shape: tuple[int, ...]
    dtype: str = "float32"
    high: int | None = None
    name: str | None = None  # NAME=SPEC: passed to forward by keyword
    # the tensor the user's code made, where the spec was read off one (a training script's
    # first batch, a full-batch graph): its rows are the inputs, not made-up values
    real: object = field(default=None, compare=False, hash=False, repr=False)
    batch_dim: int = 0  # the dim the batch size sets: 1 for (T, B, F) sequence-first data
    # its values index the batch's rows (a graph's edge list over the N nodes): no dim of it is
    # the batch; its HIGH is the batch size (with_batch_indices)
    indexes_batch: bool = False
    # the code's batch holds this item as a Python list of whole numbers (sequence lengths a
    # collate function returns as ``[len(x) for x in xs]``): made as a tensor, handed to the
    # step as its list (vaelint/frontends/training/batchspecs.py, as_listed)
    listed: bool = False
    # the code's batch holds this item as a list of strings (SMILES, sentences its step encodes
    # itself): made as indices of its rows, handed to the step as those strings (as_listed)
    texts: tuple | None = field(default=None, compare=False, hash=False, repr=False)
    # no dim of it is the batch (a causal mask S x S beside (S, B) tokens and a (B, S) padding
    # mask): the same at every batch size; ``unbatched`` is the others' batch size (batch_dims_placed)
    unbatched: int | None = None
    lengths: bool = False  # one length per sample of padded sequences, in [1, HIGH] (frontends/lengthinputs.py)

    @property
    def batch(self) -> int:
        if self.unbatched is not None:
            return self.unbatched
        return self.high if self.indexes_batch else self.shape[self.batch_dim]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The sizes of one sample: every dim but the batch's."""
        if self.indexes_batch or self.unbatched is not None:
            return self.shape
        return self.shape[: self.batch_dim] + self.shape[self.batch_dim + 1 :]

    def sized(self, batch: int) -> tuple[int, ...]:
        """This spec's shape at another batch size (an edge list's edges grow with its nodes:
        its longest dim, E of 2 x E, in proportion)."""
        if self.unbatched is not None:
            return self.shape
        if self.indexes_batch:
            longest = self._edges_dim
            grown = max(1, round(self.shape[longest] * batch / self.high))
            return self.shape[:longest] + (grown,) + self.shape[longest + 1 :]
        return self.shape[: self.batch_dim] + (batch,) + self.shape[self.batch_dim + 1 :]

    def with_batch_dim(self, dim: int) -> InputSpec:
        """The same input with its batch at ``dim`` (kept at 0 where it has no such dim: a
        per-sample lengths or labels tensor beside (T, B, F) sequences)."""
        from dataclasses import replace

        if self.indexes_batch or self.unbatched is not None:
            return self
        return replace(self, batch_dim=dim if dim < len(self.shape) else 0)

    @property
    def _edges_dim(self) -> int:
        """An edge list's dim of edges: its longest (E of 2 x E)."""
        return self.shape.index(max(self.shape))

    def doubled(self, tensor, batch: int):
        """Two copies of a batch of ``batch`` as one batch of twice the size: side by side
        along the batch dim; an edge list's second copy indexes the second copy's rows."""
        import torch

        if self.unbatched is not None:
            return tensor
        if self.indexes_batch:
            return torch.cat([tensor, tensor + batch], dim=self._edges_dim)
        return torch.cat([tensor, tensor], dim=self.batch_dim if self.batch_dim < tensor.dim() else 0)

    def text(self) -> str:
        out = (f"{self.name}=" if self.name else "") + "x".join(str(s) for s in self.shape)
        if self.dtype != "float32" or self.high is not None:
            out += f":{self.dtype}"
        if self.high is not None:
            out += f":{self.high}"
        return out

    def shown(self) -> str:
        """The spec as a report names it: ``16 strings`` for a batch of strings (its text is the
        row numbers it is made as)."""
        return f"{self.batch} strings" if self.texts is not None else self.text()

    def make(self, batch: int, generator=None, device="cpu"):
        """A tensor of this spec with its batch dim of size ``batch``: of the code's own
        samples where the spec came from a tensor it made (repeated past its size), else drawn.
        It is marked as vaelint's (``MADE``): where the code's data would be a NumPy array,
        ``torch.from_numpy`` takes it as it is (vaelint/frontends/training/sandboxanswers.py)."""
        made = self._make(batch, generator, device)
        try:
            setattr(made, MADE, True)
        except (AttributeError, TypeError):
            pass
        return made

    def _make(self, batch: int, generator=None, device="cpu"):
        import torch

        if self.indexes_batch and (self.real is None or batch != self.high):
            # an edge list's own edges index only the rows they were made for: at another size, drawn
            return torch.randint(0, batch, self.sized(batch), generator=generator, dtype=getattr(torch, self.dtype)).to(device)
        if self.indexes_batch or self.unbatched is not None and self.real is not None:
            return self.real.clone().to(device)  # the code's own edges, or its whole graph's adjacency, as made
        if self.real is not None:
            # the rows' index where the code's tensor is (its GPU, where it made it there)
            rows = torch.arange(batch, device=self.real.device) % self.real.shape[self.batch_dim]
            return self.real.index_select(self.batch_dim, rows).clone().to(device)

        shape = self.sized(batch)
        dtype = getattr(torch, self.dtype)
        if self.dtype in _FLOAT and self.high is not None:
            # whole numbers as floats: SHAPE:float32:2 is binary data (Bernoulli targets)
            return torch.randint(0, self.high, shape, generator=generator).to(device=device, dtype=dtype)
        if self.dtype in _FLOAT:
            return torch.rand(shape, generator=generator).to(device=device, dtype=dtype)
        if self.dtype == "bool":
            return torch.rand(shape, generator=generator).lt(0.5).to(device)
        high = self.high if self.high is not None else _DEFAULT_HIGH.get(self.dtype, 2)
        if self.lengths:  # the longest is the padded length, longest first
            drawn = torch.randint(1, high + 1, shape, generator=generator, dtype=dtype).index_fill_(0, torch.tensor([0]), high)
            return drawn.sort(descending=True).values.to(device)
        # A 1-D integer input holds one count per sample (sequence lengths for
        # pack_padded_sequence): draw those from [1, HIGH) so none is empty.
        low = 1 if len(shape) == 1 and high > 1 else 0
        return torch.randint(low, high, shape, generator=generator, dtype=dtype).to(device)


MADE = "_vaelint_made"  # the attribute a tensor vaelint made for an --input carries


# the origin of inputs a training run read off tensors the code made itself, no loader's (frontends/
# training/liveprogram.py): a full-graph VAE's features and adjacency are no streams of one batch size
MADE_BY_THE_CODE = "inferred from the batch the code made"


def whole_beside_the_batch(specs: list[InputSpec]) -> tuple[list[InputSpec], str | None]:
    """Tensors the code made itself and hands the model beside its batch, of another size at dim 0 (a
    graph VAE's N x N adjacency beside its 1 x N x F features): each is the same at every batch size,
    no dim of it the batch; the note that says so."""
    from dataclasses import replace

    lead = next((s for s in specs if not s.indexes_batch), None)
    first = lead.batch if lead is not None else None
    # its dim 0 is a size of the batch's samples (N x N over the N nodes of 1 x N x F): not another stream's batch
    whole = [
        i for i, s in enumerate(specs) if lead is not None and not s.indexes_batch and s.batch != first and s.shape[0] in lead.sample_shape
    ]
    if not whole:
        return specs, None
    said = (
        f"input {' '.join(specs[i].text() for i in whole)}: made by the code beside its batch of {first} with another "
        "size at dim 0 (a whole graph's adjacency): the same at every batch size, no dim of it the batch"
    )
    return [replace(s, unbatched=first) if i in whole else s for i, s in enumerate(specs)], said


def at_one_batch(specs: list[InputSpec], origin: str = "") -> tuple[list[InputSpec], str | None]:
    """The code's own batch read off loaders of different batch sizes (a semi-supervised step's
    labelled 8 beside its unlabelled 24, zipped): every stream at the first's batch size, so that
    one B runs through the step (each stream's shapes hold per stream), and the note that says so.
    Tensors the code made itself (``origin``: MADE_BY_THE_CODE) are no streams: whole_beside_the_batch."""
    from dataclasses import replace

    said_whole = None
    if origin.startswith(MADE_BY_THE_CODE):
        specs, said_whole = whole_beside_the_batch(specs)
    batches = list(dict.fromkeys(s.batch for s in specs if not s.indexes_batch and s.unbatched is None))
    if len(batches) < 2:
        return specs, said_whole
    said = (
        f"the step takes batches of {', '.join(map(str, batches))} from its loaders (several streams): each is "
        f"checked at the first's batch size, {batches[0]}, so that one batch size B runs through the step"
    )
    aligned = [s if s.indexes_batch or s.batch == batches[0] else replace(s, shape=s.sized(batches[0])) for s in specs]
    return aligned, "; ".join(x for x in (said_whole, said) if x)


def parse_input_spec(text: str) -> InputSpec:
    """Parse one ``--input`` value; a bad one is a usage error that shows the form."""
    form = "write SHAPE[:DTYPE[:HIGH]] with sizes joined by 'x', e.g. --input 32x784 or --input 8x20:int64:1000"
    name = None
    head, eq, rest = text.strip().partition("=")
    if eq:
        # NAME=SPEC by keyword; NAME.KEY=SPEC puts the tensor under KEY of a dict
        # passed as NAME (pythae's forward(inputs) reads inputs["data"])
        if not all(part.isidentifier() for part in head.split(".")) or head.count(".") > 1:
            raise VaelintError(
                "input",
                f"--input {text!r}: {head!r} is not a parameter name; a keyword input is NAME=SPEC "
                "(--input labels=16:int64:10), or NAME.KEY=SPEC for a dict input "
                "(--input inputs.data=8x784).",
            )
        name, text = head, rest
    parts = text.strip().split(":")
    if not parts[0] or len(parts) > 3:
        raise VaelintError("input", f"--input {text!r} is not a valid input spec: {form}.")
    sizes = parts[0].split("x")
    for s in sizes:
        if not _SIZE.match(s):
            what = "an empty size" if s == "" else f"the size {s!r}"
            raise VaelintError("input", f"--input {text!r} has {what}: every size must be a whole number of at least 1; {form}.")
    shape = tuple(int(s) for s in sizes)
    dtype = parts[1] if len(parts) > 1 and parts[1] else "float32"
    if dtype not in DTYPES:
        raise VaelintError("input", f"--input {text!r} names the unknown dtype {dtype!r}: use one of {', '.join(DTYPES)}.")
    _check_size(text, shape, dtype)
    high = None
    if len(parts) == 3:
        if dtype == "bool":
            raise VaelintError(
                "input",
                f"--input {text!r} gives an upper bound to a bool input: HIGH is for integer inputs "
                "(8x20:int64:1000 for token ids below 1000) and whole-valued floats (8x784:float32:2 "
                "for binary data).",
            )
        if not _SIZE.match(parts[2]):
            raise VaelintError(
                "input",
                f"--input {text!r} has the upper bound {parts[2]!r}: HIGH must be a whole "
                "number of at least 1 (the exclusive upper bound of the integers drawn).",
            )
        high = int(parts[2])
        if high == 1 and dtype in _FLOAT:  # whole numbers below 1: a constant 0 (a degenerate run, helper-found)
            said = f"binary data is {text.rsplit(':', 1)[0]}:2, values in [0, 1) leave HIGH out ({text.split(':')[0]})"
            raise VaelintError("input", f"--input {text!r} draws whole numbers below 1: every value would be 0; {said}.")
        if high > _MOST.get(dtype, high):
            raise VaelintError(
                "input", f"--input {text!r} has the upper bound {high}, more than a {dtype} holds: HIGH is at most {_MOST[dtype]}."
            )
    return InputSpec(shape, dtype, high, name)


def with_batch_indices(specs: list[InputSpec]) -> list[InputSpec]:
    """The specs with those that index the batch's rows marked: where the batch sizes
    disagree only because of integer inputs whose HIGH is the others' batch size and that
    have no dim of that size (``--input 500x128 --input 2x2000:int64:500``, a graph's node
    features and its edge list)."""
    from dataclasses import replace

    if len({s.batch for s in specs}) < 2:
        return specs
    index = [s.dtype.startswith("int") and s.high is not None and s.high not in s.shape for s in specs]
    rest = {s.batch for s, i in zip(specs, index) if not i}
    if len(rest) != 1 or not any(index):
        return specs
    (batch,) = rest
    if not all(s.high == batch for s, i in zip(specs, index) if i):
        return specs
    return [replace(s, indexes_batch=True) if i else s for s, i in zip(specs, index)]


def batch_dims_placed(specs: list[InputSpec]) -> tuple[list[InputSpec], str]:
    """Specs whose batch sizes disagree because each has its batch at a dim of its own, or none
    (``--input 30x8:int64:1000 --input 8x30:bool --input 30x30``: sequence-first tokens, a (B, S)
    padding mask, an (S, S) causal mask): the one size that is exactly one dim of every spec that
    has it, the first spec among them, is the batch; each spec's batch dim is that dim, and a spec
    without it is the same at every batch size. (specs, the note) where one such size is; else the
    specs as given and ""."""
    from dataclasses import replace

    if len({s.batch for s in specs}) < 2 or any(s.indexes_batch for s in specs) or not specs[0].shape:
        return specs, ""
    fits = []
    for size in dict.fromkeys(specs[0].shape):
        if all(s.shape.count(size) <= 1 for s in specs) and sum(size in s.shape for s in specs) >= 2 and _shared_rest(specs, size):
            fits.append(size)
    if len(fits) != 1:
        return specs, ""
    (size,) = fits
    placed = [replace(s, batch_dim=s.shape.index(size)) if size in s.shape else replace(s, unbatched=size) for s in specs]
    said = ", ".join(
        f"{s.text()} at dim {s.batch_dim}" if s.unbatched is None else f"{s.text()} has none (the same at every batch)" for s in placed
    )
    return placed, f"the batch is {size}, the one size each input has at most once: {said}"


def _shared_rest(specs: list[InputSpec], size: int) -> bool:
    """Is every other size of every spec one another spec has too (the sequence length S of the
    tokens, the padding mask and the causal mask)? Per-feature inputs (``--input 32x784 --input 784``)
    or a typo (``32x10`` beside ``64x10``) leave a size that no other spec shares: no layout of one
    batch explains them."""
    for k, spec in enumerate(specs):
        others = {d for j, o in enumerate(specs) if j != k for d in o.shape}
        if any(d != size and d not in others for d in spec.shape):
            return False
    return True


def nbytes(spec: InputSpec, batch: int | None = None) -> int:
    """The bytes of one tensor of this spec (at ``batch``, else its own)."""
    return math.prod(spec.sized(batch) if batch is not None else spec.shape) * _ITEMSIZE[spec.dtype]


def _check_size(text: str, shape: tuple[int, ...], dtype: str) -> None:
    """A spec torch cannot make is a usage error, said before anything runs."""
    if len(shape) > MAX_DIMS:
        raise VaelintError(
            "input",
            f"--input {text!r} has {len(shape)} dims; torch's GPU kernels take at most {MAX_DIMS}: "
            "give the shape one forward call takes, e.g. --input 32x3x64x64.",
        )
    if math.prod(shape) * _ITEMSIZE[dtype] >= 2**63:
        raise VaelintError(
            "input",
            f"--input {text!r} has {math.prod(shape):.3g} elements, more than a tensor can hold "
            "(2**63 bytes): check the sizes, e.g. --input 32x784.",
        )


def check_fits(specs: list[InputSpec], limit: int | None) -> None:
    """The inputs must fit the memory the check may use (``--max-memory``, else the machine's),
    said before anything is allocated (the model's activations come on top)."""
    available = limit or _physical_memory()
    need = sum(nbytes(s) for s in specs)
    if available and need > available:
        given = " ".join(f"--input {s.text()}" for s in specs)
        where = f"--max-memory ({_human(limit)})" if limit else f"this machine's memory ({_human(available)})"
        raise VaelintError(
            "input",
            f"{given}: the input{'s' * (len(specs) != 1)} alone would take {_human(need)}, more than {where}, "
            "before the model's activations: give a smaller batch or sample size.",
        )


def _physical_memory() -> int | None:
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _human(size: int) -> str:
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def same_kind(seq, items):
    """``items`` as a sequence of ``seq``'s kind: a namedtuple by its fields, a list or tuple as
    itself, a subclass whose constructor takes more (vaelint's own PaddedBatch, a user's batch
    class) copied with its items replaced, or a plain tuple where none of that works."""
    import copy

    items = list(items)
    if hasattr(seq, "_fields"):
        return type(seq)(*items)
    if type(seq) in (list, tuple):
        return type(seq)(items)
    if isinstance(seq, list):
        out = copy.copy(seq)
        out[:] = items
        return out
    try:
        return type(seq)(items)
    except TypeError:
        return tuple(items)


def listed_specs(inputs: list[InputSpec], shown: int = 4) -> str:
    """The specs and their batches, the first few of a long list and how many more."""
    said = ", ".join(f"{s.text()}: {s.batch} at dim {s.batch_dim}" for s in inputs[:shown])
    return said + (f", and {len(inputs) - shown} more" if len(inputs) > shown else "")
