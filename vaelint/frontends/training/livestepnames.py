"""Which names of the step's frame are its batch beside the one the model was given
(:mod:`.livestep`): the model call's arguments that name another value at the backward, and data
the step itself makes tensors of beside the batch."""

from __future__ import annotations

import ast

from vaelint.source.astutil import walk_statements


def rebound_after_the_call(region: list[ast.stmt], names: list[str], inputs: list, values: dict) -> dict:
    """{name: the tensor the model was given} for the model call's arguments that name another
    value at the backward: the call in the region whose arguments are names, among them ``names``."""
    for node in (n for stmt in region for n in ast.walk(stmt)):
        if not isinstance(node, ast.Call) or len(node.args) != len(inputs) or not all(isinstance(a, ast.Name) for a in node.args):
            continue
        called = [a.id for a in node.args]
        if not set(called) & set(names):
            continue
        return {
            n: t for n, t in zip(called, inputs) if n not in names and n in values and values[n] is not t and getattr(t, "dim", lambda: 0)()
        }
    return {}


def converted_in_the_step(region: list[ast.stmt], values: dict, names: list[str]) -> list[str]:
    """Data the step itself makes tensors of beside the batch (``mask = torch.from_numpy(mask)``,
    NumPy rows sliced with the batch's): each such name whose tensor at the backward has the
    batch's leading size is an item of the batch too, bound at the capture's batch sizes."""
    import torch

    batch = values.get(names[0])
    if not isinstance(batch, torch.Tensor) or batch.dim() == 0:
        return []
    found = []
    for stmt in walk_statements(region):
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        name, value = stmt.targets[0].id, values.get(stmt.targets[0].id)
        if name in names or name in found or not isinstance(value, torch.Tensor) or value.dim() == 0 or len(value) != len(batch):
            continue
        if any(_from_numpy_of(call, name) for call in ast.walk(stmt.value)):
            found.append(name)
    return found


def _from_numpy_of(node, name: str) -> bool:
    func = getattr(node, "func", None)
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return called == "from_numpy" and bool(node.args) and isinstance(node.args[0], ast.Name) and node.args[0].id == name


def cut_beside(source, names: list[str], values: dict) -> list[str]:
    """The other tensors the statement that binds the batch cuts with the same index
    (``x, dec_in, y = enc[sl], dec[sl], tgt[sl]``: the target ``y`` beside what the model was
    given): items of the batch too, resized with it at the capture's batch sizes."""
    import torch

    if not (isinstance(source, ast.Assign) and len(source.targets) == 1):
        return []
    target, value = source.targets[0], source.value
    if not (isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts)):
        return []
    pairs = [(t.id, v) for t, v in zip(target.elts, value.elts) if isinstance(t, ast.Name)]
    cuts = {ast.unparse(v.slice) for n, v in pairs if n in names and isinstance(v, ast.Subscript)}
    batch = values.get(names[0]) if names else None
    if not cuts or not isinstance(batch, torch.Tensor) or batch.dim() == 0:
        return []
    found = []
    for name, v in pairs:
        held = values.get(name)
        if name in names or not isinstance(v, ast.Subscript) or ast.unparse(v.slice) not in cuts:
            continue
        if isinstance(held, torch.Tensor) and held.dim() and len(held) == len(batch):
            found.append(name)
    return found
