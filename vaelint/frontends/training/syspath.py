"""The folders a script's imports resolve from beyond its own folder and the current
one, worked out without running it: PYTHONPATH's entries, and the folders its own lines
put on ``sys.path`` (``sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
"src"))``, ``sys.path.append(str(Path(__file__).resolve().parents[1]))``,
``site.addsitedir("/abs/lib")``). A thin driver whose training function lives there is
training code, read as such (vaelint/frontends/training/repofiles.py), never passed over."""

from __future__ import annotations

import ast
import os

from vaelint.source.astutil import dotted

_ADDERS = ("sys.path.insert", "sys.path.append", "site.addsitedir", "path.insert", "path.append", "addsitedir")
_OS_PATH = {
    "join": os.path.join,
    "dirname": os.path.dirname,
    "abspath": os.path.abspath,
    "realpath": os.path.realpath,
    "normpath": os.path.normpath,
    "expanduser": os.path.expanduser,
}
_DEPTH = 12  # names that refer to names: HERE = dirname(__file__); ROOT = join(HERE, "..")


def script_roots(tree: ast.Module, path: str) -> list[str]:
    """PYTHONPATH's folders, then those the script adds to sys.path, as absolute paths
    (a relative one resolves against the current folder, as Python's import does), then the src/
    folder of the project the script is in."""
    # PYTHONPATH=src: a repository's own folder; a folder of installed packages is a library's
    out = [
        os.path.abspath(p)
        for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if p and not {"site-packages", "dist-packages"} & set(os.path.abspath(p).split(os.sep))
    ]
    out += _added(tree, path)
    # a helper module beside it that the script imports for that line alone (a notebooks/ folder's
    # context.py: sys.path.insert(0, ".."), then `from context import mypkg`)
    for helper in _helpers_beside(tree, path):
        try:
            with open(helper, encoding="utf-8") as f:
                out += _added(ast.parse(f.read()), helper)
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
            continue
    from vaelint.frontends.importroots import src_layouts

    out += src_layouts(path)  # a src-layout project's package, as `pip install -e .` puts it on the path
    return [p for p in dict.fromkeys(out) if os.path.isdir(p)]


def _added(tree: ast.Module, path: str) -> list[str]:
    """The folders the lines of the file at ``path`` add to sys.path, as absolute paths."""
    names, out = _module_names(tree), []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = dotted(node.func) or ""
        if not func.endswith(_ADDERS):
            continue
        arg = node.args[-1] if func.endswith("insert") else node.args[0]
        value = _value(arg, names, path, 0)
        if isinstance(value, str) and value:
            out.append(os.path.abspath(value))
    return out


def _helpers_beside(tree: ast.Module, path: str) -> list[str]:
    """The .py files of the script's own folder that its top level imports (``import context``,
    ``from context import mypkg``)."""
    here, out = os.path.dirname(os.path.abspath(path)), []
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            tops = [a.name.split(".")[0] for a in stmt.names]
        elif isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
            tops = [stmt.module.split(".")[0]]
        else:
            continue
        out += [f for f in (os.path.join(here, f"{t}.py") for t in tops) if os.path.isfile(f) and f != os.path.abspath(path)]
    return list(dict.fromkeys(out))


def _module_names(tree: ast.Module) -> dict[str, ast.expr]:
    """The names the module's top level (and its main guard's or try's blocks) bind once to an expression."""
    out: dict[str, ast.expr] = {}
    todo = list(tree.body)
    while todo:
        stmt = todo.pop(0)
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            out.setdefault(stmt.targets[0].id, stmt.value)
        elif isinstance(stmt, (ast.If, ast.Try)):
            todo += stmt.body
    return out


def _value(expr: ast.expr, names: dict, path: str, depth: int):
    """A path (str) the expression makes, or None where it depends on anything run-time."""
    if depth > _DEPTH:
        return None
    again = lambda e: _value(e, names, path, depth + 1)  # noqa: E731
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    if isinstance(expr, ast.Name):
        if expr.id == "__file__":
            return path
        return again(names[expr.id]) if expr.id in names else None
    if isinstance(expr, ast.JoinedStr):
        parts = [again(v.value) if isinstance(v, ast.FormattedValue) else again(v) for v in expr.values]
        return "".join(parts) if all(isinstance(p, str) for p in parts) else None
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Div)):
        left, right = again(expr.left), again(expr.right)
        if not (isinstance(left, str) and isinstance(right, str)):
            return None
        return left + right if isinstance(expr.op, ast.Add) else os.path.join(left, right)
    if isinstance(expr, ast.Attribute) and expr.attr == "parent":
        inner = again(expr.value)
        return os.path.dirname(os.path.abspath(inner)) if isinstance(inner, str) else None
    if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Attribute) and expr.value.attr == "parents":
        inner, index = again(expr.value.value), expr.slice
        if not isinstance(inner, str) or not (isinstance(index, ast.Constant) and isinstance(index.value, int)):
            return None
        out = os.path.abspath(inner)
        for _ in range(index.value + 1):
            out = os.path.dirname(out)
        return out
    if isinstance(expr, ast.Call):
        return _call_value(expr, again)
    return None


def _call_value(expr: ast.Call, again):
    func = dotted(expr.func) or ""
    short = expr.func.attr if isinstance(expr.func, ast.Attribute) else func.rpartition(".")[2]
    if func.endswith(("os.getcwd", "Path.cwd")) or func == "getcwd":
        return os.getcwd()
    if isinstance(expr.func, ast.Attribute) and short in ("resolve", "absolute") and not expr.args:
        inner = again(expr.func.value)
        return os.path.abspath(inner) if isinstance(inner, str) else None
    args = [again(a) for a in expr.args]
    if not all(isinstance(a, str) for a in args) or expr.keywords:
        return None
    if short in _OS_PATH and (func.startswith(("os.path.", "path.")) or func == short) and args:
        try:
            return _OS_PATH[short](*args)
        except TypeError:
            return None
    if short in ("str", "fspath", "Path", "PurePath", "PosixPath") and len(args) >= 1:
        return os.path.join(*args)
    return None
