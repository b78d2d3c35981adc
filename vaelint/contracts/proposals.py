"""jaxtyping annotations written from the solved shapes (``vaelint annotate``).

The capture watched the model's forward/encode/decode/reparameterize/sample
and the loss (vaelint/contracts/calls.py); each tensor they took or returned has a
symbolic shape. This module words those shapes as jaxtyping annotations, for
the parameters and return values that have none yet:

- the batch is ``B``; ``2*B`` (IWAE's repeated samples) is written as jaxtyping's
  expression when ``B`` was bound earlier in the same call, else ``_``;
- a size the model names (``self.latent_dim = 16``, ``hidden_size=400`` among
  its constructor's arguments: ``latent``, ``hidden``) is written by that name,
  the latent size only on the latent side of the model; other sizes are numbers;
- a dim that differs between two calls of one function is ``_``;
- a value whose shape was not solved at every batch (a padded length that
  depends on the data) gets no annotation.

Every name stands for one size across the model, so the annotations hold in
every call, under jaxtyping and under VAE014. The proposals are plain data: the
worker makes them, vaelint/contracts/writer.py edits the files.
"""

from __future__ import annotations

import inspect
import keyword
from dataclasses import dataclass

from vaelint.contracts.check import dtype_name

_SUFFIXES = ("_dims", "_dim", "_size", "_features", "_channels", "_len", "_length")
_PREFIXES = ("n_", "num_")


@dataclass(frozen=True)
class Proposal:
    """One annotation to add: ``text`` for ``param`` ("return": the return value)
    of the function ``function`` defined at ``path:line``."""

    path: str
    function: str  # its qualified name (VAE.encode)
    line: int  # the def line
    param: str
    text: str  # 'Float[Tensor, "B latent"]'; "Tensor" is written as the file imports it
    kinds: tuple[str, ...]  # the jaxtyping names it uses (Float, Int, Bool)


def dim_name(attribute: str) -> str | None:
    """``latent_dim`` -> ``latent``, ``hidden_size`` -> ``hidden``, ``z_dim`` -> ``z``."""
    name = attribute.lower().lstrip("_")
    for p in _PREFIXES:
        if name.startswith(p) and len(name) > len(p):
            name = name[len(p) :]
    for s in _SUFFIXES:
        if name.endswith(s) and len(name) > len(s):
            name = name[: -len(s)]
            break
    else:
        if name not in ("latent", "hidden", "features", "channels"):
            return None
    if not name.isidentifier() or keyword.iskeyword(name) or name in ("b", "batch", "_"):
        return None
    return name


def _model_sizes(model, init: dict) -> dict[str, int]:
    """The model's named sizes: int attributes and constructor arguments."""
    found: dict[str, int] = {}
    try:
        params = inspect.signature(type(model).__init__).parameters
        for p in params.values():
            if isinstance(p.default, int) and not isinstance(p.default, bool):
                found[p.name] = p.default
    except (TypeError, ValueError):
        pass
    for k, v in {**init, **vars(model)}.items():
        if isinstance(v, int) and not isinstance(v, bool):
            found[k] = v
    return found


@dataclass
class Namer:
    latent_size: int | None
    latent_name: str
    by_size: dict  # size -> name, sizes the model names once

    @classmethod
    def of(cls, ctx) -> Namer:
        names: dict[int, set] = {}
        for attr, size in _model_sizes(ctx.program.model, ctx.program.init).items():
            name = dim_name(attr)
            if name is not None and size > 1:
                names.setdefault(size, set()).add(name)
        z = ctx.latent_size
        latent = names.pop(z, set()) if z is not None else set()
        latent_name = sorted(latent, key=lambda n: ("latent" not in n and n != "z", n))[0] if latent else "latent"
        taken = {latent_name}
        by_size = {}
        for size, ns in names.items():
            if len(ns) == 1 and not (ns & taken):
                by_size[size] = ns.pop()
        return cls(z, latent_name, by_size)

    def dim(self, dim, size: int, latent_side: bool, bound: set) -> str:
        if dim is not None and dim.batch_dependent:
            if dim.coef == 1 and dim.const == 0:
                bound.add("B")
                return "B"
            if "B" in bound:
                head = "B" if dim.coef == 1 else f"{dim.coef}*B"
                return head + (f"+{dim.const}" if dim.const > 0 else f"{dim.const}" if dim.const < 0 else "")
            return "_"
        if latent_side and size == self.latent_size:
            return self.latent_name
        return self.by_size.get(size, str(size))


def _kind(dtype: str) -> str | None:
    if dtype.startswith(("float", "bfloat")):
        return "Float"
    if dtype.startswith(("int", "uint")):
        return "Int"
    if dtype == "bool":
        return "Bool"
    return None


def _array(ctx, namer: Namer, node, bound: set) -> tuple[str, str] | None:
    """(kind, dim string) for one tensor node, or None."""
    shape = ctx.shape(node)
    tensor = ctx.values(node)[0]
    if shape is None or shape.sizes is None or tensor is None:
        return None
    kind = _kind(dtype_name(tensor.dtype))
    if kind is None:
        return None
    if shape.dims is None:
        return None  # not solved at every batch (a data-dependent length): no annotation is sure to hold
    dims = shape.dims
    latent_side = ctx.is_latent(node)
    words = [namer.dim(d, s, latent_side, bound) for d, s in zip(dims, shape.sizes)]
    return kind, " ".join(words)


def _value(ctx, namer: Namer, value, bound: set):
    """An annotation structure for one watched value: ("array", kind, dims) or
    ("tuple", [...]), None when it is no tensor (or a tuple with one that is not)."""
    from vaelint.contracts.check import _items_of_node

    if isinstance(value, tuple):
        items = [_value(ctx, namer, v, bound) for v in value]
        return ("tuple", items) if items and all(i is not None for i in items) else None
    if not hasattr(value, "meta"):
        return None
    if ctx.shape(value) is None:
        items = _items_of_node(value)
        if items and all(i is not None for i in items):
            return _value(ctx, namer, tuple(items), bound)
        return None
    got = _array(ctx, namer, value, bound)
    return ("array", *got) if got else None


def _merge(a, b):
    """One annotation for two calls' values: dims that differ become ``_``."""
    if a is None or b is None or a[0] != b[0]:
        return None
    if a[0] == "tuple":
        if len(a[1]) != len(b[1]):
            return None
        items = [_merge(x, y) for x, y in zip(a[1], b[1])]
        return ("tuple", items) if all(i is not None for i in items) else None
    if a[1] != b[1]:
        return None
    da, db = a[2].split(), b[2].split()
    if len(da) != len(db):
        return None
    return ("array", a[1], " ".join(x if x == y else "_" for x, y in zip(da, db)))


def _text(structure) -> tuple[str, set]:
    if structure[0] == "array":
        return f'{structure[1]}[Tensor, "{structure[2]}"]', {structure[1]}
    parts, kinds = [], set()
    for item in structure[1]:
        t, k = _text(item)
        parts.append(t)
        kinds |= k
    return f"tuple[{', '.join(parts)}]", kinds


def _plain_tensor(annotation) -> bool:
    """``x: Tensor`` says nothing of the shape: a jaxtyping annotation may replace it."""
    import typing

    import torch

    if isinstance(annotation, typing.TypeVar):  # Tensor = TypeVar('torch.tensor') (PyTorch-VAE's types_.py)
        return annotation.__name__.lower() in ("tensor", "torch.tensor")
    return annotation is torch.Tensor


def propose(ctx) -> list[Proposal]:
    """The annotations to add to the watched functions that lack them."""
    namer = Namer.of(ctx)
    per_slot: dict = {}
    order: list = []
    for call in sorted(ctx.capture.contract_calls, key=lambda c: c.index):
        contract = call.contract
        if contract.dataclass_of is not None or contract.def_loc.path.endswith(".ipynb"):
            continue
        bound: set = set()
        for name in [*contract.params, "return"]:
            values = call.values
            if name == "self" or name not in values or (name in contract.hints and not _plain_tensor(contract.hints[name])):
                continue
            structure = _value(ctx, namer, values[name], bound)
            key = (contract.code, name)
            if key not in per_slot:
                order.append(key)
                per_slot[key] = (contract, structure)
            else:
                per_slot[key] = (contract, _merge(per_slot[key][1], structure))
    out = []
    for key in order:
        contract, structure = per_slot[key]
        if structure is None:
            continue
        text, kinds = _text(structure)
        out.append(Proposal(contract.def_loc.path, contract.qualname, contract.def_loc.line, key[1], text, tuple(sorted(kinds))))
    return out
