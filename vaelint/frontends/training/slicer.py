"""Backward slicing: the statements a point of the user's code needs.

Given a scope's body and a path to one statement in it (the site, or the call
that leads there), :meth:`Slicer.along` keeps that chain of statements and, of
everything before it, only what the point needs: assignments to the names it
reads (transitively), the compound statements around them, calls that change a
needed object in place (``parser.add_argument(...)``, ``model.to(device)``),
imports and definitions. Whatever the point does not read (data loaders and
downloads when the batch is given, optimisers, loggers, checkpoints, plots,
other training loops) is left out, and never runs.

The result is a new list of statements (copies; the user's nodes keep their
line numbers) and the names still needed before it.
"""

from __future__ import annotations

import ast
import copy
from typing import Callable

from vaelint.source.astutil import base_name, block_of, dotted, free_names, is_main_guard, loads, mutated_names, target_names
from vaelint.source.statements import extends_import_path

# what makes a part of an argparse parser whose arguments are the parser's
_GROUPS = frozenset({"add_argument_group", "add_mutually_exclusive_group", "add_subparsers", "add_parser"})

# methods whose calls change nothing a check reads, or change what must not be
# changed on the user's behalf (an optimiser step, a checkpoint load, a log)
SIDE_EFFECT_METHODS = frozenset(
    {
        "zero_grad",
        "step",
        "backward",
        "manual_backward",
        "log",
        "log_dict",
        "add_scalar",
        "add_scalars",
        "add_image",
        "add_images",
        "add_histogram",
        "add_figure",
        "add_text",
        "add_graph",
        "save",
        "save_pretrained",
        "save_image",
        "savefig",
        "show",
        "close",
        "flush",
        "print",
        "train",
        "eval",
        "load_state_dict",
        "load_from_checkpoint",
        "from_pretrained",
        "info",
        "debug",
        "warning",
        "error",
        "set_postfix",
        "set_description",
        "watch",
        "fit",
        "test",
        "validate",
        "write",
        "writelines",
        "seed",
        "manual_seed",
        "sleep",
        "summary",
    }
)
# weight loading is left out on purpose: vaelint checks the model as built
WEIGHT_LOADS = frozenset({"load_state_dict", "load_from_checkpoint", "from_pretrained", "load_weights"})

End = Callable[[ast.stmt, set], tuple[list[ast.stmt], set]]


def _a_tracker(name: str) -> bool:
    """An experiment tracker's module (wandb, mlflow, neptune): its ``init`` keeps the run's config."""
    from vaelint.frontends.placeholders import is_logger

    return is_logger(name)


def _pass(like: ast.AST) -> ast.stmt:
    return ast.copy_location(ast.Pass(), like)


class Slicer:
    """Slices one scope. ``local`` are the names the scope binds (its parameters
    and assignments): an in-place call counts only on those (``model.to(d)``, not
    ``os.makedirs(d)``). ``keep_definitions``: a module keeps every import and
    definition (defining is harmless, and other modules may import them)."""

    def __init__(
        self,
        local: set[str],
        keep_definitions: bool = False,
        main_guard_true: bool = False,
        rewritten: dict | None = None,
        trains: dict | None = None,
        mutators: dict | None = None,
    ):
        self.local = local
        # the repository's functions that set attributes of what they are handed (mutators.py)
        self.mutators = mutators or {}
        # method name -> what it is, for the repository's methods that train (a backward in their
        # body): ``vade.module.pre_train(loader, pre_epoch=50)`` is left out like an optimiser step
        self.trains = trains or {}
        self.skipped_training: list[tuple[ast.stmt, str]] = []
        # id(a def of the user's) -> its rewritten version: what a needed function reads is what
        # the rewritten one reads (a train() cut at its step no longer reads the optimiser)
        self.rewritten = rewritten or {}
        self.keep_definitions = keep_definitions
        self.main_guard_true = main_guard_true
        self.skipped_loads: list[ast.stmt] = []  # weight loads the slice leaves out (the report says so)
        # names bound to an argparse parser: a plain call handed one (``add_args(parser)``)
        # adds its arguments, so it stays with the parse that needs them
        self.parsers: set[str] = set()
        self.groups: dict[str, str] = {}  # an argument group or subparser -> the parser it adds to

    # ---- one block
    def block(self, stmts: list[ast.stmt], needed: set) -> tuple[list[ast.stmt], set]:
        for s in stmts:
            if isinstance(s, ast.Assign) and isinstance(s.value, ast.Call) and dotted(s.value.func).endswith("ArgumentParser"):
                self.parsers |= set().union(*(target_names(t) for t in s.targets))
            func = s.value.func if isinstance(s, ast.Assign) and isinstance(s.value, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr in _GROUPS and base_name(func.value):
                # group = parser.add_argument_group("Model"): group.add_argument(...) adds to parser
                self.groups.update(dict.fromkeys(set().union(*(target_names(t) for t in s.targets)), base_name(func.value)))
        kept: list[ast.stmt] = []
        for stmt in reversed(stmts):
            new, needed = self.stmt(stmt, needed)
            if new is not None:
                kept.insert(0, new)
        return kept, needed

    def stmt(self, s: ast.stmt, needed: set) -> tuple[ast.stmt | None, set]:
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            bound = {(a.asname or a.name).split(".")[0] for a in s.names if a.name != "*"}
            if self.keep_definitions or bound & needed or any(a.name == "*" for a in s.names):
                return s, needed - bound
            return None, needed
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if s.name in needed:
                return s, (needed - {s.name}) | free_names(self._rewritten(s))
            return (s, needed) if self.keep_definitions else (None, needed)
        if extends_import_path(s):
            return s, needed | loads(s)
        if isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            return self._assign(s, needed)
        if isinstance(s, ast.Expr):
            return self._expr(s, needed)
        if isinstance(s, ast.If):
            if is_main_guard(s) and not self.main_guard_true:
                return None, needed  # an imported file's script part never runs
            return self._if(s, needed)
        if isinstance(s, (ast.For, ast.AsyncFor, ast.While)):
            return self._loop(s, needed)
        if isinstance(s, (ast.With, ast.AsyncWith)):
            body, inner = self.block(s.body, needed)
            if not body:
                return None, needed
            new = copy.copy(s)
            new.body = body
            bound = set()
            for item in s.items:
                if item.optional_vars is not None:
                    bound |= target_names(item.optional_vars)
            return new, (inner - bound) | loads(ast.Tuple(elts=[i.context_expr for i in s.items], ctx=ast.Load()))
        if isinstance(s, ast.Try) or (hasattr(ast, "TryStar") and isinstance(s, ast.TryStar)):
            return self._try(s, needed)
        if isinstance(s, (ast.Global, ast.Nonlocal)):
            return s, needed
        return None, needed  # return, raise, break, continue, assert, del, pass: not the point's business

    def _rewritten(self, s):
        """A def, or a class whose methods were rewritten, as it will run."""
        if id(s) in self.rewritten:
            return self.rewritten[id(s)]
        if isinstance(s, ast.ClassDef) and any(id(m) in self.rewritten for m in s.body):
            new = copy.copy(s)
            new.body = [self.rewritten.get(id(m), m) for m in s.body]
            return new
        return s

    def _assign(self, s, needed):
        targets = s.targets if isinstance(s, ast.Assign) else [s.target]
        if isinstance(s, ast.AnnAssign) and s.value is None:
            return None, needed
        pure = set() if isinstance(s, ast.AugAssign) else set().union(*(target_names(t) for t in targets))
        changed = set().union(*(mutated_names(t) for t in targets))
        if isinstance(s, ast.AugAssign):
            changed |= target_names(s.target)
        if not (pure | changed) & needed:
            return None, needed
        return s, (needed - pure) | loads(s) | changed

    def _expr(self, s, needed):
        call = s.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
            handed = {a.id for a in [*call.args, *(k.value for k in call.keywords)] if isinstance(a, ast.Name)}
            if handed & needed & self.parsers:
                return s, needed | loads(s)
            positions = self.mutators.get(call.func.id, ())
            if any(isinstance(a, ast.Name) and a.id in needed for i, a in enumerate(call.args) if i in positions):
                return s, needed | loads(s)  # set_kl_weight(model, step): it sets what the point reads
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
            return None, needed
        base = base_name(call.func.value)
        method = call.func.attr
        root = base
        while root in self.groups and root not in needed:
            root = self.groups[root]
        if base in self.groups and root in needed:
            return s, needed | loads(s) | {base}  # an argument group's (or subparser's) argument: its parser's
        if base in needed and method == "init" and base not in self.local and _a_tracker(base):
            # wandb.init(config=vars(args)) read back as wandb.config: it sets what the point reads
            return s, needed | loads(s)
        if base is None or base not in needed or base not in self.local:
            return None, needed
        if method in WEIGHT_LOADS:
            self.skipped_loads.append(s)
            return None, needed
        if method in self.trains:
            self.skipped_training.append((s, self.trains[method]))
            return None, needed
        if method in SIDE_EFFECT_METHODS:
            return None, needed
        return s, needed | loads(s)

    def _if(self, s, needed):
        body, nb = self.block(s.body, needed)
        orelse, no = self.block(s.orelse, needed)
        if not body and not orelse:
            return None, needed
        new = copy.copy(s)
        if is_main_guard(s) and self.main_guard_true:
            new.test = ast.copy_location(ast.Constant(True), s.test)
        new.body = body or [_pass(s)]
        new.orelse = orelse
        return new, nb | no | loads(s.test)

    def _loop(self, s, needed):
        from vaelint.frontends.training.sites import is_data_loop

        if is_data_loop(s):
            return None, needed  # vaelint never iterates data
        body, inner = self.block(s.body, needed)
        if not body:
            return None, needed
        body, inner = self.block(s.body, needed | inner)  # what one pass needs from the one before
        new = copy.copy(s)
        new.body = body
        new.orelse = []
        if isinstance(s, ast.While):
            return new, needed | inner | loads(s.test)
        return new, needed | (inner - target_names(s.target)) | loads(s.iter)

    def _try(self, s, needed):
        body, nb = self.block(s.body, needed)
        final, nf = self.block(s.finalbody, needed)
        if not body and not final:
            return None, needed
        new = copy.copy(s)
        new.body = body or [_pass(s)]
        new.finalbody = final
        orelse, no = self.block(s.orelse, needed)
        new.orelse = orelse
        handlers, nh = [], set()
        for h in s.handlers:
            hb, n = self.block(h.body, needed)
            handler = copy.copy(h)
            handler.body = hb or [_pass(h)]
            handlers.append(handler)
            nh |= n | (loads(h.type) if h.type is not None else set())
        new.handlers = handlers
        return new, nb | nf | no | nh

    # ---- along a path
    def along(self, block: list[ast.stmt], steps: tuple, end: End, region=None, depth: int = 0) -> tuple[list[ast.stmt], set]:
        """Keep the chain of statements that ``steps`` leads through; ``end(stmt,
        needed)`` replaces the last one. ``region(depth, block, index, path_stmts,
        needed)``, when given, may wrap the statements at that depth from some index
        to the path's statement (the step's region) and returns (statements,
        needed, index where the region starts) or None."""
        (index, into), rest = steps[0], steps[1:]
        stmt = block[index]
        if not rest:
            chain, needed = end(stmt, set())
        else:
            inner, needed = self.along(block_of(stmt, into), rest, end, region, depth + 1)
            chain, needed = self._rebuild(stmt, into, inner, needed)
        start = index
        if region is not None:
            got = region(depth, block, index, chain, needed)
            if got is not None:
                chain, needed, start = got
        before, needed = self.block(block[:start], needed)
        return before + chain, needed

    def _rebuild(self, stmt: ast.stmt, into, inner: list[ast.stmt], needed: set) -> tuple[list[ast.stmt], set]:
        """A compound statement on the path, with only the path's block kept."""
        new = copy.copy(stmt)
        name, handler = into
        if isinstance(stmt, ast.If):
            if is_main_guard(stmt):
                new.test = ast.copy_location(ast.Constant(True), stmt.test)
            new.body, new.orelse = (inner, []) if name == "body" else ([_pass(stmt)], inner)
            if name == "orelse" and not is_main_guard(stmt):
                # the path runs when the test is false: keep the test as written
                pass
            return [new], needed | loads(stmt.test)
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            new.body, new.orelse = (inner, []) if name == "body" else ([_pass(stmt)], inner)
            return [new], (needed - target_names(stmt.target)) | loads(stmt.iter)
        if isinstance(stmt, ast.While):
            new.body, new.orelse = (inner, []) if name == "body" else ([_pass(stmt)], inner)
            return [new], needed | loads(stmt.test)
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            new.body = inner
            bound = set()
            for item in stmt.items:
                if item.optional_vars is not None:
                    bound |= target_names(item.optional_vars)
            return [new], (needed - bound) | loads(ast.Tuple(elts=[i.context_expr for i in stmt.items], ctx=ast.Load()))
        # try: the path in its body (or a handler); what it catches must not be our signals
        if name == "body":
            new.body = inner
        elif name == "handlers":
            new.handlers = list(stmt.handlers)
            h = copy.copy(stmt.handlers[handler])
            h.body = inner
            new.handlers[handler] = h
        else:
            setattr(new, name, inner)
        return [new], needed
