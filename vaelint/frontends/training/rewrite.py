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

from vaelint.frontends.training.astutil import (
    BLOCK_FIELDS,
    Scope,
    free_names,
    loads,
    target_names,
    walk_statements,
)
from vaelint.frontends.training.runtime import use_of
from vaelint.frontends.training.sites import Boundary, Frame, Site, SourceFile, _peel
from vaelint.frontends.training.slicer import Slicer

RT = "__vaelint__"  # the runtime's name in the rewritten modules
ITEMS, NAMED = "__vaelint_items", "__vaelint_named"


def _rt(attr: str) -> ast.expr:
    return ast.Attribute(value=ast.Name(RT, ast.Load()), attr=attr, ctx=ast.Load())


def _call(attr: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_rt(attr), args=list(args), keywords=[])


def _const(v) -> ast.expr:
    return ast.Constant(v)


def _located(node: ast.AST, like: ast.AST) -> ast.AST:
    """``node`` and every node inside it without a location get ``like``'s."""
    for n in ast.walk(node):
        if isinstance(n, (ast.stmt, ast.expr, ast.excepthandler, ast.arg, ast.keyword)):
            if not hasattr(n, "lineno"):
                ast.copy_location(n, like)
            if getattr(n, "end_lineno", None) is None:
                n.end_lineno, n.end_col_offset = getattr(like, "end_lineno", like.lineno), getattr(like, "end_col_offset", 0)
    return node


def _mark(stmt: ast.stmt) -> ast.stmt:
    stmt._vaelint_kept_as_is = True  # a path statement or the region: no setup wrapping
    return stmt


@dataclass
class Plan:
    entry: SourceFile
    statements: dict[str, list[ast.stmt]]  # file path -> its module's statements to run
    frames: list[Frame]
    site: Site
    boundary: Boundary
    batch_names: list[str]  # the first data source's variables, in order (placeholder names)
    skipped_loads: list[ast.stmt] = field(default_factory=list)
    region_lines: tuple[int, int] = (0, 0)
    region: list[ast.stmt] = field(default_factory=list)  # the step's statements, as kept
    index_var: str | None = None  # the data loop's enumerate index (0 at the step run)


class _CallGuard(ast.NodeTransformer):
    """``f(a, b=c)`` -> ``__vaelint__.call(f, a, b=c)`` in setup code (not inside
    nested functions and classes, which run as written when called)."""

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in ("super", "locals", "globals", "vars", "eval", "exec"):
            return node
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and node.func.value.id == RT:
            return node
        return ast.copy_location(ast.Call(func=_rt("call"), args=[node.func, *node.args], keywords=node.keywords), node)

    def visit_FunctionDef(self, node):
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef


def _setup(stmts: list[ast.stmt], top_level_tolerant: bool) -> list[ast.stmt]:
    """Setup statements: calls guarded; each simple statement that fails binds
    placeholders for its names (a module's top-level lines already do, via
    vaelint/frontends/load.py's run_statement)."""
    out = []
    for stmt in stmts:
        kept_as_is = getattr(stmt, "_vaelint_kept_as_is", False)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom,
                             ast.Global, ast.Nonlocal, ast.Pass)) or (kept_as_is and type(stmt) not in BLOCK_FIELDS):
            out.append(stmt)
            continue
        if type(stmt) in BLOCK_FIELDS:
            new = copy.copy(stmt)
            for name in BLOCK_FIELDS[type(stmt)]:
                if name != "handlers":
                    setattr(new, name, _setup(getattr(stmt, name), False))
            for header in ("test", "iter") if not kept_as_is else ():
                if hasattr(new, header):
                    setattr(new, header, _located(_CallGuard().visit(copy.deepcopy(getattr(new, header))), stmt))
            out.append(new)
            continue
        guarded = _located(_CallGuard().visit(copy.deepcopy(stmt)), stmt)
        if top_level_tolerant:
            out.append(guarded)
        else:
            out.append(_tolerant(guarded, stmt))
    return out


def _tolerant(stmt: ast.stmt, original: ast.stmt) -> ast.stmt:
    """try: stmt / except Exception as e: name = __vaelint__.failed(e, "name", line)."""
    names: set[str] = set()
    if isinstance(original, ast.Assign):
        for t in original.targets:
            names |= target_names(t)
    elif isinstance(original, ast.AnnAssign):
        names = target_names(original.target)
    err = ast.Name("__vaelint_error", ast.Load())
    handler_body: list[ast.stmt] = [
        ast.Assign(targets=[ast.Name(n, ast.Store())], value=_call("failed", err, _const(n), _const(original.lineno)))
        for n in sorted(names)
    ] or [ast.Expr(_call("failed", err, _const(None), _const(original.lineno)))]
    node = ast.Try(
        body=[stmt],
        handlers=[ast.ExceptHandler(type=ast.Name("Exception", ast.Load()), name="__vaelint_error", body=handler_body)],
        orelse=[], finalbody=[],
    )
    return _located(node, original)


def _signals_first(stmts: list[ast.stmt]) -> None:
    """Every try in the rewritten code lets the step's signals through first (a
    bare ``except:`` of the user's must not swallow them)."""
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Try) and not getattr(node, "_vaelint_signals", False):
                handler = _located(ast.ExceptHandler(type=_rt("signals"), name=None, body=[ast.Raise()]), node)
                node.handlers = [handler, *node.handlers]
                node._vaelint_signals = True


# --------------------------------------------------------------------------- the step's function


class _Region:
    """Builds the step's function at the boundary (the slicer calls it at each depth)."""

    def __init__(self, plan_boundary: Boundary, slicer: Slicer, frame: Frame, site: Site, name: str):
        self.b, self.slicer, self.frame, self.site, self.name = plan_boundary, slicer, frame, site, name
        self.batch_names: list[str] = []
        self.lines = (0, 0)
        self.statements: list[ast.stmt] = []
        self.index_var: str | None = None

    def __call__(self, depth, block, index, chain, needed):
        b = self.b
        if b.kind == "param" or depth != b.depth:
            return None
        if b.kind == "loop":
            loop = chain[0]
            source = b.sources[0]
            bindings, names = self._loop_bindings(source)
            body = list(loop.body)
            start = index
            thunk = _peel(source.iter)
            region_stmts = body
            region_first = source
        else:  # next(...) assignments from b.index on
            start = b.index
            stmts = []
            names = []
            for stmt in block[start:index]:
                if any(stmt is s for s in b.sources):
                    binding, leaves = self._next_binding(stmt, block[start:index] + chain)
                    stmts.append(binding)
                    names += [n for n in leaves if n not in names]
                else:
                    stmts.append(stmt)
            kept, _ = self.slicer.block(stmts, needed)
            region_stmts = kept + chain
            bindings = []
            value = b.sources[0].value
            while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in ("to", "cuda", "float", "cpu"):
                value = value.func.value
            thunk = value.args[0] if value.args else value.func.value if isinstance(value.func, ast.Attribute) else value
            thunk = _peel(thunk)
            region_first = b.sources[0]
        self.batch_names = names
        self.statements = region_stmts
        inner = reads_before_writes(bindings + region_stmts)
        stmts, before = self._function(bindings, region_stmts, region_first, thunk, inner)
        self.lines = (region_first.lineno, self.site.place.statement.lineno)
        return stmts, before, start

    def _needs_of(self, stmts: list[ast.stmt]) -> set:
        return reads_before_writes(stmts)

    def _loop_bindings(self, loop: ast.For) -> tuple[list[ast.stmt], list[str]]:
        target, it = loop.target, loop.iter
        out: list[ast.stmt] = []
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "enumerate" and isinstance(target, ast.Tuple) and len(target.elts) == 2:
            start = it.args[1] if len(it.args) > 1 else next((k.value for k in it.keywords if k.arg == "start"), _const(0))
            out.append(_located(ast.Assign(targets=[target.elts[0]], value=start), loop))
            if isinstance(target.elts[0], ast.Name):
                self.index_var = target.elts[0].id
            target = target.elts[1]
        binding, leaves = self._bind(target, loop, loop.body)
        return out + [binding], leaves

    def _next_binding(self, stmt: ast.Assign, following) -> tuple[ast.stmt, list[str]]:
        return self._bind(stmt.targets[0], stmt, following)

    def _bind(self, target: ast.expr, like: ast.stmt, following) -> tuple[ast.stmt, list[str]]:
        if isinstance(target, (ast.Tuple, ast.List)):
            names = [e.id if isinstance(e, ast.Name) else "_" for e in target.elts]
            use = None
        else:
            names = [target.id] if isinstance(target, ast.Name) else ["batch"]
            use = use_of(names[0], following)
        use_expr = _const(None) if use is None else ast.Call(
            func=_rt("BatchUse"), args=[_const(use.kind), _const(use.arity)], keywords=[]
        )
        value = ast.Call(
            func=_rt("batch"),
            args=[ast.Name(ITEMS, ast.Load()), ast.Name(NAMED, ast.Load()), _const(tuple(names)), use_expr, _const(like.lineno)],
            keywords=[],
        )
        return _mark(_located(ast.Assign(targets=[copy.deepcopy(target)], value=value), like)), names

    def _function(self, bindings, body, first: ast.stmt, thunk: ast.expr, needed: set) -> tuple[list[ast.stmt], set]:
        """def <name>(*items, **named): <bindings>; try: <body> except StepLoss: return; then ready(...)."""
        written = set().union(*(writes_of(s) for s in walk_statements(bindings + body)))
        bound_by_batch = set()
        for stmt in bindings:
            for t in stmt.targets:
                bound_by_batch |= target_names(t)
        # read before the step writes them (step += 1): each run starts from the setup's value
        carried = sorted((needed & written) - bound_by_batch)
        saves = [
            _located(ast.Assign(
                targets=[ast.Name(f"__vaelint_saved_{n}", ast.Store())],
                value=_call("snapshot", ast.Lambda(args=_no_args(), body=ast.Name(n, ast.Load())), _const(n)),
            ), first)
            for n in carried
        ]
        restores = [_located(ast.Assign(targets=[ast.Name(n, ast.Store())], value=ast.Name(f"__vaelint_saved_{n}", ast.Load())), first) for n in carried]
        exit_name = "__vaelint_exit"
        guarded = ast.Try(
            body=body or [ast.Pass()],
            handlers=[ast.ExceptHandler(type=_rt("StepLoss"), name=exit_name, body=[
                ast.Return(ast.Attribute(value=ast.Name(exit_name, ast.Load()), attr="value", ctx=ast.Load()))
            ])],
            orelse=[], finalbody=[],
        )
        guarded._vaelint_signals = True  # its own handler is the one that catches the step's loss
        fn = _function_def(
            self.name, [*restores, *bindings, guarded, ast.Expr(_call("not_reached", _const(self.site.place.statement.lineno)))]
        )
        ready = ast.Expr(_call(
            "ready", ast.Name(self.name, ast.Load()), _const(self.b.frame_index),
            ast.Lambda(args=_no_args(), body=copy.deepcopy(thunk)),
        ))
        stmts = [_mark(_located(s, first)) for s in (*saves, fn, ready)]
        before = (needed - written) | set(carried) | loads(thunk)
        return stmts, before


def _function_def(name: str, body: list[ast.stmt]) -> ast.FunctionDef:
    """def NAME(*__vaelint_items, **__vaelint_named): BODY"""
    fields = dict(
        name=name,
        args=ast.arguments(posonlyargs=[], args=[], vararg=ast.arg(ITEMS), kwonlyargs=[], kw_defaults=[], kwarg=ast.arg(NAMED), defaults=[]),
        body=body, decorator_list=[], returns=None,
    )
    if "type_params" in ast.FunctionDef._fields:  # Python 3.12+
        fields["type_params"] = []
    return ast.FunctionDef(**fields)


def header_loads(stmt: ast.stmt) -> set[str]:
    """Names a statement reads before any of its blocks runs (a simple statement: all)."""
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return loads(stmt.iter)
    if isinstance(stmt, (ast.If, ast.While)):
        return loads(stmt.test)
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return set().union(*(loads(i.context_expr) for i in stmt.items))
    if type(stmt) in BLOCK_FIELDS:
        return set().union(*(loads(h.type) for h in getattr(stmt, "handlers", []) if h.type is not None)) if hasattr(stmt, "handlers") else set()
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        from vaelint.frontends.training.astutil import free_names

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
        written |= writes_of(stmt)
    return read


def _no_args() -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])


# --------------------------------------------------------------------------- the plan


def _local_names(scope: Scope) -> set[str]:
    out = set(scope.params())
    for stmt in walk_statements(scope.body):
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]):
                out |= target_names(t)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            out |= target_names(stmt.target)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    out |= target_names(item.optional_vars)
    return out


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
            args.append(_located(_call("unused", _const(params[i])), a))
    keywords = []
    for k in call.keywords:
        if k.arg is None or k.arg in needed_params or k.arg not in params:
            keywords.append(k)
        else:
            keywords.append(ast.copy_location(ast.keyword(arg=k.arg, value=_located(_call("unused", _const(k.arg)), k.value)), k))
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
    last = len(frames) - 1
    for fi in range(last, -1, -1):
        frame = frames[fi]
        scope = frame.scope
        file = file_of(scope)
        slicer = Slicer(
            _local_names(scope), keep_definitions=scope.is_module, main_guard_true=scope.is_module and file is entry,
            rewritten=new_defs,
        )

        if fi == last:
            def end(stmt, _needed, site=site):
                loss = ast.Expr(_call("loss" if site.kind == "loss" else "found", copy.deepcopy(site.loss)))
                if site.after:  # the statement runs first (a def), then its name is handed back
                    reads = free_names(stmt) if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else loads(stmt)
                    return [_mark(stmt), _mark(_located(loss, stmt))], reads
                return [_mark(_located(loss, stmt))], loads(site.loss)
        else:
            callee = frames[fi + 1].scope

            def end(stmt, _needed, frame=frame, callee=callee, params=callee_params):
                new = _keep_args(stmt, frame.call, callee, params)
                extra = globals_needed.get(entry.path, set()) if scope.is_module and file is entry else set()
                return [_mark(new)], loads(new) | extra

        region = None
        if fi == boundary.frame_index and boundary.kind in ("loop", "next"):
            region = _Region(boundary, slicer, frame, site, scope.name if not scope.is_module else "step")
        body, entry_needs = slicer.along(scope.body, frame.place.steps, end, region)
        skipped += slicer.skipped_loads
        if region is not None:
            batch_names, region_lines = region.batch_names, region.lines
            region_statements, index_var = region.statements, region.index_var
        if fi <= boundary.frame_index and boundary.kind != "param" or fi < boundary.frame_index:
            body = _setup(body, top_level_tolerant=scope.is_module)
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

    statements: dict[str, list[ast.stmt]] = {}
    for file in {id(f): f for f in [entry, *(file_of(fr.scope) for fr in frames)]}.values():
        if file is entry:
            body = entry_body
        else:
            from vaelint.frontends.statements import select_statements

            wanted = {s.name for s in file.tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
            body = select_statements(file.tree, wanted | globals_needed.get(file.path, set()))
        statements[file.path] = _substitute(body, new_defs)
    return Plan(entry, statements, frames, site, boundary, batch_names, skipped, region_lines, region_statements, index_var)


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
