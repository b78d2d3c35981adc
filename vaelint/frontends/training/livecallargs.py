"""The data read by the statement that called the model, where nothing holds what the model was
given: the model's pieces called on the data joined with a state or a sample
(``model.cell(torch.cat([frames[t], z], 1), h)`` in a sequence VAE's time loop, ``model.enc(x +
noise)``). The batch is then the data tensors that statement reads: those without a gradient
that hold data, not a state or sample the step starts from zeros (``z = torch.zeros(B, Z)``), nor
a weight."""

from __future__ import annotations

import ast

from vaelint.frontends.training.liveinner import tensors_in
from vaelint.source.astutil import place_at


def frames_then_the_call(usable, call):
    """The usable frames innermost first, each with None; then, where none of them holds the model's
    input, the frame of the statement that made the call, with the data that statement read
    (``model.cell(torch.cat([x[t], z], 1), h)``: ``x``), as :func:`data_read_at_the_call`."""
    for entry in reversed(usable):
        yield (*entry, None)
    read = data_read_at_the_call(call, usable)
    if read is not None:
        yield (*read[0], read)


def data_read_at_the_call(call, usable) -> tuple | None:
    """(the usable entry of the frame that made ``call``, the names of the data tensors its statement
    reads, as the frame holds them at the backward); None where none is found."""
    site = getattr(call, "site", None)
    if site is None:
        return None
    code, at = site
    entry = next((e for e in reversed(usable) if e[0].f_code is code and e[4] is not None), None)
    if entry is None:
        return None
    _frame, _line, values, _file, scope, _place = entry
    where = place_at(scope, at)
    if where is None:
        return None
    read = _argument_names(where.statement, at[0])
    given = next((t for t in tensors_in(call[1]) if t.dim()), None)
    for level in [read, *_assigned_from(scope, read)]:
        names = [n for n in level if _data(values.get(n)) and _carries(values[n], given)]
        if names:
            return entry, names
    return None


def _assigned_from(scope, names: list[str], depth: int = 3) -> list[list[str]]:
    """The names read by the scope's assignments to ``names`` (``inp = torch.cat([frames[t], z], 1)``
    before ``model.rnn(inp, h)``: ``frames``, ``z``, ``t``), then theirs: a list a level, ``depth``
    levels deep."""
    from vaelint.source.astutil import walk_statements

    made: dict = {}
    for stmt in walk_statements(scope.node.body if hasattr(scope.node, "body") else []):
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                for t in (n for n in ast.walk(target) if isinstance(n, ast.Name)):
                    made.setdefault(t.id, []).append(stmt.value)
    levels, seen, todo = [], set(names), list(names)
    for _ in range(depth):
        todo = [n.id for name in todo for value in made.get(name, []) for n in ast.walk(value) if isinstance(n, ast.Name)]
        todo = [n for n in dict.fromkeys(todo) if n not in seen]
        seen.update(todo)
        levels.append(todo)
    return levels


def _argument_names(stmt: ast.stmt, line: int) -> list[str]:
    """The names the arguments of the statement's calls on ``line`` read, in order (the called
    function's own expression left out: ``model.cell``)."""
    out = []
    heads = [stmt.test] if isinstance(stmt, (ast.If, ast.While)) else [stmt.iter] if isinstance(stmt, ast.For) else [stmt]
    for head in heads:
        for call in (c for c in ast.walk(head) if isinstance(c, ast.Call) and c.lineno <= line <= (c.end_lineno or c.lineno)):
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                out += [n.id for n in ast.walk(arg) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return list(dict.fromkeys(out))


def _carries(value, given) -> bool:
    """Does ``value`` hold the model input's rows, at its dim 0 (``x`` of ``model((x - mean) / std)``)
    or dim 1 (the (T, B, F) frames a time loop steps over)? A per-feature statistic (``mean`` of
    (D,)) or a weight of fewer dims does not."""
    if given is None or value.dim() < given.dim():
        return False
    return given.shape[0] in tuple(value.shape[:2])


def _data(value) -> bool:
    """A tensor of data: no gradient, not a weight, more than one element, not all one value."""
    import torch

    if not isinstance(value, torch.Tensor) or isinstance(value, torch.nn.Parameter):
        return False
    if value.requires_grad or value.grad_fn is not None or value.numel() < 2 or value.is_complex():
        return False
    if value.layout != torch.strided:
        return True  # a sparse adjacency: data
    flat = value.detach().reshape(-1)
    return bool((flat != flat[0]).any())
