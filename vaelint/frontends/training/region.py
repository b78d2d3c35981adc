"""The step's region (from where the batch comes in to the backward), made a function
of the batch defined where the region was (vaelint/frontends/training/rewrite.py)."""

from __future__ import annotations

import ast
import copy

from vaelint.frontends.training.astbuild import ITEMS, NAMED, SAVED, batch_use, const, function_def, located, mark, no_args, rt, rt_call
from vaelint.frontends.training.batchuse import use_of
from vaelint.frontends.training.sites import Boundary, Frame, Site, _peel
from vaelint.frontends.training.slicer import Slicer
from vaelint.source.astutil import loads, reads_before_writes, target_names, walk_statements, writes_of


def _enumerate_in(it: ast.expr, before: list) -> ast.Call | None:
    """The ``enumerate(...)`` a loop iterates: written in the ``for``, inside a wrapper
    (``tqdm(enumerate(loader), total=n)``), or held in a variable set before the loop in the same
    block (``it = tqdm(enumerate(loader)); for i, batch in it``), in either branch of an ``if``."""
    if isinstance(it, ast.Name):
        # the last statement before the loop that sets it, a branch of an ``if`` too
        # (``if not wandb: it = tqdm(enumerate(dl)) else: it = enumerate(dl)``)
        for stmt in reversed(before):
            sets = [
                node.value
                for node in ast.walk(stmt)
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == it.id for t in node.targets)
            ]
            if sets:
                it = next((v for v in sets if _enumerate_in(v, []) is not None), sets[-1])
                break
    while isinstance(it, ast.Call):
        if isinstance(it.func, ast.Name) and it.func.id == "enumerate":
            return it
        if not it.args:
            return None
        it = it.args[0]  # tqdm(...), iter(...): the iterable they wrap
    return None


class Region:
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
            bindings, names = self._loop_bindings(source, block[:index])
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
            while (
                isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in ("to", "cuda", "float", "cpu")
            ):
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

    def _loop_bindings(self, loop: ast.For, before: list | None = None) -> tuple[list[ast.stmt], list[str]]:
        target, it = loop.target, _enumerate_in(loop.iter, before or [])
        out: list[ast.stmt] = []
        if it is not None and isinstance(target, ast.Tuple) and len(target.elts) == 2:
            start = it.args[1] if len(it.args) > 1 else next((k.value for k in it.keywords if k.arg == "start"), const(0))
            out.append(located(ast.Assign(targets=[target.elts[0]], value=start), loop))
            if isinstance(target.elts[0], ast.Name):
                self.index_var = target.elts[0].id
            target = target.elts[1]
        binding, leaves = self._bind(target, loop, loop.body)
        return out + [binding], leaves

    def _next_binding(self, stmt: ast.Assign, following) -> tuple[ast.stmt, list[str]]:
        return self._bind(stmt.targets[0], stmt, following)

    def _bind(self, target: ast.expr, like: ast.stmt, following) -> tuple[ast.stmt, list[str]]:
        if isinstance(target, (ast.Tuple, ast.List)):
            # ``for (x, y), (u, _) in zip(cycle(labelled), unlabelled)``: the pattern's shape is
            # kept, and the batch's items fill its names in order (x, y, u, _)
            names = _pattern(target)
            use = None
        else:
            names = [target.id] if isinstance(target, ast.Name) else ["batch"]
            use = use_of(names[0], following)
        use_expr = batch_use(use)
        value = ast.Call(
            func=rt("batch"),
            args=[ast.Name(ITEMS, ast.Load()), ast.Name(NAMED, ast.Load()), const(tuple(names)), use_expr, const(like.lineno)],
            keywords=[],
        )
        return mark(located(ast.Assign(targets=[copy.deepcopy(target)], value=value), like)), _leaves(names)

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
            located(
                ast.Assign(
                    targets=[ast.Name(f"{SAVED}{n}", ast.Store())],
                    value=rt_call("snapshot", ast.Lambda(args=no_args(), body=ast.Name(n, ast.Load())), const(n)),
                ),
                first,
            )
            for n in carried
        ]
        restores = [
            located(ast.Assign(targets=[ast.Name(n, ast.Store())], value=ast.Name(f"{SAVED}{n}", ast.Load())), first) for n in carried
        ]
        exit_name = "__vaelint_exit"
        # the loop's body in a loop of one pass: its own `continue` / `break` (an `except: continue`
        # around the step) end the pass, as livecompile's step does, and are no SyntaxError
        once = ast.For(
            target=ast.Name("__vaelint_once", ast.Store()),
            iter=ast.Tuple(elts=[const(0)], ctx=ast.Load()),
            body=body or [ast.Pass()],
            orelse=[],
        )
        guarded = ast.Try(
            body=[once],
            handlers=[
                ast.ExceptHandler(
                    type=rt("StepLoss"),
                    name=exit_name,
                    body=[ast.Return(ast.Attribute(value=ast.Name(exit_name, ast.Load()), attr="value", ctx=ast.Load()))],
                )
            ],
            orelse=[],
            finalbody=[],
        )
        guarded._vaelint_signals = True  # its own handler is the one that catches the step's loss
        # a script's own `step = 0` counter (or a function of the code's named as ours) read in the loop:
        # no name of ours may shadow it, as livecompile's step does not
        reads = needed | written | set().union(*(loads(s) for s in walk_statements(bindings + body)))
        name = f"__vaelint_{self.name}" if self.name in reads else self.name
        fn = function_def(name, [*restores, *bindings, guarded, ast.Expr(rt_call("not_reached", const(self.site.place.statement.lineno)))])
        ready = ast.Expr(
            rt_call("ready", ast.Name(name, ast.Load()), const(self.b.frame_index), ast.Lambda(args=no_args(), body=copy.deepcopy(thunk)))
        )
        stmts = [mark(located(s, first)) for s in (*saves, fn, ready)]
        before = (needed - written) | set(carried) | loads(thunk)
        return stmts, before


def _pattern(target: ast.expr):
    """A loop target's names with its nesting: ``(x, y), (u, _)`` -> (("x", "y"), ("u", "_"));
    anything else in it (``batch[0]``, ``*rest``) is ``"_"``."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return tuple(_pattern(e) for e in target.elts)
    return target.id if isinstance(target, ast.Name) else "_"


def _leaves(names) -> list[str]:
    """The names of a pattern (or a list of names), flat, in order."""
    if isinstance(names, (tuple, list)):
        return [leaf for n in names for leaf in _leaves(n)]
    return [names]
