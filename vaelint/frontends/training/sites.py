"""Where a training step is in the user's code, found from the source alone.

* the **site**: the statement that backpropagates the loss (``loss.backward()``,
  ``scaler.scale(loss).backward()``, ``accelerator.backward(loss)``,
  ``self.manual_backward(loss)``), and the loss expression;
* the **batch**: a loop over a data loader on the way to the site, or
  assignments from ``next(...)`` before it, or a step function's ``batch``
  parameter;
* the **chain**: how the function holding the site is reached from a module's
  top level (``main(args)`` under ``if __name__ == "__main__":``, a Solver's
  method called by ``main.py``), one :class:`Frame` per function on the way.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field

from vaelint.frontends.training.backwards import backward_of  # noqa: F401 - the front end reads it from here
from vaelint.source.astutil import Place, Scope, base_name, block_of, calls_in, dotted, index_scopes, is_main_guard, places, target_names


@dataclass
class Site:
    """The statement that backpropagates, and what it backpropagates."""

    place: Place
    loss: ast.expr
    how: str  # the statement as written, for messages
    # "loss": the step's backward; "value": a statement whose value the setup hands
    # back (the LightningModule passed to trainer.fit, a module built in run.py)
    kind: str = "loss"
    after: bool = False  # "value": evaluated after the statement runs (a nested def's name)


def find_sites(scope: Scope) -> list[Site]:
    out = []
    for place, stmt in places(scope):
        loss = backward_of(stmt)
        if loss is not None:
            out.append(Site(place, loss, ""))
    return out


# --------------------------------------------------------------------------- the batch


_RANGE_LIKE = {"range", "arange", "linspace", "len", "zip_longest"}
_WRAPPERS = {"enumerate", "tqdm", "iter", "trange", "progress", "track", "islice"}
_DATA_WORDS = ("loader", "data", "batch", "dl", "iter", "dataset", "stream", "sample", "train", "image", "img")


def _peel(expr: ast.expr) -> ast.expr:
    """The iterable inside ``enumerate(...)``, ``tqdm(...)``, ``iter(...)``, ``zip(a, b)`` (a)."""
    while isinstance(expr, ast.Call) and expr.args:
        name = dotted(expr.func).split(".")[-1]
        if name in _WRAPPERS or name == "zip":
            expr = expr.args[0]
        else:
            break
    return expr


def zips_loaders(expr: ast.expr) -> bool:
    """A loop over ``zip(a, b)``, in ``enumerate(...)``, ``tqdm(...)`` or the like."""
    while isinstance(expr, ast.Call) and expr.args:
        name = dotted(expr.func).split(".")[-1]
        if name == "zip":
            return len(expr.args) > 1
        if name not in _WRAPPERS:
            return False
        expr = expr.args[0]
    return False


def is_data_loop(stmt: ast.stmt) -> bool:
    """A ``for`` over a data loader (not over ``range(...)``, a literal, or a dict's items)."""
    if not isinstance(stmt, (ast.For, ast.AsyncFor)):
        return False
    it = _peel(stmt.iter)
    if isinstance(it, (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Constant, ast.ListComp)):
        return False
    if isinstance(it, ast.Call):
        name = dotted(it.func).split(".")[-1]
        if name in _RANGE_LIKE or name in ("items", "keys", "values", "parameters", "named_parameters", "modules", "children"):
            return False
        if "loader" in name.lower() or name in ("DataLoader",):
            return True
    text = dotted(it) or (dotted(it.func) if isinstance(it, ast.Call) else "")
    text = text.lower()
    if any(word in text for word in _DATA_WORDS):
        return True
    # `for x, y in something`: a pair per item is what a loader gives
    target = stmt.target
    if isinstance(target, ast.Tuple) and stmt.iter is not it and isinstance(stmt.iter, ast.Call):
        target = target.elts[-1] if dotted(stmt.iter.func).split(".")[-1] == "enumerate" else target
    return isinstance(target, (ast.Tuple, ast.List))


def next_source(stmt: ast.stmt) -> bool:
    """``x, y = next(it)``, ``batch = next(iter(loader))``, ``x = it.next()``."""
    if not isinstance(stmt, ast.Assign):
        return False
    value = stmt.value
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in ("to", "cuda", "float", "cpu"):
        value = value.func.value
    if not isinstance(value, ast.Call):
        return False
    name = dotted(value.func)
    return name == "next" or name.endswith((".next", ".__next__"))


@dataclass
class Boundary:
    """Where a step's batch comes from, in the frame that holds it."""

    frame_index: int
    depth: int  # how many statements down the frame's path (0: in its body)
    index: int  # the statement's index in that block
    kind: str  # "loop" (a for over a loader), "next" (assignments from next()), "param" (the whole function)
    sources: list[ast.stmt] = field(default_factory=list)  # the loop, or the next() assignments, in order
    params: list[str] = field(default_factory=list)  # kind "param": the batch parameters

    def text(self, source: str) -> str:
        from vaelint.source.astutil import source_segment

        if self.kind == "param":
            return f"the parameter{'s' * (len(self.params) > 1)} {', '.join(self.params)}"
        stmt = self.sources[0]
        if self.kind == "loop":
            return f"for {source_segment(source, stmt.target)} in {source_segment(source, stmt.iter)}"
        return "; ".join(source_segment(source, s) for s in self.sources)


_BATCH_PARAMS = ("batch", "data", "x", "inputs", "input", "images", "imgs", "x_batch", "sample", "samples")


def batch_params(scope: Scope) -> list[str]:
    params = [p for p in scope.params() if p not in ("self", "cls")]
    return [p for p in params if p.lower() in _BATCH_PARAMS or p.lower().startswith(("batch", "x_"))]


# --------------------------------------------------------------------------- the chain


@dataclass
class Frame:
    """One function (or a module's top level) on the way to the site."""

    scope: Scope
    place: Place  # the call of the next frame's function, or the site
    call: ast.Call | None = None  # that call (None at the site)
    values: dict | None = None  # the frame's variables in the run that reached the site (a caller's)


def _called_name(call: ast.Call) -> tuple[str, str]:
    """(what it is called on, the name called): ``solver.train(...)`` -> ("solver", "train")."""
    func = call.func
    if isinstance(func, ast.Name):
        return "", func.id
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Call):  # Trainer(cfg).train(data): called on what the class builds
            return dotted(func.value.func) or "?", func.attr
        return dotted(func.value) or "?", func.attr
    return "?", ""


def _instances_of(scope: Scope, cls_name: str) -> set[str]:
    """Names a scope binds to ``ClassName(...)`` (or ``module.ClassName(...)``)."""
    out = set()
    for _place, stmt in places(scope):
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            if dotted(stmt.value.func).split(".")[-1] == cls_name:
                for t in stmt.targets:
                    out |= target_names(t)
    return out


def call_places(
    scopes: dict[str, Scope], target: Scope, same_file: bool, aliases: dict | None = None
) -> list[tuple[Scope, Place, ast.Call]]:
    """Where ``target`` is called among ``scopes`` (one file's); ``aliases``: the file's names
    imported under another (``from pkg.m import tool2 as t2``: t2 -> tool2)."""
    aliases = aliases or {}
    out = []
    cls = target.cls
    for scope in scopes.values():
        instances = _instances_of(scope, cls.name) if cls is not None else set()
        for place, stmt in places(scope):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for call in calls_in(_header(stmt)):
                owner, name = _called_name(call)
                if target.name == "__call__" and cls is not None:
                    # trainer(train_loader, epochs=...) with trainer = Trainer(...), or
                    # Trainer(...)(loader): the instance called is the class's __call__
                    built = isinstance(call.func, ast.Call) and dotted(call.func.func).split(".")[-1] == cls.name
                    if owner == "" and name in instances or built:
                        out.append((scope, place, call))
                    continue
                if aliases.get(name, name) != target.name:
                    continue
                if cls is None:
                    # a function: f(...) in its own file, module.f(...) or an imported f(...) elsewhere
                    nested_ok = target.parent is None or target.parent.is_module or scope is target.parent
                    if owner == "" and nested_ok or (not same_file and owner and owner != "self"):
                        out.append((scope, place, call))
                elif owner == "self" and same_file and scope.cls is cls:
                    out.append((scope, place, call))
                elif owner in instances or owner.split(".")[-1] == cls.name:
                    out.append((scope, place, call))
    return out


def _header(stmt: ast.stmt) -> ast.AST:
    """The part of a statement that runs before its blocks (a compound statement's
    test or iterable; a simple statement whole)."""
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return stmt.iter
    if isinstance(stmt, (ast.If, ast.While)):
        return stmt.test
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return ast.Tuple(elts=[i.context_expr for i in stmt.items], ctx=ast.Load())
    if isinstance(stmt, ast.Try) or (hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)):
        return ast.Pass()
    return stmt


@dataclass
class SourceFile:
    path: str  # absolute
    text: str
    tree: ast.Module
    scopes: dict[str, Scope]
    module_name: str = ""  # the name other files import it by


_PARSED: dict = {}  # (path, mtime, size) -> SourceFile: a file read once per process


def parse_file(path: str, text: str | None = None) -> SourceFile | None:
    from vaelint.source.overlay import text_of

    key = None
    if text is None:
        text = text_of(path)  # a fix being checked again: never the file's text cached before the edit
    if text is None:
        try:
            st = os.stat(path)
            key = (path, st.st_mtime_ns, st.st_size)
            if key in _PARSED:
                return _PARSED[key]
            from vaelint.source.files import read_source

            text = read_source(path)
        except (OSError, ValueError):
            return None
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError):
        return None
    name = os.path.splitext(os.path.basename(path))[0]
    parsed = SourceFile(path, text, tree, index_scopes(tree, path), name)
    if key is not None:
        _PARSED[key] = parsed
    return parsed


def chains_to(files: list[SourceFile], home: SourceFile, scope: Scope, depth: int = 0, seen: frozenset = frozenset()) -> list[list[Frame]]:
    """Ways to reach ``scope`` from a module's top level: lists of frames, the
    module's first (its last frame ends at the call of ``scope``)."""
    if scope.is_module:
        return [[]]
    if depth > 6 or scope.qualname in seen:
        return []
    out = []
    for file in [home] + [f for f in files if f is not home]:
        if file is not home and not _imports(file, home):
            continue
        for caller, place, call in call_places(file.scopes, scope, file is home, _aliases(file)):
            if caller is scope:
                continue  # recursion
            for chain in chains_to(files, file, caller, depth + 1, seen | {scope.qualname}):
                out.append(chain + [Frame(caller, place, call)])
    # a chain through the main guard first, then shorter ones
    out.sort(key=lambda c: (not _through_main_guard(c), len(c)))
    return out


def _imports(file: SourceFile, other: SourceFile) -> bool:
    defined = {  # its top-level functions and classes
        stmt.name for stmt in other.tree.body if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    for node in ast.walk(file.tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[-1] == other.module_name for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] == other.module_name:
            return True
        # ``from disvae import Trainer``, re-exported by disvae/__init__.py from disvae/training.py;
        # ``from pkg import *`` of the package that holds it
        if isinstance(node, ast.ImportFrom) and node.module and any(a.name in defined or a.name == "*" for a in node.names):
            package = os.sep + node.module.replace(".", os.sep) + os.sep
            if package in other.path:
                return True
    return False


def _aliases(file: SourceFile) -> dict:
    return {a.asname: a.name for n in ast.walk(file.tree) if isinstance(n, ast.ImportFrom) for a in n.names if a.asname}


def _through_main_guard(chain: list[Frame]) -> bool:
    return bool(chain) and chain[0].scope.is_module and is_main_guard(chain[0].place.statements()[0])


def enclosing_blocks(place: Place) -> list[tuple[list[ast.stmt], int]]:
    """(block, index) at each depth of a place, its body's first."""
    out, block = [], place.scope.body
    for index, into in place.steps:
        out.append((block, index))
        if into is not None:
            block = block_of(block[index], into)
    return out


def find_boundary(frames: list[Frame]) -> Boundary | None:
    """Where the batch comes in: the innermost loop over a loader on the way to the
    site, else the first ``next(...)`` assignments before it, searched from the
    site's frame outwards; else a step function's batch parameter."""
    for fi in range(len(frames) - 1, -1, -1):
        blocks = enclosing_blocks(frames[fi].place)
        for depth in range(len(blocks) - 1, -1, -1):
            block, index = blocks[depth]
            if depth < len(blocks) - 1 and is_data_loop(block[index]):
                return Boundary(fi, depth, index, "loop", [block[index]])
        for depth in range(len(blocks) - 1, -1, -1):
            block, index = blocks[depth]
            sources = [i for i in range(index) if next_source(block[i])]
            if sources:
                return Boundary(fi, depth, sources[0], "next", [block[i] for i in sources])
    last = frames[-1].scope
    params = batch_params(last)
    if params and not last.is_module:
        return Boundary(len(frames) - 1, 0, 0, "param", params=params)
    return None


def base_of(expr: ast.AST) -> str | None:
    return base_name(expr)


def is_lightning_class(cls: ast.ClassDef) -> bool:
    return any((dotted(b) or "").split(".")[-1] in ("LightningModule",) for b in cls.bases)
