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
    items = list(batch) if isinstance(batch, (tuple, list)) else [batch]
    _not_ragged(batch)
    out = [_spec_of(t, size) for t in items]
    return [] if any(s is None for s in out) else out


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
    if not t.is_floating_point():
        text += f":{dtype}:{int(t.max()) + 1 if t.numel() else 2}"
    elif dtype != "float32":
        text += f":{dtype}"
    dim = 0 if size is None or t.shape[0] == size else next((i for i, s in enumerate(t.shape) if s == size), 0)
    return dataclasses.replace(parse_input_spec(f"{name}={text}" if name else text), real=t.detach().clone(), batch_dim=dim)


def batch_size_of(inputs) -> int | None:
    """The rows of the first tensor of a step's inputs (None for none, or a traced Proxy)."""
    import torch

    first = next((t for t in inputs if isinstance(t, torch.Tensor)), None)
    return int(first.shape[0]) if first is not None and first.dim() and not isinstance(first, torch.fx.Proxy) else None
