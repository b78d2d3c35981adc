"""Small facts read from the user's source text with ``ast``.

Used to point past the line that fails to the line that fixed a size: a
``Linear`` built at line 40 as ``nn.Linear(self.flatten_dim, 256)`` takes its
``in_features`` from ``self.flatten_dim = hidden_dims[-1] * 4`` at line 35.
"""

from __future__ import annotations

import ast
from functools import lru_cache

from vaelint.source.astutil import segment_of
from vaelint.source.frames import SourceLoc
from vaelint.source.setupmoves import MOVE_METHODS, move_after, moved_where_made, moves


def _parse(path: str) -> tuple[ast.Module, str] | None:
    from vaelint.source.overlay import text_of

    # keyed by the edited text too: a worker forked after the parent parsed the file
    # (finding a file's training step) must see a fix's edit (vaelint/source/overlay.py)
    return _parsed(path, text_of(path))


@lru_cache(maxsize=64)
def _parsed(path: str, _edited: str | None) -> tuple[ast.Module, str] | None:
    from vaelint.source.files import read_source

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


def names_the_cpu(text: str) -> bool:
    """Does a line name the CPU itself (``device="cpu"``, ``.to("cpu")``, ``.cpu()``), rather
    than through a variable the code chose (``"cuda" if torch.cuda.is_available() else "cpu"``)?"""
    return "'cpu'" in text or '"cpu"' in text or ".cpu()" in text


def def_node(tree: ast.Module, code) -> ast.AST | None:
    """The ``def`` a code object was compiled from (its first line is the def's, or its first
    decorator's)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if code.co_firstlineno in (node.lineno, first):
                return node
    return None


def _enclosing_function(tree: ast.AST, line: int) -> ast.AST | None:
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            end = getattr(node, "end_lineno", node.lineno)
            if node.lineno <= line <= end:
                if best is None or node.lineno > best.lineno:
                    best = node
    return best


def function_span(path: str, line: int) -> tuple[int, int] | None:
    """(first, last line) of the innermost function of ``path`` holding ``line``; None at the top level."""
    parsed = _parse(path)
    node = _enclosing_function(parsed[0], line) if parsed is not None else None
    return (node.lineno, getattr(node, "end_lineno", None) or node.lineno) if node is not None else None


def call_argument(site: SourceLoc, index: int, keyword: str) -> ast.expr | None:
    """The argument expression of the call constructed at ``site``."""
    parsed = _parse(site.path)
    if parsed is None:
        return None
    tree, _ = parsed
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.lineno <= site.line <= (n.end_lineno or n.lineno)]
    # the call that starts where the frame was (two layers built on one line),
    # else the innermost call on that line
    calls.sort(
        key=lambda c: (
            not (c.lineno == site.line and c.col_offset + 1 == site.column),
            (c.end_lineno or c.lineno) - c.lineno,
            -c.col_offset,
        )
    )
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
    found = origins_of(site, expr)
    return found[-1] if found else None


def _registers(node, key: str) -> bool:
    """Is ``node`` ``self.register_buffer("name", ...)`` (or ``register_parameter``) for ``key``, ``self.name``?"""
    call = node.value if isinstance(node, ast.Expr) else None
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute) or not call.args:
        return False
    first = call.args[0]
    return (
        call.func.attr in ("register_buffer", "register_parameter")
        and ast.unparse(call.func.value) == "self"
        and isinstance(first, ast.Constant)
        and key == f"self.{first.value}"
    )


def origins_of(site: SourceLoc, expr: ast.expr) -> list[tuple[SourceLoc, str]]:
    """Every assignment of ``expr`` before ``site`` in the first scope of :func:`origin_of`'s
    that has one, in line order: ``beta = epoch / w`` then the cap ``beta = 1.0`` under an if."""
    parsed = _parse(site.path)
    if parsed is None:
        return []
    tree, text = parsed
    key = _target_key(expr)
    if key is None:
        return []
    func = _enclosing_function(tree, site.line)
    scopes = [(list(ast.walk(func)), site.line)] if func is not None else []
    owner = _enclosing_class(tree, site.line) if key.startswith("self.") else None
    if owner is not None:  # a method runs after __init__ whatever the lines say
        scopes.append(
            ([n for m in owner.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m is not func for n in ast.walk(m)], None)
        )
    scopes.append((_outside_definitions(tree), site.line))  # module level, its if/for/with blocks too
    for nodes, before in scopes:
        found = []
        for node in nodes:
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and (before is None or node.lineno < before):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(key in _target_keys(t) for t in targets):
                    found.append(node)
            elif _registers(node, key) and (before is None or node.lineno < before):
                found.append(node)  # self.register_buffer("beta", torch.tensor(4.0)): self.beta set
        if found:
            found.sort(key=lambda n: n.lineno)
            return [(SourceLoc(site.path, n.lineno, n.col_offset + 1), " ".join((segment_of(text, n) or "").split())) for n in found]
    return []


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
    return " ".join((segment_of(parsed[1], expr) or "").split()) if parsed else ""


def _function_at(loc: SourceLoc) -> tuple[ast.AST | None, str]:
    """The innermost function around ``loc``'s line, and its file's text."""
    parsed = _parse(loc.path)
    if parsed is None:
        return None, ""
    tree, text = parsed
    return _enclosing_function(tree, loc.line), text


def guarded_move(made: SourceLoc) -> tuple[int, str] | None:
    """(line, condition) of an ``if`` after ``made`` that moves the tensor assigned
    there (``eps = torch.zeros(n, Z)`` then ``if self.use_cuda: eps = eps.cuda()``);
    None when there is none. A simulated GPU cannot take such a branch when its
    condition is a flag the code set on this machine, before the model ran."""
    function, text = _function_at(made)
    if function is None:
        return None
    assigned = [
        n
        for n in ast.walk(function)
        if isinstance(n, ast.Assign)
        and n.lineno <= made.line <= (n.end_lineno or n.lineno)
        and len(n.targets) == 1
        and isinstance(n.targets[0], ast.Name)
    ]
    if not assigned:
        return None
    return move_after(function, text, assigned[0].targets[0].id, made.line)


def guarded_move_into(met: SourceLoc) -> tuple[int, str] | None:
    """``guarded_move`` for a tensor known only by the line where it met the model
    (``torch.Tensor([...])`` is made outside torch's functions): each name that line
    reads, from its last assignment before it."""
    function, text = _function_at(met)
    if function is None:
        return None
    statement = [n for n in ast.walk(function) if isinstance(n, ast.stmt) and n.lineno == met.line]
    if not statement:
        return None
    from vaelint.source.astutil import loads

    for name in sorted(loads(statement[0])):
        made = [
            n.lineno
            for n in ast.walk(function)
            if isinstance(n, ast.Assign)
            and n.lineno < met.line
            and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
            and not moves(n, name)
        ]
        if made:
            moved = move_after(function, text, name, max(made), before=met.line)
            if moved is not None:
                return moved
        moved = moved_where_made(function, text, _parse(met.path)[0], name, met.line)
        if moved is not None:
            return moved
    return None


def constructor_move(made: SourceLoc) -> tuple[str, int, str] | None:
    """(attribute, line, condition) where the tensor made at ``made`` comes from an attribute of
    the model (``self.N.sample(shape)``) that the class's constructor, or a setup method of the
    class, moves to the GPU under an ``if`` (``if torch.cuda.is_available(): self.N.loc =
    self.N.loc.cuda()``, a distribution object no ``.to(device)`` moves); None when there is none. The condition was settled on this machine
    when the model was built, which a simulated GPU cannot change."""
    function, text = _function_at(made)
    parsed = _parse(made.path)
    if function is None or parsed is None:
        return None
    tree = parsed[0]
    statement = [n for n in ast.walk(function) if isinstance(n, ast.stmt) and n.lineno <= made.line <= (n.end_lineno or n.lineno)]
    read = {
        a.attr
        for st in statement[-1:]
        for a in ast.walk(st)
        if isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.value.id == "self"
    }
    owner = next((c for c in ast.walk(tree) if isinstance(c, ast.ClassDef) and function in ast.walk(c)), None)
    # the constructor first, then a setup method it calls (MADE's set_mask(m): self.mask = m, then
    # ``if torch.cuda.is_available(): self.mask = self.mask.cuda()``)
    methods = sorted((f for f in owner.body if isinstance(f, ast.FunctionDef)), key=lambda f: f.name != "__init__") if owner else []
    for method, node in ((m, n) for m in methods for n in ast.walk(m)):
        if not isinstance(node, ast.If):
            continue
        made_from = _attributes_made_from(method, node, read)
        if made_from:
            return made_from, node.lineno, segment_of(text, node.test) or ast.unparse(node.test)
        for stmt in node.body:
            for call in (c for c in ast.walk(stmt) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)):
                if call.func.attr not in MOVE_METHODS:
                    continue
                moved = {
                    a.attr
                    for a in ast.walk(call.func.value)
                    if isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.value.id == "self"
                }
                if moved & read:
                    condition = segment_of(text, node.test) or ast.unparse(node.test)
                    return sorted(moved & read)[0], node.lineno, condition
    return None


def _attributes_made_from(init, branch: ast.If, read: set) -> str | None:
    """The first of ``read`` the constructor sets after ``branch`` from a name that branch moves to
    the GPU (``if torch.cuda.is_available(): mask = mask.cuda()`` then ``self.mask = Variable(mask)``:
    sylvester-flows' MADE layers keep their masks so); None where there is none."""
    moved = {
        stmt.targets[0].id
        for stmt in branch.body
        if isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and moves(stmt, stmt.targets[0].id)
    }
    for node in ast.walk(init):
        if not isinstance(node, ast.Assign) or node.lineno <= (branch.end_lineno or branch.lineno) or not moved:
            continue
        names = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        for t in node.targets:
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self" and t.attr in read and names & moved:
                return t.attr
    return None


def _divisors_at(path: str, line: int) -> list[ast.expr]:
    """What the code at ``line`` divides by (``a / d``, ``a /= d``)."""
    parsed = _parse(path)
    out = []
    for node in ast.walk(parsed[0]) if parsed is not None else ():
        right = node.right if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) else None
        if right is None and isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Div):
            right = node.value
        if right is not None and node.lineno <= line <= (node.end_lineno or node.lineno):
            out.append(right)
    return out


def divides_by_a_batch_size(path: str, line: int) -> str | None:
    """The ``x.size(0)`` / ``x.shape[0]`` the code at ``line`` divides by, as written; None where it
    divides by no dim 0 of a tensor. A run at another batch size that failed before the line leaves
    the divisor a number to the graph (the batch size the run had): the source says it follows the batch."""
    for d in _divisors_at(path, line):
        sized = isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "size" and len(d.args) == 1
        shaped = isinstance(d, ast.Subscript) and isinstance(d.value, ast.Attribute) and d.value.attr == "shape"
        zero = d.args[0] if sized else d.slice if shaped else None
        if isinstance(zero, ast.Constant) and zero.value == 0:
            return ast.unparse(d)
    return None


def divides_by_a_length(path: str, line: int) -> bool:
    """Does the code at ``line`` divide by the length of something (``loss / len(batch)``, ``/=
    len(xs)``)? A Python list's length follows the batch it counts, though the captured run sees
    a plain number: a batch of lists (a hand-made batcher's pairs of token lists) has no tensor
    to take ``x.size(0)`` from."""
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "len" for d in _divisors_at(path, line))


def handed_to(path: str, function: str, index: int, keyword: str) -> tuple[SourceLoc, str] | None:
    """Where the name the file's own call of ``function`` hands its parameter at ``index`` (or by
    ``keyword``) was assigned before that call, with the assignment's text; None where no call
    hands a name so assigned."""
    parsed = _parse(path)
    if parsed is None:
        return None
    for call in ast.walk(parsed[0]):
        if not isinstance(call, ast.Call) or getattr(call.func, "id", getattr(call.func, "attr", None)) != function:
            continue
        given = call.args[index] if index < len(call.args) else next((k.value for k in call.keywords if k.arg == keyword), None)
        if isinstance(given, ast.Name):
            found = origin_of(SourceLoc(path, call.lineno, call.col_offset + 1), given)
            if found is not None:
                return found
    return None


def module_assignment(path: str, name: str):
    """Where a file's top level last sets ``name`` (``beta = 4``), as a SourceLoc; None where it
    does not, or the file does not parse."""
    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return None
    found = None
    for stmt in tree.body:
        targets = (
            stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            found = SourceLoc(path, stmt.lineno, stmt.col_offset + 1)
    return found
