"""Stood-in rows laid out as the data set's own file lays them out (:mod:`.livedata`).

A read of a data file that is not here gives rows of ``--input``'s samples. The file itself
may hold them in another layout, which the data set's ``__getitem__`` turns into the items
the model takes: dSprites' ``imgs`` are N x 64 x 64 and each item gets its channel
(``torch.from_numpy(img).unsqueeze(0)``); image arrays are often N x H x W x C, permuted per
item. Rows of the sample's shape then give items of another shape, and a setup that sizes the
model from ``dataset[0].shape`` builds a model for data it will never get.

So once a data set of the user's is built on stood-in rows, its first item is compared with
``--input``'s sample; where they differ, the few layouts a file commonly has (the sample's
dims of size 1 dropped, channels last) are tried in turn, in place of the rows
the data set holds, until its item is the sample. None fitting, the rows stay as they were."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Made:
    """Rows a file read stood in with: the array, the ``--input`` they are samples of, the
    index of the report's note about them, and the ``.npz`` archive that hands them out."""

    rows: object
    spec: object
    note: int
    archive: object = None


def fit_items(dataset, made: list[Made]) -> None:
    """Lay ``made``'s rows out so that ``dataset[0]`` is a sample of their ``--input``."""
    from vaelint.frontends.training.livedata import STOOD_IN

    want = tuple(made[0].spec.sample_shape)
    if item_shape(dataset) == want:
        return  # also tried when the item cannot be made of them (``imgs[i][:4096].view(1, 64, 64)``)
    for name, layout in _layouts(want):
        undo = _swap(dataset, [(m, _laid_out(m.rows, layout)) for m in made])
        if item_shape(dataset) == want:
            for m in made:
                sizes = " x ".join(str(n) for n in (m.rows.shape[0], *layout))
                STOOD_IN[m.note] += f", laid out {name} ({sizes}) so that the data set's items are {' x '.join(map(str, want))}"
            return
        _swap(dataset, undo)


def item_shape(dataset) -> tuple | None:
    """The shape of the data set's first item (of its first tensor when it is a tuple or a
    record); None when it cannot be read."""
    try:
        item = dataset[0]
    except Exception:  # noqa: BLE001 - a data set that cannot give an item here: nothing to fit
        return None
    while isinstance(item, (tuple, list, dict)) and item:
        item = next(iter(item.values())) if isinstance(item, dict) else item[0]
    shape = getattr(item, "shape", None)
    return tuple(shape) if shape is not None else None


def _layouts(sample: tuple) -> list[tuple[str, tuple]]:
    """The layouts of a sample a file commonly holds, named for the report."""
    out = []
    squeezed = tuple(n for n in sample if n != 1)
    if squeezed != sample:
        out.append(("without the sample's dims of size 1", squeezed))
    if len(sample) == 3:
        out.append(("channels last", (sample[1], sample[2], sample[0])))
    return out  # flat rows need no layout of their own: an item made by reshaping takes any


def _laid_out(rows, layout: tuple):
    import numpy as np

    n = rows.shape[0]
    if len(layout) == 3 and len(rows.shape) == 4 and layout == (rows.shape[2], rows.shape[3], rows.shape[1]):
        return np.ascontiguousarray(rows.transpose(0, 2, 3, 1))
    return np.ascontiguousarray(rows.reshape(n, *layout))


def _swap(dataset, swaps: list) -> list:
    """Put each new array where the data set holds its old rows (the rows, a slice of them
    along the first dim, a tensor over them, the archive handing them out); the swaps that
    undo it."""
    import numpy as np
    import torch

    undo = []
    for made, new in swaps:
        old = made.rows
        for key, value in list(vars(dataset).items()):
            if isinstance(value, np.ndarray) and np.shares_memory(value, old):
                setattr(dataset, key, new[: len(value)])
            elif isinstance(value, torch.Tensor) and value.device.type == "cpu" and _over(value, old):
                setattr(dataset, key, torch.from_numpy(new[: len(value)]))
            elif value is made.archive and made.archive is not None:
                made.archive.rows = new
        made.rows = new
        undo.append((made, old))
    return undo


def _over(tensor, rows) -> bool:
    import numpy as np

    try:
        return np.shares_memory(tensor.detach().numpy(), rows)
    except (RuntimeError, TypeError, ValueError):
        return False
