"""The --input specs of a batch the code made when it ran (its tensors' shapes and dtypes,
the batch dim the loader's batch size sets), and the message for a ragged batch that no
one spec describes (vaelint/frontends/training/liveprogram.py)."""

from __future__ import annotations

import dataclasses

from vaelint.errors import VaelintError


def specs_of(batch, size: int | None = None) -> list:
    """``--input`` specs of the tensors of a batch the code made (a real first batch, the
    tensors a full-batch model is given); the batch of each is the dim of the loader's batch
    ``size`` (dim 0 where that is it, or where no dim is: (T, B, F) from a collate function
    has it at 1). A dict batch (``{"image": x, "path": names}`` from the user's own data set)
    gives ``batch.KEY=`` specs of its tensors; its other values (file names) are left out."""
    if isinstance(batch, dict):
        named = [_spec_of(t, size, f"batch.{k}") for k, t in batch.items() if isinstance(k, str) and k.isidentifier() and _is_tensor(t)]
        return [s for s in named if s is not None]
    items = list(batch) if isinstance(batch, (tuple, list)) and not _strings(batch) else [batch]
    _not_ragged(batch)
    rows = size if size is not None else next((int(t.shape[0]) for t in items if _is_tensor(t)), None)
    rows = rows if rows is not None else next((len(t) for t in items if _strings(t)), None)
    out = [
        _texts_spec(t) if _strings(t) and len(t) == rows else _spec_of(t, size) if not _whole_numbers(t, rows) else _listed_spec(t)
        for t in items
    ]
    return [] if any(s is None for s in out) else out


def nested_specs(program, batch, size: int | None) -> tuple[list, str]:
    """``specs_of`` the batch; where its items nest the batch's values (``((ids, mask, lengths),
    targets)``), the specs of its leaves, the program's step given them nested as the batch was, and
    what the report says of it ("" otherwise)."""
    specs = specs_of(batch, size)
    nesting = flattened(batch) if not specs and program.step is not None else None
    if nesting is None:
        return specs, ""
    specs = specs_of(nesting[0], size)
    if not specs:
        return specs, ""
    program.step = dataclasses.replace(program.step, fn=as_nested(program.step.fn, nesting[1]))
    shape = ", ".join("x" if c is None else "(" + ", ".join("x" * c) + ")" for c in nesting[1])
    return specs, f"; given to its step nested as the code's batch is ({shape})"


def flattened(batch) -> tuple[tuple, list] | None:
    """A batch with items that are tuples of the batch's values (a collate function's ``((ids, mask,
    lengths), targets)``): its leaves in order, and how many each item holds (None: the item itself);
    None where no item is such a tuple."""
    if not isinstance(batch, (tuple, list)) or _strings(batch):
        return None
    leaves, counts = [], []
    for item in batch:
        grouped = isinstance(item, (tuple, list)) and not _strings(item) and bool(item)
        if grouped and all(_is_tensor(v) or isinstance(v, (tuple, list)) for v in item):
            leaves += list(item)
            counts.append(len(item))
        else:
            leaves.append(item)
            counts.append(None)
    return (tuple(leaves), counts) if any(c is not None for c in counts) else None


def as_nested(fn, counts: list):
    """``fn`` given its batch's items grouped back as the code's collate function nested them, from
    the flat inputs the check makes (one per leaf)."""
    import functools

    @functools.wraps(fn)
    def nested(*inputs, **named):
        out, i = [], 0
        for count in counts:
            out.append(inputs[i] if count is None else tuple(inputs[i : i + count]))
            i += 1 if count is None else count
        return fn(*out, *inputs[i:], **named)

    return nested


def _strings(value) -> bool:
    """A list of strings, one a sample (the default collate's batch of a data set of SMILES or
    sentences that the step encodes itself)."""
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, str) for v in value)


def _texts_spec(values):
    """The spec of a list of strings: B:int64:B, the indices of its rows (at another batch size
    the rows repeat), handed to the step as the strings (as_listed)."""
    import torch

    return dataclasses.replace(_listed_spec(torch.arange(len(values)).tolist()), texts=tuple(values))


def _whole_numbers(value, rows: int | None) -> bool:
    """A Python list of one whole number a sample (``x_lens = [len(x) for x in xs]`` from a
    collate function), as long as the batch."""
    return (
        isinstance(value, (list, tuple))
        and rows is not None
        and len(value) == rows
        and bool(value)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


def _listed_spec(values):
    """The spec of a list of whole numbers: B:int64:HIGH, handed to the step as a list."""
    import torch

    t = torch.tensor(list(values), dtype=torch.int64)
    return dataclasses.replace(_spec_of(t, len(values)), listed=True)


def valued(named: list, made: list, own: bool = False) -> list:
    """The specs of a known data set (``named``), holding the run's own images (``made``, specs of
    the batch the run took) where the data set's transform changed their values (a Normalize, a
    ``Lambda(lambda x: x - 0.5)``: livebatch.as_normalised): the check's batches are then of
    those values, not drawn in [0, 1) again. ``own``: the data set holds the code's own tensors (a
    TensorDataset): their rows are the batches, integers too (categorical columns of 2 and of 3
    levels are not ids drawn below one bound)."""
    from vaelint.frontends.training.livehints import NORMALISED

    if not NORMALISED and not own:
        return named
    return [
        (dataclasses.replace(k, real=m.real, batch_dim=m.batch_dim) if own or m.real.is_floating_point() else m)
        if m.real is not None and k.shape == m.shape
        else k
        for k, m in zip(named, made)
    ]  # (levels made whole by the transform, Lambda(lambda x: (x * 16).long()): the batch's own integers)


def with_batch(spec, batch: int) -> str:
    """The spec's text with its first dim ``batch`` (the rest of a batch --input gives the first of)."""
    head, _, tail = spec.text().partition(":")
    dims = head.split("x")
    dims[0] = str(batch)
    return "x".join(dims) + (f":{tail}" if tail else "")


def listed_items(program) -> None:
    """The program's step, given the inputs that were Python lists in the code's batch as lists
    (said in the report's note on the inputs)."""
    if not any(s.listed for s in program.inputs) or program.step is None:
        return
    listed = ", ".join(s.text() for s in program.inputs if s.listed and s.texts is None)
    if listed:
        program.inputs_origin += f"; {listed} a Python list in the code's batch, given to its step as one"
    for s in program.inputs:
        if s.texts is not None:
            program.inputs_origin += (
                "; the step is given the code's own strings (at other batch sizes they repeat), and the tensor it "
                "makes of them is the data checked"
            )
    program.step = dataclasses.replace(program.step, fn=as_listed(program.step.fn, program.inputs))


def as_listed(fn, specs: list):
    """``fn`` with the inputs ``specs`` marks as listed handed to it as Python lists, as the
    code's collate function gave them (made as tensors, for every batch size the check runs)."""
    import functools

    positions = [i for i, s in enumerate(specs) if getattr(s, "listed", False) and not s.name]
    if not positions:
        return fn

    @functools.wraps(fn)
    def listed(*inputs, **named):
        import torch

        if any(isinstance(inputs[i], torch.fx.Proxy) for i in positions if i < len(inputs)):
            raise torch.fx.proxy.TraceError("the step's batch holds a Python list, whose values a symbolic trace cannot hold")
        inputs = tuple(_as_list(x, specs[i]) if i in positions and hasattr(x, "tolist") else x for i, x in enumerate(inputs))
        return fn(*inputs, **named)

    return listed


def _not_ragged(batch) -> None:
    """A batch that is a list of many tensors of one kind and different shapes (variable-length
    sequences a collate function left unpadded, for the model to pack) is one ragged input, not an
    input per item: say so (exit 2) rather than take each sequence for an input of its own."""
    if not isinstance(batch, list) or len(batch) < 5 or not all(_is_tensor(t) for t in batch):
        return
    shapes = [tuple(t.shape) for t in batch]
    if len({len(s) for s in shapes}) != 1 or len({t.dtype for t in batch}) != 1 or len(set(shapes)) == 1:
        return
    seen = ", ".join("x".join(map(str, s)) for s in list(dict.fromkeys(shapes))[:3])
    raise VaelintError(
        "input",
        f"the code's batch is a list of {len(batch)} tensors of different shapes ({seen}, ...): a ragged batch of "
        "variable-length sequences the model packs itself, which vaelint cannot give as --input specs. Check the "
        "model with PATH.py:MODEL and --input of a padded batch (e.g. --input 64x60:int64:30), or pad the batch in "
        "the collate function (torch.nn.utils.rnn.pad_sequence) so that it is one tensor.",
    )


def _is_tensor(value) -> bool:
    import torch

    return isinstance(value, torch.Tensor) and value.dim() > 0


def _spec_of(t, size: int | None, name: str = ""):
    from vaelint.inputs import parse_input_spec

    if not _is_tensor(t):
        return None
    dtype = str(t.dtype).replace("torch.", "")
    text = "x".join(str(d) for d in t.shape)
    if dtype == "bool":
        text += ":bool"  # a mask: true or false, no bound to give (vaelint refuses one)
    elif not t.is_floating_point():
        text += f":{dtype}:{int(t.max()) + 1 if t.numel() else 2}"
    elif dtype != "float32":
        text += f":{dtype}"
    dim = 0 if size is None or t.shape[0] == size else next((i for i, s in enumerate(t.shape) if s == size), 0)
    return dataclasses.replace(parse_input_spec(f"{name}={text}" if name else text), real=t.detach().clone(), batch_dim=dim)


def _as_list(made, spec) -> list:
    """A listed input as the code's batch held it: its whole numbers, or its strings by row."""
    values = made.tolist()
    if spec.texts is None:
        return values
    return [spec.texts[int(i) % len(spec.texts)] for i in values]


def batch_size_of(inputs) -> int | None:
    """The rows of the first tensor of a step's inputs (None for none, or a traced Proxy)."""
    import torch

    first = next((t for t in inputs if isinstance(t, torch.Tensor)), None)
    return int(first.shape[0]) if first is not None and first.dim() and not isinstance(first, torch.fx.Proxy) else None
