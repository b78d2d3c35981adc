"""How a training step reads a batch variable (``x, y = batch``, ``batch["image"]``,
``batch[0]``, passed on to ``self._step(batch)``), read from the step's statements."""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass
class BatchUse:
    """How the step reads a batch variable that is a single name."""

    kind: str  # "tensor", "unpacked", "indexed", "keyed", "passed" (on to self.METHOD, read there)
    arity: int = 0  # "unpacked": into how many names
    method: str = ""  # "passed": the method of self it is passed to (or the function: see function) ...
    position: int = 0  # ... as its argument number
    keyword: str = ""  # ... or by this parameter's name (self._step(batch=batch, ...))
    key: str = ""  # "keyed": the first key read
    keys: tuple = ()  # "keyed": every key read, in the order the step first reads them
    # "indexed": the step tests the batch's type first (``batch[0] if type(batch) is list else batch``)
    type_tested: bool = False
    function: bool = False  # "passed" to a function of the module's own (elbo(self.vae, batch)), not a method
    optional: tuple = ()  # "keyed": keys the step tests for first (``batch["t"] if "t" in batch else x``)
    # "keyed": keys whose value the step reads only by its first item (``batch["img"][0]``): a list of tensors
    listed: tuple = ()


def use_of(name: str, statements) -> BatchUse:
    """How the step first reads a single batch variable: unpacked (``x, y =
    batch``), indexed (``batch[0]``), keyed (``batch["image"]``) or as a tensor."""

    for stmt in statements:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id == name:
                target = node.targets[0]
                if isinstance(target, (ast.Tuple, ast.List)):
                    return BatchUse("unpacked", len(target.elts))
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == name:
                key = node.slice
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    keys = keys_read(name, statements)
                    tested = tuple(k for k in keys_tested(name, statements) if k in keys)
                    listed = tuple(k for k in keys if k in keys_read_first_item(name, statements))
                    return BatchUse("keyed", key=keys[0] if keys else key.value, keys=tuple(keys), optional=tested, listed=listed)
                if _slices_a_tensor(key):
                    return BatchUse("tensor")  # x[:, :-1] (teacher forcing), x[..., 0]: the batch is a tensor
                return BatchUse("indexed", type_tested=_type_tested(name, statements))
            by_name = [kw.arg for kw in getattr(node, "keywords", ()) if kw.arg and isinstance(kw.value, ast.Name) and kw.value.id == name]
            if isinstance(node, ast.Call) and (by_name or any(isinstance(a, ast.Name) and a.id == name for a in node.args)):
                func = node.func
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
                    if by_name:  # self._step(batch=batch, step_name="train"): read where it arrives
                        return BatchUse("passed", method=func.attr, keyword=by_name[0])
                    k = next(i for i, a in enumerate(node.args) if isinstance(a, ast.Name) and a.id == name)
                    return BatchUse("passed", method=func.attr, position=k)
                if isinstance(func, ast.Name) and not by_name:
                    # elbo(self.vae, batch): a function of the module's own, which unpacks it there
                    k = next(i for i, a in enumerate(node.args) if isinstance(a, ast.Name) and a.id == name)
                    return BatchUse("passed", method=func.id, position=k, function=True)
                return BatchUse("tensor")
    return BatchUse("tensor")


def _type_tested(name: str, statements) -> bool:
    """Does the step ask what the batch is (``type(batch) is list``, ``isinstance(batch, (list, tuple))``)?"""
    for stmt in statements:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("type", "isinstance"):
                if node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == name:
                    return True
    return False


def _slices_a_tensor(key) -> bool:
    """A subscript no tuple or list of a batch takes: a slice, several dims, an ellipsis, a None."""
    parts = key.elts if isinstance(key, ast.Tuple) else [key]
    return isinstance(key, (ast.Tuple, ast.Slice)) or any(
        isinstance(p, ast.Slice) or (isinstance(p, ast.Constant) and (p.value is Ellipsis or p.value is None)) for p in parts
    )


def keys_read(name: str, statements) -> list[str]:
    """The keys the statements read of a dict ``name`` (``name["image"]``, ``name.get("y")``),
    in the order of the source, each once."""

    found = []
    for stmt in statements:
        for node in ast.walk(stmt):
            key = None
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == name:
                key = node.slice
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == name
                and node.args
            ):
                key = node.args[0]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                found.append((node.lineno, node.col_offset, key.value))
    return list(dict.fromkeys(k for _, _, k in sorted(found)))


def keys_read_first_item(name: str, statements) -> set[str]:
    """The keys of a dict ``name`` whose value every read of the statements takes the first item
    of (``name["img"][0]``): the data set's items hold a list (or tuple) of tensors there, and
    the tensor a step takes out is what one --input gives."""
    first, other = set(), set()
    for stmt in statements:
        parents = {child: node for node in ast.walk(stmt) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(stmt):
            if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == name):
                continue
            if not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
                continue
            up = parents.get(node)
            is_first = isinstance(up, ast.Subscript) and up.value is node and isinstance(up.slice, ast.Constant) and up.slice.value == 0
            (first if is_first else other).add(node.slice.value)
    return first - other


def keys_tested(name: str, statements) -> list[str]:
    """The keys the statements test a dict ``name`` for (``"mask" in name``, ``"t" not in name``)."""
    found = []
    for stmt in statements:
        for node in ast.walk(stmt):
            if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))):
                continue
            left, right = node.left, node.comparators[0]
            if isinstance(right, ast.Name) and right.id == name and isinstance(left, ast.Constant) and isinstance(left.value, str):
                found.append(left.value)
    return list(dict.fromkeys(found))
