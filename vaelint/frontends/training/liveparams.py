"""A named target's parameter that nothing passes and that is the code's data (``fit(self, X)``,
``train(self, train_loader)``), where --input gives the batch: it stands in as rows of --input's
samples where the code builds its data from it (``TensorDataset(X)``, ``X.shape[1]``), and as a
data loader of --input's batches where the code iterates it (``for i, (x, _) in enumerate(loader)``:
the run's batch maker gives each batch the loop's own pattern, as for any loader of the code's)."""

from __future__ import annotations

import os
import re

from vaelint.errors import VaelintError
from vaelint.frontends.training.runtime import StandIn

_AS_DATA = re.compile(
    r"TensorDataset\(|DataLoader\(|torch\.(tensor|from_numpy|as_tensor|Tensor|FloatTensor)\(|np\.(array|asarray)\(|\.shape\b|len\("
)


def data_parameter(fn, kwargs: dict, error: VaelintError, request) -> dict | None:
    """{name: its stand-in} for the parameter nothing passes whose stand-in the code used as its data
    before any batch was taken, where --input gives the batch's first item; None for any other stop."""
    from vaelint.source.facts import line_text

    if not any(not s.name for s in request.inputs):
        return None
    for name, value in kwargs.items():
        said = getattr(value, "_what", None) if isinstance(value, StandIn) else None
        if not said or f"the step uses {said}" not in error.message:
            continue
        where = re.match(r"(.+?):(\d+): ", error.message)
        text = line_text(os.path.abspath(where.group(1)), int(where.group(2))) if where else ""
        if not re.search(rf"\b{re.escape(name)}\b", text):
            return None
        if _iterated(name, text):
            return {name: _parameter_loader(fn, name, request)}
        if _AS_DATA.search(text):
            return {name: _parameter_rows(fn, name, request)}
        return _batch_parameters(fn, kwargs, request)
    return None


def _batch_parameters(fn, kwargs: dict, request) -> dict | None:
    """A method that takes the batch itself (``Agent.update(self, s, a)``, a ``train_step(x, y)``):
    its parameters nothing passes take the --input tensors, in order, as the code's training
    loop would hand them; None where there are more such parameters than --input gives."""
    import torch

    from vaelint.frontends.training.livedata import STOOD_IN

    unbound = [n for n, v in kwargs.items() if isinstance(v, StandIn)]
    given = [s for s in request.inputs if not s.name]
    if not unbound or len(unbound) > len(given) or not all(_used_as_a_batch(fn, n) for n in unbound):
        return None  # a replay buffer (buffer.sample(n)), a count (range(iterations)), a weight: no batch
    g = torch.Generator().manual_seed(0)
    tensors = [spec.make(spec.batch, generator=g) for spec in given[: len(unbound)]]
    one = len(unbound) == 1
    STOOD_IN.append(
        f"the parameter{'' if one else 's'} {', '.join(unbound)} of {getattr(fn, '__qualname__', 'the target')}, which nothing "
        f"passes, {'is' if one else 'are'} the batch it trains on: {'it takes' if one else 'they take'} --input "
        f"{' --input '.join(s.text() for s in given[: len(unbound)])}"
    )
    return dict(zip(unbound, tensors))


def _iterated(name: str, text: str) -> bool:
    """``for batch in loader``, ``enumerate(loader)``, ``tqdm(loader)``, ``iter(loader)``: the line
    iterates the parameter itself (not an attribute of it, not one of its items)."""
    n = re.escape(name)
    looped = re.search(rf"\bfor\b.+\bin\s+{n}\s*:", text) is not None
    wrapped = re.search(rf"\b(enumerate|tqdm|iter|zip|trange)\((\s*\w+\s*,)*\s*{n}\s*[,)]", text) is not None
    return looped or wrapped


def _parameter_rows(fn, name: str, request):
    """Rows of the first --input's samples for the parameter ``name``, said in the report."""
    import torch

    from vaelint.frontends.training.livedata import STOOD_IN, stood_in_rows

    spec = next(s for s in request.inputs if not s.name)
    rows = torch.from_numpy(stood_in_rows(spec))
    STOOD_IN.append(
        f"the parameter {name!r} of {getattr(fn, '__qualname__', 'the target')}, which nothing passes, is the code's data: "
        f"it stands in as {' x '.join(map(str, rows.shape))} rows of --input {spec.text()}'s samples"
    )
    return rows


def _parameter_loader(fn, name: str, request):
    """A data loader for the parameter ``name`` that the code iterates: its batches are --input's (the
    run makes every loader's batch from the specs, in the pattern the loop unpacks), said in the report."""
    import torch
    from torch.utils.data import DataLoader

    from vaelint.frontends.training.livedata import STOOD_IN

    given = [s for s in request.inputs if not s.name]
    spec = given[0]
    STOOD_IN.append(
        f"the parameter {name!r} of {getattr(fn, '__qualname__', 'the target')}, which nothing passes, is the data loader "
        f"the code iterates: it stands in as a loader of --input {' --input '.join(s.text() for s in given)} batches"
    )
    return DataLoader(torch.zeros(2 * spec.batch, 1), batch_size=spec.batch)  # items of no one structure: the loop's own


# what a tensor of the batch is asked for (x.size(0), x.view(B, -1)): a parameter read otherwise is an object
_TENSOR_READS = {"size", "shape", "view", "reshape", "to", "float", "double", "long", "cuda", "cpu", "unsqueeze", "squeeze"}
_TENSOR_READS |= {"flatten", "permute", "transpose", "dim", "detach", "clone", "numel", "new_zeros", "new_ones", "device", "dtype"}


def _used_as_a_batch(fn, name: str) -> bool:
    """Does the function's body use parameter ``name`` as a tensor of the batch: handed to a call
    (``self.vae(s, a)``, ``model(x)``, ``torch.cat([s, a])``) and read only as a tensor is, never
    counted with (``range(n)``), asked an object's method (``buffer.sample(k)``), nor used alone in
    arithmetic with a loss (``beta * kl``)?"""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(fn, "__func__", fn))))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    handed = False
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == name
            and node.attr not in _TENSOR_READS
        ):
            return False
        if isinstance(node, ast.Call):
            called = node.func.id if isinstance(node.func, ast.Name) else ""
            args = [a for a in node.args] + [k.value for k in node.keywords]
            reads = any(isinstance(n, ast.Name) and n.id == name for a in args for n in ast.walk(a))
            if reads and called in ("range", "int", "float", "len", "enumerate", "trange"):
                return False
            handed = handed or (reads and called not in ("print", "str", "repr"))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            sides = (node.left, node.right)
            for one, other in (sides, sides[::-1]):
                if isinstance(one, ast.Name) and one.id == name and not isinstance(other, ast.Constant):
                    return False  # beta * kl, lr * g: a number the step weighs with (x / 255, recon - x stay the batch's)
    return handed
