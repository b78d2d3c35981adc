"""The step read off a run (:mod:`.livestep`) compiled as a function of the batch: the
batch bound from its items, the step's statements run in the frame's module with the
frame's variables as they were when the batch came in (closure cells), ending at the
backward with its loss (:meth:`.liverun.LiveRuntime.stepping` stops a backward written in
a function the step calls)."""

from __future__ import annotations

import ast
import copy

from vaelint.frontends.training.astbuild import ITEMS, NAMED, RT, SAVED, batch_use, const, function_def, located, rt, rt_call
from vaelint.frontends.training.livestep import LiveStep
from vaelint.frontends.training.rewrite import _signals_first
from vaelint.frontends.training.sites import backward_of
from vaelint.source.astutil import loads, reads_before_writes, target_names, walk_statements, writes_of
from vaelint.source.files import compile_user_code

# --------------------------------------------------------------------------- the step's function


def compile_step(step: LiveStep, runtime, name: str = "step"):
    """The step as ``fn(*items, **named)``: the batch bound from the items, then the region
    run in the frame's module with the frame's variables as they were (closure cells),
    ending at the backward with its loss."""
    region = [copy.deepcopy(s) for s in step.region]
    bound = set(step.names) | (target_names(step.pattern) if step.pattern is not None else set())
    region = [s for s in region if not _drops_an_incomplete_batch(s, bound)]
    region = [inner for s in region for inner in _full_batch_body(s, bound)]
    region = [_yielded(s) for s in region]  # `yield self.train_step(x, opt).item()` of a generator method
    _end_at_site(region, step)
    _signals_first(region)  # the step's own `except:` lets its end through
    _no_finally_after_the_end(region)
    first = step.source if step.kind != "param" else step.region[0]
    line = getattr(first, "lineno", 1)
    binding = _binding(step, line)
    written = set().union(*(writes_of(s) for s in walk_statements(region))) if region else set()
    bound = set(step.names) | (target_names(step.pattern) if step.pattern is not None else set())
    needed = reads_before_writes(region) | set().union(*(loads(s) for s in region))
    free = {n for n in needed if n in step.values and not step.is_module}
    carried = sorted((reads_before_writes(region) & written) - bound)
    body: list[ast.stmt] = []
    if step.is_module:
        declared = sorted((written | bound) - {"__vaelint__"})
        if declared:
            body.append(ast.Global(names=declared))
    # read before the step writes them (step += 1): each run starts from their value when the
    # batch came in, not from what the last run left (at a script's top level too)
    body += [ast.Assign(targets=[ast.Name(n, ast.Store())], value=ast.Name(f"{SAVED}{n}", ast.Load())) for n in carried if n in step.values]
    body += binding
    once = ast.For(
        target=ast.Name("__vaelint_once", ast.Store()),
        iter=ast.Tuple(elts=[const(0)], ctx=ast.Load()),
        body=region or [ast.Pass()],
        orelse=[],
    )
    guarded = ast.Try(
        body=[once],
        handlers=[
            ast.ExceptHandler(
                type=rt("StepLoss"),
                name="__vaelint_exit",
                body=[ast.Return(ast.Attribute(value=ast.Name("__vaelint_exit", ast.Load()), attr="value", ctx=ast.Load()))],
            )
        ],
        orelse=[],
        finalbody=_letting_go(step, written - set(carried)),
    )
    stepping = ast.With(items=[ast.withitem(context_expr=rt_call("stepping"), optional_vars=None)], body=[guarded])
    # a stop the code swallowed (a bare `except:` in a function the step calls) still ends the step
    body += [stepping, ast.Return(rt_call("swallowed", const(step.site.place.line)))]
    if name in needed:  # the step calls the code's own `step(model, batch)`: no name of ours may shadow it
        name = f"__vaelint_{name}"
    fn = function_def(name, body)
    outer_params = sorted(free - bound - written) + [f"{SAVED}{n}" for n in carried if n in step.values]
    made = _closed_over(fn, name, outer_params, first, step, runtime)
    _release_graphs(step, written - set(carried))
    return made


def _yielded(stmt: ast.stmt) -> ast.stmt:
    """A statement of a generator's step region that yields a value (``yield self.train_step(x,
    opt).item()``): the value computed, as the generator computes it when its consumer asks; a
    compiled step that kept the ``yield`` would be a generator itself, and calling it would run
    nothing (the step's graph read none of its batch)."""

    class Unyield(ast.NodeTransformer):
        def visit_Expr(self, node):
            if isinstance(node.value, (ast.Yield, ast.YieldFrom)) and node.value.value is not None:
                return ast.copy_location(ast.Expr(self.visit(node.value.value)), node)
            return self.generic_visit(node)

        def visit_FunctionDef(self, node):  # another scope's yields are its own
            return node

        visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = visit_FunctionDef

    return Unyield().visit(stmt)


LET_GO = "__vaelint_let_go"


def _letting_go(step: LiveStep, fresh: set) -> list[ast.stmt]:
    """A script's step writes its module's globals (``global loss, pred``): once it is over they
    would hold its forward's graph until the next run replaced them; the step lets them go."""
    if not step.is_module or not fresh:
        return []
    space = ast.Call(func=ast.Name("globals", ast.Load()), args=[], keywords=[])
    return [ast.Expr(ast.Call(func=ast.Name(LET_GO, ast.Load()), args=[space, const(tuple(sorted(fresh)))], keywords=[]))]


def let_go(space: dict, names) -> None:
    for name in [n for n in names if n in space and _holds_a_graph(space[n])]:
        del space[name]


def _release_graphs(step: LiveStep, names: set) -> None:
    """The run's values of what the step makes afresh each time (``loss``, ``pred``, a posterior)
    hold its first forward's autograd graph, every activation of it: the frame's variables and a
    script's module namespace let them go, as the next iteration of the loop would."""
    for space in ({} if step.values is step.module_globals else step.values, step.module_globals if step.is_module else {}):
        let_go(space, names)


def _holds_a_graph(value, depth: int = 0) -> bool:
    import torch

    if isinstance(value, torch.Tensor):
        return value.grad_fn is not None
    if depth > 1 or isinstance(value, (torch.nn.Module, torch.optim.Optimizer, type)):
        return False
    if isinstance(value, (tuple, list)):
        return any(_holds_a_graph(v, depth + 1) for v in value[:16])
    if isinstance(value, dict):
        return any(_holds_a_graph(v, depth + 1) for v in list(value.values())[:16])
    held = getattr(value, "__dict__", None)  # a distribution, a model output dataclass
    return isinstance(held, dict) and any(_holds_a_graph(v, depth + 1) for v in list(held.values())[:16])


def _closed_over(fn: ast.FunctionDef, name: str, params: list[str], first: ast.stmt, step: LiveStep, runtime):
    """``fn`` compiled in the frame's module, closing over the frame's variables (``params``, a
    carried one as ``SAVED + NAME``) as they were when the batch came in."""
    import builtins

    outer = function_def("__vaelint_make_step", [fn, ast.Return(ast.Name(name, ast.Load()))])
    outer.args = ast.arguments(
        posonlyargs=[], args=[ast.arg(p) for p in params], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
    )
    module = ast.Module(body=[located(outer, first)], type_ignores=[])
    for node in ast.walk(module):
        if isinstance(node, (ast.stmt, ast.expr, ast.excepthandler, ast.arg, ast.keyword)) and not hasattr(node, "lineno"):
            ast.copy_location(node, first)
    ast.fix_missing_locations(module)
    globals_ = step.module_globals
    globals_[RT] = runtime
    globals_[LET_GO] = let_go
    scratch: dict = {"__builtins__": builtins}
    exec(compile_user_code(module, step.scope.path, "exec"), globals_, scratch)  # noqa: S102 - the user's own statements, rewritten
    return scratch["__vaelint_make_step"](*(step.values[p.removeprefix(SAVED)] for p in params))


def _all_strings(value) -> bool:
    """A batch that is itself a list of strings (one a sample): one input, handed whole."""
    return bool(value) and all(isinstance(v, str) for v in value)


def _binding(step: LiveStep, line: int) -> list[ast.stmt]:
    """``<pattern> = __vaelint__.batch(items, named, names, use, line)``: a loop's or an
    assignment's pattern takes the items in order; one name takes the batch as the step
    reads it (a tensor, unpacked, indexed); free names (full-batch) take one item each."""
    from vaelint.frontends.training.batchuse import BatchUse, use_of

    use = None
    if isinstance(step.pattern, (ast.Tuple, ast.List)):
        target, pattern = step.pattern, _names_pattern(step.pattern)
    elif isinstance(step.pattern, ast.Name):
        target, pattern = step.pattern, (step.pattern.id,)
        use = use_of(step.pattern.id, step.region)
        if use.kind in ("tensor", "passed") and isinstance(step.batch_value, (tuple, list)) and not _all_strings(step.batch_value):
            # the batch the code took has several items (handed whole to prep(batch), which
            # unpacks it): it stays a sequence of the inputs, as the run had it
            use = BatchUse("indexed")
        elif use.kind in ("tensor", "passed", "indexed") and isinstance(step.batch_value, dict) and step.batch_value:
            # a dict, its keys read through a variable (model.get_input(batch, model.image_key)) or
            # its own methods (for k in batch.keys(): batch[k] = batch[k].cuda(); batch.items()):
            # it stays a dict of the same keys, as the run had it
            use = BatchUse("keyed", keys=tuple(step.batch_value))
        elif use.kind == "keyed" and isinstance(step.batch_value, (tuple, list)) and not _all_strings(step.batch_value):
            # `try: x = batch["X"] except Exception: x = batch[0]`: the syntax saw the key, the run took a
            # sequence (the handler's branch): it stays the sequence it was, so the key raises as it did
            use = BatchUse("indexed")
        elif use.kind == "unpacked" and _one_tensor(step.batch_value, use.arity):
            # `if FLAG: images = data else: images, labels = data`: the syntax saw the branch that
            # unpacks, the run took a single tensor (the other branch): it stays the tensor it was
            use = BatchUse("tensor")
    elif len(step.names) == 1:
        target, pattern = ast.Name(step.names[0], ast.Store()), (step.names[0],)
        use = use_of(step.names[0], [])  # a tensor
    else:
        target = ast.Tuple(elts=[ast.Name(n, ast.Store()) for n in step.names], ctx=ast.Store())
        pattern = tuple(step.names)
    use_expr = batch_use(use)
    value = ast.Call(
        func=rt("batch"),
        args=[ast.Name(ITEMS, ast.Load()), ast.Name(NAMED, ast.Load()), const(pattern), use_expr, const(line)],
        keywords=[ast.keyword("zipped", const(True))] if _over_zip(step) else [],
    )
    return [ast.Assign(targets=[_store(target)], value=value)]


def _over_zip(step: LiveStep) -> bool:
    """``for pairs in zip(a, b)``: one name bound to each loader's batch in turn."""
    from vaelint.frontends.training.sites import zips_loaders

    return isinstance(step.source, (ast.For, ast.AsyncFor)) and zips_loaders(step.source.iter)


def _one_tensor(value, arity: int) -> bool:
    """A batch that is one tensor which unpacking into ``arity`` names would not fit."""
    import torch

    return isinstance(value, torch.Tensor) and (value.dim() == 0 or value.shape[0] != arity)


def _store(target):
    target = copy.deepcopy(target)
    for n in ast.walk(target):
        if hasattr(n, "ctx"):
            n.ctx = ast.Store()
    return target


def _names_pattern(target):
    if isinstance(target, (ast.Tuple, ast.List)):
        return tuple(_names_pattern(e) for e in target.elts)
    if isinstance(target, ast.Starred):
        return _names_pattern(target.value)
    return target.id if isinstance(target, ast.Name) else "_"


def _end_at_site(region: list[ast.stmt], step: LiveStep) -> None:
    """The backward in the step's own statements returns its loss (``__vaelint__.loss``): a
    backward in a function it calls is stopped by the hook (:meth:`LiveRuntime.stepping`)."""
    site = step.site
    if site is None or site.place.scope is not step.scope:
        return
    line = site.place.statement.lineno
    col = site.place.statement.col_offset

    class Swap(ast.NodeTransformer):
        def generic_visit(self, node):
            for name, value in ast.iter_fields(node):
                if isinstance(value, list):
                    new = []
                    for item in value:
                        if isinstance(item, ast.stmt) and item.lineno == line and item.col_offset == col and backward_of(item) is not None:
                            new.append(located(ast.Expr(rt_call("loss", copy.deepcopy(backward_of(item)))), item))
                        elif isinstance(item, ast.AST):
                            new.append(self.visit(item))
                        else:
                            new.append(item)
                    setattr(node, name, new)
            return node

    holder = ast.Module(body=region, type_ignores=[])
    Swap().visit(holder)
    region[:] = holder.body


def _drops_an_incomplete_batch(stmt: ast.stmt, batch: set) -> bool:
    """``if x.size(0) != BATCH: break`` (or ``continue``; ``x.shape[0] < bs``, ``len(x)``) at the
    top of the step: the code's own drop of the loader's last, smaller batch. At the user's batch it
    never fires; the step's runs at other batch sizes (the shapes stage's) would leave there, so it
    is left out of the step (takahiro-itazuri/vaegan-pytorch)."""
    if not (isinstance(stmt, ast.If) and not stmt.orelse and all(isinstance(s, (ast.Break, ast.Continue)) for s in stmt.body)):
        return False
    return _on_the_batch_size(stmt.test, batch, (ast.NotEq, ast.Lt, ast.Eq, ast.Gt))


def _full_batch_body(stmt: ast.stmt, batch: set) -> list[ast.stmt]:
    """``if x.size(0) == BATCH: <the step>`` (no else): the step guarded to full batches, as the
    other form drops the last one. Its body is the step at every batch size the check runs (it was
    'a condition on the way was false' at the shapes stage's other sizes: probtorch's examples)."""
    if isinstance(stmt, ast.If) and not stmt.orelse and _on_the_batch_size(stmt.test, batch, (ast.Eq, ast.GtE)):
        return list(stmt.body)
    return [stmt]


def _on_the_batch_size(test: ast.expr, batch: set, ops: tuple) -> bool:
    """A comparison (one of ``ops``) of a batch variable's size (``x.size(0)``, ``len(x)``, ...)."""
    if not isinstance(test, ast.Compare) or not any(isinstance(op, ops) for op in test.ops):
        return False

    def batch_size(e) -> bool:
        if isinstance(e, ast.Subscript):
            e = e.value  # x.size()[0], x.shape[0]
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "len" and e.args:
            e = e.args[0]
        elif isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "size":
            e = e.func.value
        elif isinstance(e, ast.Attribute) and e.attr == "shape":
            e = e.value
        else:
            return False
        return isinstance(e, ast.Name) and e.id in batch

    return any(batch_size(e) for e in (test.left, *test.comparators))


def _no_finally_after_the_end(region: list[ast.stmt]) -> None:
    """A ``finally:`` of the step's own runs only when the step has not ended: once its backward
    is reached, nothing after it runs (a download, a checkpoint in the finally)."""
    for stmt in region:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Try) and node.finalbody and not getattr(node, "_vaelint_final", False):
                guard = ast.If(test=ast.UnaryOp(op=ast.Not(), operand=rt_call("ending")), body=node.finalbody, orelse=[])
                node.finalbody = [located(guard, node.finalbody[0])]
                node._vaelint_final = True
