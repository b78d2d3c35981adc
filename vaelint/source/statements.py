"""Which statements of a model file run: the definitions and what they read.

Imports, class and function definitions, and the module-level assignments the
wanted names read (transitively); never loops, ``if __name__ == "__main__":``,
training calls or bare expressions.
"""

from __future__ import annotations

import ast

_DEFINITIONAL = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

# Method calls on an object the file built that train, evaluate, save, load or show
# it: never configuration the model needs. ``vae.fit(mnist_digits, epochs=30)``
# after ``vae = VAE(encoder, decoder)`` (the Keras example's last lines) would
# download MNIST and train for 30 epochs; ``model.train()`` on an nn.Module only
# sets a mode vaelint sets itself, on a Solver it trains.
_NOT_CONFIGURATION = frozenset(
    {
        "fit",
        "fit_generator",
        "train",
        "train_on_batch",
        "train_model",
        "evaluate",
        "evaluate_generator",
        "predict",
        "predict_on_batch",
        "predict_generator",
        "test",
        "validate",
        "run",
        "backward",
        "step",
        "zero_grad",
        "save",
        "save_weights",
        "save_pretrained",
        "save_model",
        "load",
        "load_weights",
        "load_state_dict",
        "summary",
        "show",
        "savefig",
        "plot",
        "download",
        "prepare_data",
    }
)


def _names_loaded(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def assigned_names(stmt: ast.stmt) -> set[str]:
    """Names (bases of attribute/subscript targets too) that a statement binds or mutates."""
    targets: list[ast.AST] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        # parser.add_argument(...): mutates `parser`
        f = stmt.value.func
        while isinstance(f, (ast.Attribute, ast.Subscript)):
            f = f.value
        if isinstance(f, ast.Name) and isinstance(stmt.value.func, ast.Attribute):
            return {f.id}
        return set()
    elif isinstance(stmt, (ast.If, ast.Try, ast.With)):
        out: set[str] = set()
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                out |= assigned_names(child)
            elif isinstance(child, ast.ExceptHandler):
                for s in child.body:
                    out |= assigned_names(s)
        for s in getattr(stmt, "orelse", []) + getattr(stmt, "finalbody", []):
            out |= assigned_names(s)
        return out
    elif isinstance(stmt, _DEFINITIONAL):
        return _defined_names(stmt)
    out = set()
    for t in targets:
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                out.add(n.id)
                break
        base = t
        while isinstance(base, (ast.Attribute, ast.Subscript)):
            base = base.value
        if isinstance(base, ast.Name):
            out.add(base.id)
        for n in ast.walk(t):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                out.add(n.id)
    return out


def _not_configuration(stmt: ast.Expr) -> bool:
    func = stmt.value.func if isinstance(stmt.value, ast.Call) else None
    return isinstance(func, ast.Attribute) and func.attr in _NOT_CONFIGURATION


def _defined_names(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    return set()


_IMPORT_PATH_CALLS = frozenset({"sys.path.append", "sys.path.insert", "sys.path.extend", "site.addsitedir"})


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def extends_import_path(stmt: ast.stmt) -> bool:
    """``sys.path.append("../../semi-supervised")`` and the like: where the file's own
    imports are found. Kept with the imports (a notebook's ``from models import VAE``
    needs it), as harmless as they are."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return _dotted(stmt.value.func) in _IMPORT_PATH_CALLS
    if isinstance(stmt, ast.AugAssign):
        return _dotted(stmt.target) == "sys.path"
    if isinstance(stmt, ast.Assign):
        return any(_dotted(t) == "sys.path" for t in stmt.targets)
    return False


def _is_main_guard(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and "__name__" in _names_loaded(stmt.test)


def _only_definitions(stmt: ast.stmt) -> bool:
    """A compound statement made only of imports, definitions and assignments."""
    if isinstance(stmt, (*_DEFINITIONAL, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Pass)):
        return True
    if isinstance(stmt, (ast.Expr, ast.Raise)):
        return True  # a docstring, a warnings.warn(...) (left out when run: _without_calls), a raise
    if isinstance(stmt, (ast.If, ast.Try)):
        bodies = [stmt.body, getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])]
        bodies += [h.body for h in getattr(stmt, "handlers", [])]
        return all(_only_definitions(s) for body in bodies for s in body)
    return False


def select_statements(tree: ast.Module, wanted: set[str]) -> list[ast.stmt]:
    """The top-level statements that define the model, in file order.

    Imports and definitions are always kept (defining is harmless). Other
    statements are kept only when they bind or mutate a name that the wanted
    definitions need, transitively (``args = parser.parse_args()`` for a model
    that reads ``args.latent``), and only if they are simple: no loops, no
    main guard. A helper that only the training code uses (a data set
    download) is never called.
    """
    body = tree.body
    keep = [isinstance(s, _DEFINITIONAL) or extends_import_path(s) for s in body]
    defs = {}
    for s in body:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs.setdefault(s.name, []).append(s)
    assigned_here = set()
    for s in body:
        if isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            assigned_here |= assigned_names(s)
    needed = set(wanted).union(*(_names_loaded(s) for s in body if extends_import_path(s)))
    expanded: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name in list(needed - expanded):
            expanded.add(name)
            for d in defs.get(name, []):
                new = _names_loaded(d) - needed
                if new:
                    needed |= new
                    changed = True
        for i, s in enumerate(body):
            if keep[i] or _is_main_guard(s):
                continue
            if isinstance(s, (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
                continue
            if isinstance(s, (ast.If, ast.Try)) and not _only_definitions(s):
                continue
            if isinstance(s, ast.Expr):
                # parser.add_argument(...): only calls on an object this file
                # built (never os.makedirs(...), download(...), train()), and never
                # one that trains, saves or shows it (vae.fit(...))
                if not (assigned_names(s) & needed & assigned_here) or _not_configuration(s):
                    continue
            elif not isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.If, ast.Try)):
                continue
            if assigned_names(s) & needed:
                keep[i] = True
                needed |= _names_loaded(s)
                changed = True
    return [_without_calls(s) if isinstance(s, (ast.If, ast.Try)) else s for s, k in zip(body, keep) if k]


def _without_calls(stmt: ast.stmt) -> ast.stmt:
    """A kept ``if``/``try`` of definitions with its bare calls left out, as at the top level
    (``else: warnings.warn("scipy is missing"); Scaler = None`` keeps ``Scaler = None``)."""
    import copy

    class _Strip(ast.NodeTransformer):
        def visit_Expr(self, node):
            return node if isinstance(node.value, ast.Constant) else ast.copy_location(ast.Pass(), node)

        def visit_FunctionDef(self, node):
            return node  # a definition's own body runs as written when it is called

        visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    return _Strip().visit(copy.deepcopy(stmt))
