"""What the step's data loader says of its batches, read by type only (a data set standing in
answers an attribute by running its constructor again, which only the sandbox may do): the inputs
its data set gives, and whether every batch has the configured size."""

from __future__ import annotations

import dataclasses


def inferred_inputs(loader) -> tuple[list, str]:
    """The inputs the loader's data set says, and from what (vaelint/frontends/training/datasets.py)."""
    from vaelint.frontends.training.datasets import infer_inputs
    from vaelint.inputs import parse_input_spec

    inferred = infer_inputs(loader) if loader is not None else None
    if inferred is None:
        return [], ""
    specs = [parse_input_spec(s) for s in inferred.specs]
    from torch.utils.data import TensorDataset

    dataset = getattr(loader, "dataset", None)
    tensors = dataset.tensors if isinstance(dataset, TensorDataset) else None  # by type: see whole_batches
    if tensors is not None and len(tensors) == len(specs):
        # a TensorDataset's own rows are the inputs at every batch size, not values drawn up to one
        # bound for all its columns (categorical columns of 2 and of 3 levels: its ints, not [0, 3))
        specs = [dataclasses.replace(s, real=t.detach()) for s, t in zip(specs, tensors)]
    return specs, f"inferred from {inferred.origin}"


def whole_batches(loader, size: int) -> str:
    """Why every batch the loader gives has ``size`` samples ("" where one may not): it drops its
    last incomplete batch, or its data set's real length is a multiple of it (a TensorDataset of the
    code's own 256 rows in batches of 32; MNIST's 60000 in batches of 100). A data set standing in
    for files that are not here has no length to go by."""
    if getattr(loader, "drop_last", False) is True:
        return "its DataLoader drops the last incomplete one (drop_last=True)"
    from torch.utils.data import TensorDataset

    from vaelint.frontends.training.datasets import _SIZES, DataSetStandIn

    # read by type, never by asking the data set for an attribute: a data set standing in answers an
    # attribute by running its constructor again, which only the sandbox may do
    dataset = getattr(loader, "dataset", None)
    real = isinstance(dataset, TensorDataset) or (isinstance(dataset, DataSetStandIn) and dataset.name in _SIZES)
    try:
        n = len(dataset) if real else 0
    except Exception:  # noqa: BLE001 - a data set without a length: not known
        n = 0
    return f"its data set's {n} samples make whole batches of {size}" if n and n % size == 0 else ""
