"""Small facts read from the user's source text with ``ast``.

Used to point past the line that fails to the line that fixed a size: a
``Linear`` built at line 40 as ``nn.Linear(self.flatten_dim, 256)`` takes its
``in_features`` from ``self.flatten_dim = hidden_dims[-1] * 4`` at line 35.
"""

from __future__ import annotations

import ast
from functools import lru_cache

from vaelint.frames import SourceLoc


def _parse(path: str) -> tuple[ast.Module, str] | None:
    from vaelint.frontends.overlay import text_of

    # keyed by the edited text too: a worker forked after the parent parsed the file
    # (finding a file's training step) must see a fix's edit (vaelint/frontends/overlay.py)
    return _parsed(path, text_of(path))


@lru_cache(maxsize=64)
def _parsed(path: str, _edited: str | None) -> tuple[ast.Module, str] | None:
    from vaelint.frontends.load import read_source

    try:
        text = read_source(path)  # a notebook's code cells as one text
        return ast.parse(text), text
    except (OSError, SyntaxError, ValueError):
        return None


def line_text(path: str, line: int) -> str:
    parsed = _parse(path)
    if parsed is None:
        return ""
    lines = parsed[1].splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _enclosing_function(tree: ast.AST, line: int) -> ast.AST | None:
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            end = getattr(node, "end_lineno", node.lineno)
            if node.lineno <= line <= end:
                if best is None or node.lineno > best.lineno:
                    best = node
    return best


def call_argument(site: SourceLoc, index: int, keyword: str) -> ast.expr | None:
    """The argument expression of the call constructed at ``site``."""
    parsed = _parse(site.path)
    if parsed is None:
        return None
    tree, _ = parsed
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.lineno <= site.line <= (n.end_lineno or n.lineno)]
    # the call that starts where the frame was (two layers built on one line),
    # else the innermost call on that line
    calls.sort(key=lambda c: (
        not (c.lineno == site.line and c.col_offset + 1 == site.column),
        (c.end_lineno or c.lineno) - c.lineno,
        -c.col_offset,
    ))
    for call in calls:
        for kw in call.keywords:
            if kw.arg == keyword:
                return kw.value
        if len(call.args) > index and not any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
            return call.args[index]
    return None


def origin_of(site: SourceLoc, expr: ast.expr) -> tuple[SourceLoc, str] | None:
    """Where the value of ``expr`` (a name or ``self.attr``) was last assigned before
    ``site``: in the enclosing function, else at module level; ``self.attr`` also in
    the enclosing class's methods (``self.beta = args.beta`` in ``__init__``)."""
    parsed = _parse(site.path)
    if parsed is None:
        return None
    tree, text = parsed
    key = _target_key(expr)
    if key is None:
        return None
    func = _enclosing_function(tree, site.line)
    scopes = [(list(ast.walk(func)), site.line)] if func is not None else []
    owner = _enclosing_class(tree, site.line) if key.startswith("self.") else None
    if owner is not None:  # a method runs after __init__ whatever the lines say
        scopes.append(([n for m in owner.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m is not func
                        for n in ast.walk(m)], None))
    scopes.append((_outside_definitions(tree), site.line))  # module level, its if/for/with blocks too
    for nodes, before in scopes:
        best = None
        for node in nodes:
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and (before is None or node.lineno < before):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(key in _target_keys(t) for t in targets):
                    if best is None or node.lineno > best.lineno:
                        best = node
        if best is not None:
            seg = ast.get_source_segment(text, best) or ""
            return SourceLoc(site.path, best.lineno, best.col_offset + 1), " ".join(seg.split())
    return None


def _outside_definitions(tree: ast.Module) -> list[ast.AST]:
    """The module's nodes outside any function or class body: what runs at module
    level (inside its ``if __name__ == "__main__":`` too), not other functions' locals."""
    out, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        out.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return out


def _enclosing_class(tree: ast.AST, line: int) -> ast.ClassDef | None:
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.lineno <= line <= getattr(node, "end_lineno", node.lineno):
            if best is None or node.lineno > best.lineno:
                best = node
    return best


def _target_keys(target) -> set[str]:
    """The names an assignment target binds: ``a``, ``self.a``, and each of ``a, (b, c)``."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_target_keys(t) for t in target.elts)) if target.elts else set()
    if isinstance(target, ast.Starred):
        return _target_keys(target.value)
    key = _target_key(target)
    return {key} if key else set()


def _target_key(expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        return f"{expr.value.id}.{expr.attr}"
    return None


def expr_text(site: SourceLoc, expr: ast.expr) -> str:
    parsed = _parse(site.path)
    return " ".join((ast.get_source_segment(parsed[1], expr) or "").split()) if parsed else ""
