"""Where a tensor the code makes is moved to the GPU under a condition (a flag the code set on this
machine, which a simulated GPU cannot change): after it is made (``if self.use_cuda: eps =
eps.cuda()``), or as it is made (``c = to_device(torch.FloatTensor([C]))`` with a helper returning
``t.cuda() if use_cuda else t``; ``self.C_max = Variable(cuda(torch.FloatTensor([C]), self.use_cuda))``),
followed from where it meets the model's tensors through what it was computed from. Read by
VAE012's excuses (:mod:`vaelint.source.facts`)."""

from __future__ import annotations

import ast
import re

from vaelint.source.astutil import segment_of

MOVE_METHODS = {"cuda", "to", "type_as"}


def move_after(function: ast.AST, text: str, name: str, line: int, before: int | None = None) -> tuple[int, str] | None:
    for node in ast.walk(function):
        if not isinstance(node, ast.If) or node.lineno <= line or (before is not None and node.lineno >= before):
            continue
        for stmt in (s for branch in (node.body, node.orelse) for s in branch):
            if moves(stmt, name):
                return node.lineno, segment_of(text, node.test) or ast.unparse(node.test)
    return None


def moved_where_made(function, text: str, tree, name: str, before: int, depth: int = 0) -> tuple[int, str] | None:
    """A conditional move (:func:`_moved_by_its_value`) where ``name`` was last assigned before
    line ``before``, or where a name that value was computed from was (``c = c_max / 1000 * step``
    with ``c_max = to_dev(...)``)."""
    from vaelint.source.astutil import loads

    last = max(
        (
            n
            for n in ast.walk(function)
            if isinstance(n, ast.Assign) and n.lineno < before and name in _target_names(n) and not moves(n, name)
        ),
        key=lambda n: n.lineno,
        default=None,
    )
    if last is None:
        return _moved_attribute(tree, text, name[len("self.") :]) if name.startswith("self.") else None
    moved = _moved_by_its_value(last, text, tree) if _makes_a_tensor(last.value) else None
    if moved is None and _a_maker(last.value):
        moved = move_after(function, text, name, last.lineno, before=before)  # c = FloatTensor(...); if use_cuda: c = c.cuda()
    if moved is not None or depth >= 4:
        return moved
    for read in sorted(loads(last.value) - {name, "self"}) + sorted(_self_reads(last.value)):
        moved = moved_where_made(function, text, tree, read, last.lineno, depth + 1)
        if moved is not None:
            return moved
    return None


def _self_reads(node: ast.AST) -> set[str]:
    """``self.X`` read inside ``node``, as "self.X"."""
    return {
        f"self.{n.attr}"
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self" and isinstance(n.ctx, ast.Load)
    }


def _moved_attribute(tree: ast.AST, text: str, attr: str) -> tuple[int, str] | None:
    """A conditional move where the file sets ``self.<attr>`` (its constructor, a setup method):
    ``self.C_max = Variable(cuda(torch.FloatTensor([C]), self.use_cuda))``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == attr and isinstance(t.value, ast.Name) and t.value.id == "self" for t in node.targets
        ):
            moved = _moved_by_its_value(node, text, tree) if _makes_a_tensor(node.value) else None
            if moved is not None:
                return moved
    return None


_MAKERS = frozenset(
    {"FloatTensor", "DoubleTensor", "LongTensor", "Tensor", "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty"}
    | {"rand", "randn", "randint", "arange", "linspace", "eye"}
)


_WRAPPERS = frozenset({"Variable", "Parameter"})


def _peeled(value: ast.AST) -> ast.AST:
    """The value inside ``Variable(...)`` / ``nn.Parameter(...)``, which move nothing."""
    while isinstance(value, ast.Call) and value.args and ast.unparse(value.func).split(".")[-1] in _WRAPPERS:
        value = value.args[0]
    return value


def _makes_a_tensor(value: ast.AST) -> bool:
    """Is what the value moves a tensor it makes itself (``to_dev(torch.FloatTensor([C]))``,
    ``torch.FloatTensor([C]).cuda() if use_cuda else torch.FloatTensor([C])``), not one it reads (a batch)?"""
    value = _peeled(value)
    if isinstance(value, ast.IfExp):
        return _a_maker(value.orelse) or _a_maker(value.body)
    return isinstance(value, ast.Call) and bool(value.args) and _a_maker(value.args[0])


def _a_maker(node: ast.AST) -> bool:
    while isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in _MAKERS:
            return True
        node = func.value if isinstance(func, ast.Attribute) else None  # torch.FloatTensor([C]).cuda()
    return False


def _target_names(assign: ast.Assign) -> set:
    return {t.id for t in assign.targets if isinstance(t, ast.Name)}


def _moved_by_its_value(assign: ast.Assign, text: str, tree: ast.AST) -> tuple[int, str] | None:
    """(line, condition) where the value assigned is moved to the GPU under a condition: ``t =
    x.cuda() if use_cuda else x``, or ``t = to_dev(x)`` with a function of the file whose body
    does that (``return t.cuda() if use_cuda else t``, ``if use_cuda: t = t.cuda()``)."""
    value = _peeled(assign.value)
    if isinstance(value, ast.IfExp) and _calls_a_move(value.body) != _calls_a_move(value.orelse):
        return assign.lineno, segment_of(text, value.test) or ast.unparse(value.test)
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)):
        return None
    defined = next((f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == value.func.id), None)
    flags = [*value.args[1:], *(k.value for k in value.keywords)]
    if defined is None and flags and any(w in value.func.id.lower() for w in ("cuda", "gpu", "device")):
        # a helper of another file, cuda(t, use_cuda): its flag is what a GPU machine sets
        return assign.lineno, segment_of(text, flags[0]) or ast.unparse(flags[0])
    for node in ast.walk(defined) if defined is not None else ():
        if isinstance(node, ast.IfExp) and _calls_a_move(node.body) != _calls_a_move(node.orelse):
            return node.lineno, segment_of(text, node.test) or ast.unparse(node.test)
        if isinstance(node, ast.If) and any(_calls_a_move(s) for s in node.body) and not any(_calls_a_move(s) for s in node.orelse):
            return node.lineno, segment_of(text, node.test) or ast.unparse(node.test)
    return None


def _calls_a_move(node: ast.AST) -> bool:
    return any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr in MOVE_METHODS for c in ast.walk(node))


def moves(stmt: ast.stmt, name: str) -> bool:
    """``name = name.cuda()`` / ``.to(...)`` / ``.type_as(...)``, or the same moved in place."""
    value = stmt.value if isinstance(stmt, (ast.Assign, ast.Expr)) else None
    if isinstance(stmt, ast.Assign) and not any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
        return False
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
        if value.func.attr in MOVE_METHODS and isinstance(value.func.value, ast.Name) and value.func.value.id == name:
            return True
        value = value.func.value  # eps.float().cuda()
    return False


def device_test_move(built) -> tuple[int, str] | None:
    """(line, condition) of an ``if`` on a device after the line that builds a model (``model = VAE()``
    then ``if device.type != "cpu": model.to(device)``, ``if args.cuda: model.cuda()``) in the same
    block, whose body moves that model to a device (not to the CPU, not to a dtype); None else."""
    from vaelint.source.files import read_source

    try:
        text = read_source(built.path)
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError):
        return None
    for block in (n.body for n in ast.walk(tree) if isinstance(getattr(n, "body", None), list)):
        assign = next((s for s in block if isinstance(s, ast.Assign) and s.lineno <= built.line <= (s.end_lineno or s.lineno)), None)
        if assign is None or len(assign.targets) != 1 or not isinstance(assign.targets[0], ast.Name):
            continue
        name = assign.targets[0].id
        for stmt in block[block.index(assign) + 1 :]:
            if not isinstance(stmt, ast.If) or not re.search(r"cuda|device|gpu|mps", ast.unparse(stmt.test), re.IGNORECASE):
                continue
            if any(_moves_to_a_device(n, name) for s in stmt.body for n in ast.walk(s)):
                return stmt.lineno, segment_of(text, stmt.test) or ast.unparse(stmt.test)
    return None


def _moves_to_a_device(node: ast.AST, name: str) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute) or node.func.attr not in ("to", "cuda"):
        return False
    if not isinstance(node.func.value, ast.Name) or node.func.value.id != name:
        return False
    said = " ".join(ast.unparse(a) for a in (*node.args, *(k.value for k in node.keywords)))
    return node.func.attr == "cuda" or not re.search(r"cpu|float|half|double|bfloat|int\d", said, re.IGNORECASE)
