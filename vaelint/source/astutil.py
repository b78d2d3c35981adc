"""What the training front end knows of Python source without running it.

Scopes (the module and every function, methods included, by qualified name),
places inside a scope (a path of statement indices through nested blocks), and
which names a statement reads and writes: the facts the slicer
(:mod:`.slicer`) and the step finder (:mod:`.sites`) work from.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
from dataclasses import dataclass, field

BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__builtins__"}
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)

# compound statements and the fields holding their blocks, in execution order
BLOCK_FIELDS = {
    ast.If: ("body", "orelse"),
    ast.For: ("body", "orelse"),
    ast.AsyncFor: ("body", "orelse"),
    ast.While: ("body", "orelse"),
    ast.With: ("body",),
    ast.AsyncWith: ("body",),
    ast.Try: ("body", "handlers", "orelse", "finalbody"),
}
if hasattr(ast, "TryStar"):
    BLOCK_FIELDS[ast.TryStar] = ("body", "handlers", "orelse", "finalbody")


def sub_blocks(stmt: ast.stmt):
    """(field, index of a handler or None, block) for each block of a compound statement."""
    for name in BLOCK_FIELDS.get(type(stmt), ()):
        value = getattr(stmt, name)
        if name == "handlers":
            for i, handler in enumerate(value):
                yield name, i, handler.body
        else:
            yield name, None, value


# --------------------------------------------------------------------------- scopes


@dataclass
class Scope:
    """The module, or a function (a method: ``cls`` is its class)."""

    node: ast.AST
    qualname: str  # "" for the module; "main", "Solver.train", "main.loss_fn"
    path: str  # the file
    parent: Scope | None = None
    cls: ast.ClassDef | None = None

    @property
    def body(self) -> list[ast.stmt]:
        return self.node.body

    @property
    def is_module(self) -> bool:
        return isinstance(self.node, ast.Module)

    @property
    def name(self) -> str:
        return self.qualname.rpartition(".")[2]

    def params(self) -> list[str]:
        if self.is_module:
            return []
        a = self.node.args
        out = [p.arg for p in (*a.posonlyargs, *a.args)]
        if a.vararg:
            out.append(a.vararg.arg)
        out += [p.arg for p in a.kwonlyargs]
        if a.kwarg:
            out.append(a.kwarg.arg)
        return out

    def defaults(self) -> dict[str, ast.expr]:
        """Parameter -> its default expression."""
        if self.is_module:
            return {}
        a = self.node.args
        positional = [*a.posonlyargs, *a.args]
        out = {p.arg: d for p, d in zip(positional[len(positional) - len(a.defaults) :], a.defaults)}
        out.update({p.arg: d for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
        return out


def index_scopes(tree: ast.Module, path: str) -> dict[str, Scope]:
    """Every scope of a file by qualified name ("" is the module)."""
    out = {"": Scope(tree, "", path)}

    def visit(body, prefix: str, parent: Scope, cls: ast.ClassDef | None):
        for stmt in walk_statements(body):
            if isinstance(stmt, _FUNCS):
                scope = Scope(stmt, f"{prefix}{stmt.name}", path, parent, cls)
                # a name defined again (a notebook's second `def train`): the first keeps the name, a
                # later one is kept too, under its line, so a running frame finds its own (scope_of)
                if out.setdefault(scope.qualname, scope) is not scope:
                    out[f"{scope.qualname}@{stmt.lineno}"] = scope
                visit(stmt.body, f"{scope.qualname}.", scope, None)
            elif isinstance(stmt, ast.ClassDef):
                visit(stmt.body, f"{prefix}{stmt.name}.", parent, stmt)

    visit(tree.body, "", out[""], None)
    return out


def walk_statements(body: list[ast.stmt]):
    """The statements of a block and of its compound statements' blocks (not of
    nested functions or classes)."""
    for stmt in body:
        yield stmt
        for _name, _i, block in sub_blocks(stmt):
            yield from walk_statements(block)


# --------------------------------------------------------------------------- places


@dataclass(frozen=True)
class Place:
    """A statement inside a scope: the indices of the statements on the way to it,
    each with the block of that statement to go down into (("body", None), ("orelse",
    None), ("handlers", 2)...); the last step's block is None."""

    scope: Scope = field(compare=False)
    steps: tuple[tuple[int, tuple | None], ...]

    def statements(self) -> list[ast.stmt]:
        """The compound statements on the way, then the statement itself."""
        out, block = [], self.scope.body
        for index, into in self.steps:
            stmt = block[index]
            out.append(stmt)
            if into is not None:
                block = block_of(stmt, into)
        return out

    @property
    def statement(self) -> ast.stmt:
        return self.statements()[-1]

    @property
    def line(self) -> int:
        return self.statement.lineno


def block_of(stmt: ast.stmt, into: tuple) -> list[ast.stmt]:
    name, handler = into
    if name == "handlers":
        return stmt.handlers[handler].body
    return getattr(stmt, name)


def places(scope: Scope):
    """Every statement of a scope with its place (nested functions and classes excluded)."""

    def visit(block, prefix):
        for i, stmt in enumerate(block):
            yield Place(scope, prefix + ((i, None),)), stmt
            for name, handler, sub in sub_blocks(stmt):
                yield from visit(sub, prefix + ((i, (name, handler)),))

    yield from visit(scope.body, ())


# --------------------------------------------------------------------------- names


def loads(node: ast.AST) -> set[str]:
    """Names read anywhere inside ``node`` (free names of nested functions included)."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            out.add(n.id)
    return out - BUILTINS


def free_names(fn: ast.AST) -> set[str]:
    """Names a function (or class, or lambda) reads that it does not bind itself."""
    bound = set()
    if isinstance(fn, (*_FUNCS, ast.Lambda)):
        a = fn.args
        bound |= {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
        bound |= {p.arg for p in (a.vararg, a.kwarg) if p is not None}
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    read = set()
    for stmt in body:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Name):
                (read if isinstance(n.ctx, ast.Load) else bound).add(n.id)
            elif isinstance(n, (*_FUNCS, ast.ClassDef)):
                bound.add(n.name)
            elif isinstance(n, ast.alias):
                bound.add((n.asname or n.name).split(".")[0])
            elif isinstance(n, ast.ExceptHandler) and n.name:
                bound.add(n.name)
    # what a definition evaluates where it stands: decorators, defaults, bases
    if isinstance(fn, (*_FUNCS, ast.ClassDef)):
        for d in fn.decorator_list:
            read |= loads(d)
    if isinstance(fn, (*_FUNCS, ast.Lambda)):
        for d in (*fn.args.defaults, *(k for k in fn.args.kw_defaults if k is not None)):
            read |= loads(d)
    if isinstance(fn, ast.ClassDef):
        for b in (*fn.bases, *(k.value for k in fn.keywords)):
            read |= loads(b)
    return (read - bound) - BUILTINS


def target_names(target: ast.AST) -> set[str]:
    """Names a target binds outright (``x``, ``a, (b, c)``, ``*rest``)."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        out = set()
        for elt in target.elts:
            out |= target_names(elt)
        return out
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    return set()


def base_name(expr: ast.AST) -> str | None:
    """``a`` of ``a.b[c].d``."""
    while isinstance(expr, (ast.Attribute, ast.Subscript, ast.Call)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def mutated_names(target: ast.AST) -> set[str]:
    """Objects a target changes in place (``args.lr = ...``, ``cfg["k"] = ...``)."""
    if isinstance(target, (ast.Attribute, ast.Subscript)):
        name = base_name(target)
        return {name} if name else set()
    if isinstance(target, (ast.Tuple, ast.List)):
        out = set()
        for elt in target.elts:
            out |= mutated_names(elt)
        return out
    if isinstance(target, ast.Starred):
        return mutated_names(target.value)
    return set()


def dotted(expr: ast.AST) -> str:
    """``torch.nn.functional.mse_loss`` for an attribute chain of names, else ""."""
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return ".".join(reversed(parts))
    return ""


def calls_in(node: ast.AST):
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            yield n


def is_main_guard(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and "__name__" in {n.id for n in ast.walk(stmt.test) if isinstance(n, ast.Name)}


def source_segment(text: str, node: ast.AST, limit: int = 80) -> str:
    seg = " ".join((segment_of(text, node) or "").split())
    return seg if len(seg) <= limit else seg[: limit - 3] + "..."


def header_loads(stmt: ast.stmt) -> set[str]:
    """Names a statement reads before any of its blocks runs (a simple statement: all)."""
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return loads(stmt.iter)
    if isinstance(stmt, (ast.If, ast.While)):
        return loads(stmt.test)
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return set().union(*(loads(i.context_expr) for i in stmt.items))
    if type(stmt) in BLOCK_FIELDS:
        return (
            set().union(*(loads(h.type) for h in getattr(stmt, "handlers", []) if h.type is not None))
            if hasattr(stmt, "handlers")
            else set()
        )
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return free_names(stmt)
    return loads(stmt)


def writes_of(stmt: ast.stmt) -> set[str]:
    """Names a statement binds outright (not its blocks')."""
    if isinstance(stmt, ast.Assign):
        return set().union(*(target_names(t) for t in stmt.targets))
    if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        return target_names(stmt.target)
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return target_names(stmt.target)
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return set().union(*(target_names(i.optional_vars) for i in stmt.items if i.optional_vars is not None))
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    return set()


def reads_before_writes(stmts: list[ast.stmt]) -> set[str]:
    """Names the statements read before they bind them (in the order they run)."""
    read, written = set(), set()
    for stmt in walk_statements(stmts):
        read |= header_loads(stmt) - written
        if isinstance(stmt, ast.AugAssign):  # step += 1 reads step first
            read |= target_names(stmt.target) - written
        written |= writes_of(stmt)
    return read


def local_names(scope: Scope) -> set[str]:
    out = set(scope.params())
    for stmt in walk_statements(scope.body):
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for t in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                out |= target_names(t)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            out |= target_names(stmt.target)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    out |= target_names(item.optional_vars)
    return out


@functools.lru_cache(maxsize=8)
def _lines_of(text: str) -> list[str]:
    """The lines of a source, ends kept, split as the parser counts them (at \r\n, \n, \r)."""
    return re.split(r"(?<=\n)|(?<=\r)(?!\n)", text)


def segment_of(text: str, node: ast.AST) -> str | None:
    """``ast.get_source_segment``, with the source's lines split once: Python 3.11's splits them
    character by character on every call, and a Colab export with megabytes of images in its
    docstrings took a minute to read (helper M)."""
    try:
        first, last = node.lineno - 1, node.end_lineno - 1
        start, end = node.col_offset, node.end_col_offset
    except AttributeError:
        return None
    if last is None or end is None:
        return None
    lines = _lines_of(text)
    if not 0 <= first <= last < len(lines):
        return None
    if first == last:
        return lines[first].encode()[start:end].decode()
    head = lines[first].encode()[start:].decode()
    tail = lines[last].encode()[:end].decode()
    return head + "".join(lines[first + 1 : last]) + tail


def place_at(scope: Scope, at) -> Place | None:
    """The innermost statement of ``scope`` holding ``at``: a line, or (line, column)."""
    line, col = at if isinstance(at, tuple) else (at, None)
    best = None
    for place, stmt in places(scope):
        if not stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
            continue
        if col is not None and stmt.lineno == stmt.end_lineno == line and not stmt.col_offset <= col <= (stmt.end_col_offset or col):
            continue  # another statement of the same line (a; b)
        if best is None or len(place.steps) > len(best.steps):
            best = place
    return best
