"""The user's training code, rewritten to stop at its first training step.

Given the chain of frames from a module's top level to the backward
(:mod:`.sites`), each frame's body is sliced (:mod:`.slicer`) to what the step
needs, and:

* the step's *region* (from where the batch comes in to the backward) becomes
  a function defined where the region was, closing over the setup's variables
  (``device``, ``model``, ``loss_fn`` defined in ``main()``), whose batch
  variables are its inputs; right after its definition ``__vaelint__.ready``
  hands it over and unwinds the setup (no loop ever runs a second time);
* the backward statement becomes ``__vaelint__.loss(<loss>)``: the step
  returns the loss it would have backpropagated;
* the setup's calls go through ``__vaelint__.call`` (data sets and loaders
  stand in), and each setup line that fails binds placeholders instead of
  ending the run;
* a call on the way passes only the arguments the step reads (the others
  stand in), so an unneeded data loader or task model is never built.

Every statement kept is the user's own node with its line; generated ones
take the line of the statement they stand for.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

from vaelint.frontends.training.astbuild import RT, const, located, mark, rt, rt_call
from vaelint.frontends.training.mutators import mutating_functions
from vaelint.frontends.training.region import Region
from vaelint.frontends.training.sites import Boundary, Frame, Site, SourceFile
from vaelint.frontends.training.slicer import Slicer
from vaelint.source.astutil import (
    BLOCK_FIELDS,
    Scope,
    free_names,
    loads,
    local_names,
    source_segment,
    target_names,
    walk_statements,
    writes_of,
)


@dataclass
class Plan:
    entry: SourceFile
    statements: dict[str, list[ast.stmt]]  # file path -> its module's statements to run
    frames: list[Frame]
    site: Site
    boundary: Boundary
    batch_names: list[str]  # the first data source's variables, in order (placeholder names)
    skipped_loads: list[ast.stmt] = field(default_factory=list)
    # calls of the repository's methods that train, left out: (path, line, the call's text, what it is)
    skipped_training: list[tuple] = field(default_factory=list)
    region_lines: tuple[int, int] = (0, 0)
    region: list[ast.stmt] = field(default_factory=list)  # the step's statements, as kept
    index_var: str | None = None  # the data loop's enumerate index (0 at the step run)
    callers: list[Frame] = field(default_factory=list)  # the user's frames that called the step's, outermost first
    frame_values: dict = field(default_factory=dict)  # the step's frame's variables when the batch came in (a run's)


class _CallGuard(ast.NodeTransformer):
    """``f(a, b=c)`` -> ``__vaelint__.call(f, a, b=c)`` in setup code (not inside
    nested functions and classes, which run as written when called)."""

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in ("super", "locals", "globals", "vars", "eval", "exec"):
            return node
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and node.func.value.id == RT:
            return node
        return ast.copy_location(ast.Call(func=rt("call"), args=[node.func, *node.args], keywords=node.keywords), node)

    def visit_FunctionDef(self, node):
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef


class DeviceMoves(ast.NodeTransformer):
    """``x.cuda(...)`` -> ``__vaelint__.moved(x, "cuda", line, ...)``, and ``.to(...)`` the same, in
    the step and the functions it calls on the way: training code written for a GPU moves
    each batch there, which a machine without CUDA cannot do (vaelint/frontends/training/runtime.py)."""

    def __init__(self, step: str | None = None):
        # in the frame that defines the step's function: that function only (the frame's other
        # statements are setup, and a model class defined there is the model's own code)
        self.step = step

    def visit_ClassDef(self, node):
        return node  # the model's code: its own moves to CUDA are the model's (VAE012)

    def visit_FunctionDef(self, node):
        if self.step is not None and node.name != self.step:
            return node
        inner = DeviceMoves()
        node.body = [inner.visit(stmt) for stmt in node.body]
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("cuda", "to")
            and not (isinstance(func.value, ast.Name) and func.value.id == RT)
        ):
            call = rt_call("moved", func.value, const(func.attr), const(node.lineno), *node.args)
            call.keywords = node.keywords
            return ast.copy_location(call, node)
        return node


def _setup(stmts: list[ast.stmt], top_level_tolerant: bool, path: str = "") -> list[ast.stmt]:
    """Setup statements: calls guarded; each simple statement that fails binds
    placeholders for its names (a module's top-level lines already do, via
    vaelint/frontends/load.py's run_statement)."""
    out = []
    for stmt in stmts:
        kept_as_is = getattr(stmt, "_vaelint_kept_as_is", False)
        if isinstance(
            stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.Pass)
        ) or (kept_as_is and type(stmt) not in BLOCK_FIELDS):
            out.append(stmt)
            continue
        if type(stmt) in BLOCK_FIELDS:
            new = copy.copy(stmt)
            for name in BLOCK_FIELDS[type(stmt)]:
                if name != "handlers":
                    setattr(new, name, _setup(getattr(stmt, name), False, path))
            for header in ("test", "iter") if not kept_as_is else ():
                if hasattr(new, header):
                    setattr(new, header, located(_CallGuard().visit(copy.deepcopy(getattr(new, header))), stmt))
            if isinstance(stmt, (ast.With, ast.AsyncWith)) and not kept_as_is:
                new.items = [located(_CallGuard().visit(copy.deepcopy(item)), stmt) for item in stmt.items]
                if not top_level_tolerant:
                    # ``with open('data_fold_0.pkl') as f: data = pickle.load(f)``: a header that
                    # fails (a data file not on this machine) skips the block, as a failed line
                    # does: what it binds becomes a placeholder, and the step may never read it
                    new = _tolerant(new, stmt, path)
            out.append(new)
            continue
        guarded = located(_CallGuard().visit(copy.deepcopy(stmt)), stmt)
        if top_level_tolerant:
            out.append(guarded)
        else:
            out.append(_tolerant(guarded, stmt, path))
    return out


def _tolerant(stmt: ast.stmt, original: ast.stmt, path: str = "") -> ast.stmt:
    """try: stmt / except Exception as e: name = __vaelint__.failed(e, "name", line, ..., path);
    ``path``: the file the line is in (a function of another file on the way to the step)."""
    names: set[str] = set()
    if isinstance(original, ast.Assign):
        for t in original.targets:
            names |= target_names(t)
    elif isinstance(original, ast.AnnAssign):
        names = target_names(original.target)
    elif isinstance(original, (ast.With, ast.AsyncWith)):
        names = set().union(*(writes_of(s) for s in walk_statements([original])))  # what its block binds
    err = ast.Name("__vaelint_error", ast.Load())
    read = [*_values_read(original), const(path or None)]
    handler_body: list[ast.stmt] = [
        ast.Assign(targets=[ast.Name(n, ast.Store())], value=rt_call("failed", err, const(n), const(original.lineno), *read))
        for n in sorted(names)
    ] or [ast.Expr(rt_call("failed", err, const(None), const(original.lineno), *read))]
    node = ast.Try(
        body=[stmt],
        handlers=[ast.ExceptHandler(type=ast.Name("Exception", ast.Load()), name="__vaelint_error", body=handler_body)],
        orelse=[],
        finalbody=[],
    )
    return located(node, original)


def _values_read(stmt: ast.stmt) -> list[ast.expr]:
    """The handler's ``("a", ...), (vars(), globals())``: the names the statement reads
    and where to look them up, so that a placeholder among their values (a failed
    import's name) explains the failure (vaelint/frontends/placeholders.py, cause_among)."""
    names = sorted(loads(stmt))
    scopes = [ast.Call(func=ast.Name(f, ast.Load()), args=[], keywords=[]) for f in ("vars", "globals")]
    return [ast.Tuple(elts=[const(n) for n in names], ctx=ast.Load()), ast.Tuple(elts=scopes, ctx=ast.Load())]


def _signals_first(stmts: list[ast.stmt]) -> None:
    """Every try in the rewritten code lets the step's signals through first (a
    bare ``except:`` of the user's must not swallow them)."""
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Try) and not getattr(node, "_vaelint_signals", False):
                handler = located(ast.ExceptHandler(type=rt("signals"), name=None, body=[ast.Raise()]), node)
                node.handlers = [handler, *node.handlers]
                node._vaelint_signals = True


# --------------------------------------------------------------------------- the plan


def _keep_args(stmt: ast.stmt, call: ast.Call, callee: Scope, needed_params: set) -> ast.stmt:
    """The call statement with the arguments the callee does not read stood in for."""
    params = callee.params()
    via_instance = callee.cls is not None and isinstance(call.func, ast.Attribute)
    if via_instance and params and params[0] in ("self", "cls"):
        params = params[1:]
    new_call = copy.copy(call)
    args = []
    for i, a in enumerate(call.args):
        if isinstance(a, ast.Starred) or i >= len(params) or params[i] in needed_params:
            args.append(a)
        else:
            args.append(located(rt_call("unused", const(params[i])), a))
    keywords = []
    for k in call.keywords:
        if k.arg is None or k.arg in needed_params or k.arg not in params:
            keywords.append(k)
        else:
            keywords.append(ast.copy_location(ast.keyword(arg=k.arg, value=located(rt_call("unused", const(k.arg)), k.value)), k))
    new_call.args, new_call.keywords = args, keywords

    key = (call.lineno, call.col_offset, call.end_lineno, call.end_col_offset)

    class Swap(ast.NodeTransformer):
        def visit_Call(self, node):
            if (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset) == key:
                return new_call
            self.generic_visit(node)
            return node

    return Swap().visit(copy.deepcopy(stmt))


def build_plan(files: list[SourceFile], entry: SourceFile, frames: list[Frame], site: Site, boundary: Boundary | None, file_of) -> Plan:
    """``file_of(scope)`` -> the SourceFile holding it. With no ``boundary`` (a
    site of kind "value"), every frame is setup: the run stops at the site and
    hands back its value."""
    if boundary is None:
        boundary = Boundary(len(frames), 0, 0, "none")
    callee_params: set = set()
    globals_needed: dict[str, set] = {}
    new_defs: dict[int, ast.stmt] = {}  # id(original def) -> rewritten def
    skipped: list = []
    batch_names: list[str] = []
    region_lines = (0, 0)
    region_statements, index_var = [], None
    entry_body: list[ast.stmt] = []
    skipped_training: list[tuple] = []
    # the repository's methods that train (left out) and functions that set what they are handed (kept)
    known = {"rewritten": new_defs, "trains": _training_methods(files, frames), "mutators": mutating_functions(files)}
    last = len(frames) - 1
    for fi in range(last, -1, -1):
        frame = frames[fi]
        scope = frame.scope
        file = file_of(scope)
        main = scope.is_module and file is entry
        slicer = Slicer(local_names(scope), keep_definitions=scope.is_module, main_guard_true=main, **known)

        if fi == last:
            end = _site_end(site)
        else:
            extra = globals_needed.get(entry.path, set()) if scope.is_module and file is entry else set()
            end = _call_end(frame, frames[fi + 1].scope, callee_params, extra)

        region = None
        if fi == boundary.frame_index and boundary.kind in ("loop", "next"):
            region = Region(boundary, slicer, frame, site, scope.name if not scope.is_module else "step")
        body, entry_needs = slicer.along(scope.body, frame.place.steps, end, region)
        skipped += slicer.skipped_loads
        skipped_training += [(file.path, s.lineno, source_segment(file.text, s.value, 70), w) for s, w in slicer.skipped_training]
        if region is not None:
            batch_names, region_lines = region.batch_names, region.lines
            region_statements, index_var = region.statements, region.index_var
        if fi <= boundary.frame_index and boundary.kind != "param" or fi < boundary.frame_index:
            body = _setup(body, top_level_tolerant=scope.is_module, path=file.path)
        body = _device_moves(body, fi, boundary, region)
        _signals_first(body)
        for stmt in body:
            ast.fix_missing_locations(stmt)
        if scope.is_module:
            entry_body = body
        else:
            params = set(scope.params())
            callee_params = entry_needs & params
            globals_needed.setdefault(file.path, set()).update(entry_needs - params)
            new_def = copy.copy(scope.node)
            new_def.body = body
            new_defs[id(scope.node)] = new_def

    statements = _file_statements(entry, entry_body, [file_of(fr.scope) for fr in frames], globals_needed, new_defs)
    return Plan(
        entry, statements, frames, site, boundary, batch_names, skipped, skipped_training, region_lines, region_statements, index_var
    )


def _device_moves(body: list[ast.stmt], fi: int, boundary: Boundary, region) -> list[ast.stmt]:
    """The step's own moves to CUDA through ``__vaelint__.moved`` (``DeviceMoves``): in the
    step's function where this frame defines it, in the functions the step calls on the way
    to its backward, and in a step that takes its batch as a parameter (a training_step)."""
    if fi == boundary.frame_index and region is not None:
        return [DeviceMoves(step=region.name).visit(stmt) for stmt in body]
    if fi > boundary.frame_index or fi == boundary.frame_index and boundary.kind == "param":
        return [DeviceMoves().visit(stmt) for stmt in body]
    return body


def _training_methods(files: list[SourceFile], frames: list[Frame]) -> dict[str, str]:
    """Method name -> ``Class.method (its backward at path:line)`` for the repository's
    methods with a backward in their own body, those on the way to the step excepted."""
    from vaelint.frontends.training.sites import find_sites
    from vaelint.source.cells import where

    on_the_way = {id(frame.scope.node) for frame in frames}
    out: dict[str, str] = {}
    for file in files:
        for scope in file.scopes.values():
            if scope.is_module or scope.cls is None or id(scope.node) in on_the_way:
                continue
            sites = find_sites(scope)
            if sites:
                out.setdefault(scope.name, f"{scope.qualname} (its backward at {where(file.path, sites[0].place.line)})")
    return out


def _site_end(site: Site):
    """How the last frame ends: at the site, handing back the loss (or the value found)."""

    def end(stmt, _needed):
        loss = ast.Expr(rt_call("loss" if site.kind == "loss" else "found", copy.deepcopy(site.loss)))
        if site.after:  # the statement runs first (a def), then its name is handed back
            reads = free_names(stmt) if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else loads(stmt)
            return [mark(stmt), mark(located(loss, stmt))], reads
        return [mark(located(loss, stmt))], loads(site.loss)

    return end


def _call_end(frame: Frame, callee: Scope, params: set, extra: set):
    """How a frame on the way ends: at its call of the next, passing what that one reads."""

    def end(stmt, _needed):
        new = _keep_args(stmt, frame.call, callee, params)
        return [mark(new)], loads(new) | extra

    return end


def _file_statements(entry: SourceFile, entry_body: list, files: list, globals_needed: dict, new_defs: dict) -> dict:
    """Each file's statements to run: the entry's sliced body; of the others, their
    definitions and the globals the step reads, with the rewritten functions in place."""
    from vaelint.source.statements import select_statements

    statements: dict[str, list[ast.stmt]] = {}
    for file in {id(f): f for f in [entry, *files]}.values():
        if file is entry:
            body = entry_body
        else:
            wanted = {s.name for s in file.tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
            body = select_statements(file.tree, wanted | globals_needed.get(file.path, set()))
        statements[file.path] = _substitute(body, new_defs)
    return statements


def _substitute(body: list[ast.stmt], new_defs: dict) -> list[ast.stmt]:
    """The body with rewritten functions (methods too) in place of the user's."""
    out = []
    for stmt in body:
        if id(stmt) in new_defs:
            out.append(new_defs[id(stmt)])
            continue
        if isinstance(stmt, ast.ClassDef) and any(id(s) in new_defs for s in walk_statements(stmt.body)):
            cls = copy.copy(stmt)
            cls.body = _substitute(stmt.body, new_defs)
            out.append(cls)
            continue
        if type(stmt) in BLOCK_FIELDS and any(id(s) in new_defs for s in walk_statements([stmt])):
            new = copy.copy(stmt)
            for name in BLOCK_FIELDS[type(stmt)]:
                if name != "handlers":
                    setattr(new, name, _substitute(getattr(stmt, name), new_defs))
            out.append(new)
            continue
        out.append(stmt)
    return out
