"""How a loss reads a parameter that is the forward's whole output: by the keys or fields of the
record it returns (``out['recon']``, ``out.mu``), by unpacking its tuple (``recon, mu, logvar =
out``) or by taking its items by position (``output[1]``, ``output[2]``). Such a parameter is bound
to the whole output, whatever it is called (vaelint/capture/binding.py)."""

from __future__ import annotations

import inspect

from vaelint.capture.outputs import flatten_outputs
from vaelint.capture.passthrough import called_target


def is_record(out) -> bool:
    import dataclasses

    return isinstance(out, dict) or (dataclasses.is_dataclass(out) and not isinstance(out, type)) or hasattr(out, "_fields")


def read_as_record(fn, name: str, out, by_position: bool = True) -> bool:
    """Does the loss read its parameter ``name`` as the forward's record: by the keys of the dict
    it returns (``fwd_rtn['Y_recon']``) or the fields of its record (``output.mu``)? Then the
    parameter is that whole output, whatever it is called (maiho24/BrainNormativeCVAE)."""
    import ast
    import textwrap

    target = called_target(fn)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(target)))
    except (OSError, TypeError, SyntaxError):
        return False
    # the parameter and the names the loss gives it first (``out = forward_outputs``)
    names = {name} | {
        t.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id == name
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    if isinstance(out, (tuple, list)):
        return any(_unpacked(tree, n, len(out), by_position) for n in names)
    keys = set(out) if isinstance(out, dict) else {path[0] for path, _v in flatten_outputs(out) if path and isinstance(path[0], str)}
    read = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in names:
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                read.add(node.slice.value)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
            read.add(node.attr)
    return bool(read) and bool(read & keys) and read <= keys | {"get", "keys", "items", "values"}


def _unpacked(tree, name: str, count: int, by_position: bool = True) -> bool:
    """Does the loss unpack its parameter ``name`` into as many names as the forward returns
    values (``z, mu, logstd = out``), or take two or more of its items by position, each one the
    forward returns (``mu, log_var = output[1], output[2]``; ``by_position``: where no other parameter
    is named for a role, which the items would then be)? Then it is the whole output, not the first one."""
    import ast

    items = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == name:
            index = node.slice.value if isinstance(node.slice, ast.Constant) else None
            items.add(index if isinstance(index, int) and not isinstance(index, bool) and -count <= index < count else None)
    if by_position and len(items) >= 2 and None not in items:
        return True
    return any(
        isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Name)
        and node.value.id == name
        and any(isinstance(t, (ast.Tuple, ast.List)) and len(t.elts) == count for t in node.targets)
        for node in ast.walk(tree)
    )
