"""Names for dims, from the model's own jaxtyping annotations where it has them.

``def forward(self, x: Float[Tensor, "batch features"]) -> tuple[Float[Tensor,
"batch features"], Float[Tensor, "batch latent"], ...]`` makes vaelint write
``B x features`` and ``B x latent`` instead of ``B x 784`` and ``B x Z``. The
batch is always written ``B`` (the report's symbol for it).
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass, field


@dataclass
class DimNames:
    latent: str = "Z"
    data: dict[int, str] = field(default_factory=dict)  # size -> name, for input-side tensors
    # node -> {size: name}: the names of a jaxtyping annotation that held on that value
    by_node: dict = field(default_factory=dict)


def _jaxtyping_dims(annotation) -> list[str | int | None] | None:
    dims = getattr(annotation, "dims", None)
    if dims is None or not isinstance(getattr(annotation, "dim_str", None), str):
        return None
    out: list[str | int | None] = []
    for d in dims:
        name = getattr(d, "name", None)
        size = getattr(d, "size", None)
        out.append(name if isinstance(name, str) else size if isinstance(size, int) else None)
    return out


def _resolve(fn) -> dict:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable string annotations: use what is there
        try:
            return dict(inspect.get_annotations(fn))
        except Exception:  # noqa: BLE001
            return {}


def _bind(names: dict[str, int], dims, shape) -> None:
    if dims is None or shape is None or len(dims) != len(shape):
        return
    for d, size in zip(dims[1:], shape[1:]):  # dim 0 is the batch
        if isinstance(d, str) and d.isidentifier():
            names.setdefault(d, size)


def from_annotations(model, input_shapes: list, output_shapes: list, latent_size: int | None) -> DimNames:
    """Bind the forward's annotated dim names to the sizes seen at its inputs and outputs."""
    result = DimNames()
    hints = _resolve(type(model).forward)
    if not hints:
        return result
    params = [p for p in inspect.signature(type(model).forward).parameters if p != "self"]
    bound: dict[str, int] = {}
    for name, shape in zip(params, input_shapes):
        _bind(bound, _jaxtyping_dims(hints.get(name)), shape)
    ret = hints.get("return")
    parts = typing.get_args(ret) if typing.get_origin(ret) in (tuple, typing.Tuple, list) else (ret,)
    latent_names = set()
    for ann, shape in zip(parts, output_shapes):
        dims = _jaxtyping_dims(ann)
        _bind(bound, dims, shape)
        if dims and latent_size is not None and shape is not None and len(dims) == len(shape):
            for d, size in zip(dims[1:], shape[1:]):
                if isinstance(d, str) and size == latent_size:
                    latent_names.add(d)
    if len(latent_names) == 1:
        result.latent = latent_names.pop()
    by_size: dict[int, set] = {}
    for name, size in bound.items():
        if name not in latent_names | {result.latent}:
            by_size.setdefault(size, set()).add(name)
    # a size two dims name differently (height and width, both 28) stays a number
    result.data = {size: names.pop() for size, names in by_size.items() if len(names) == 1}
    return result
