"""The user's expression behind a finding, as a concrete syntax tree (libcst:
formatting and comments stay as written), and the few questions a rule asks of
it to word an edit: which callee, which operand holds which graph argument,
which argument is which.

A finding's location spans the expression that made its node (Python's
instruction positions: vaelint/source/frames.py); ``expr_at`` finds the libcst node
with exactly that span.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from vaelint.fixes.edits import Edit


@lru_cache(maxsize=32)
def _parsed(path: str, text: str):
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    try:
        wrapper = MetadataWrapper(cst.parse_module(text))
    except Exception:  # noqa: BLE001 - a file libcst cannot read gets no edit
        return None
    return wrapper.module, wrapper.resolve(PositionProvider)


def _text_of(path: str) -> str | None:
    from vaelint.source.files import read_source

    if not path.endswith(".py"):
        return None  # a notebook's cells are not edited in place
    try:
        return read_source(path)
    except OSError:
        return None


def _char_column(text: str, line: int, byte_column: int) -> int:
    """Python's positions count UTF-8 bytes; libcst counts characters (0-based both)."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return byte_column
    return len(lines[line - 1].encode("utf-8")[:byte_column].decode("utf-8", "replace"))


@dataclass(frozen=True)
class Expr:
    """One expression of the user's source, with where it stands."""

    path: str
    node: object  # a libcst node
    module: object  # the libcst module it belongs to
    positions: object  # libcst's PositionProvider results for that module

    @property
    def text(self) -> str:
        return self.module.code_for_node(self.node)

    def code(self, node) -> str:
        return self.module.code_for_node(node)

    def replace(self, content: str, node=None) -> Edit:
        """An edit that writes ``content`` where ``node`` (default: this expression) stands."""
        r = self.positions[node if node is not None else self.node]
        return Edit(self.path, r.start.line, r.start.column + 1, r.end.line, r.end.column + 1, content)

    def insert_after(self, node, content: str) -> Edit:
        r = self.positions[node]
        return Edit(self.path, r.end.line, r.end.column + 1, r.end.line, r.end.column + 1, content)

    def _innermost_function(self):
        """The innermost ``FunctionDef`` around this expression, or None at module level."""
        import libcst as cst

        here = self.positions[self.node].start
        best, best_start = None, None
        for node, r in self.positions.items():
            if not isinstance(node, cst.FunctionDef):
                continue
            if (r.start.line, r.start.column) <= (here.line, here.column) < (r.end.line, r.end.column):
                if best_start is None or (r.start.line, r.start.column) > best_start:
                    best, best_start = node, (r.start.line, r.start.column)
        return best

    def enclosing_parameters(self) -> list[str]:
        """The parameter names of the innermost function around this expression, less
        ``self``/``cls`` (empty at module level and in a constructor) and less those the function
        reads as a container of tensors (``recon, q = outputs``, ``outputs[0]``): no ``.device``."""
        import libcst as cst

        best = self._innermost_function()
        if best is None or best.name.value == "__init__":
            return []  # a constructor's parameters configure it (sizes, flags): no tensor of the batch
        names = [p.name.value for p in (*best.params.posonly_params, *best.params.params)]
        containers: set[str] = set()

        class _Containers(cst.CSTVisitor):
            def visit_Assign(self, node: cst.Assign) -> None:
                unpacked = any(isinstance(t.target, (cst.Tuple, cst.List)) for t in node.targets)
                if unpacked and isinstance(node.value, cst.Name):
                    containers.add(node.value.value)

            def visit_Subscript(self, node: cst.Subscript) -> None:
                index = node.slice[0].slice if len(node.slice) == 1 else None
                if isinstance(node.value, cst.Name) and isinstance(getattr(index, "value", None), (cst.Integer, cst.SimpleString)):
                    containers.add(node.value.value)

        best.body.visit(_Containers())
        return [n for n in names if n not in ("self", "cls") and n not in containers]

    def names_in_function(self) -> set[str]:
        """The plain names read or bound in the innermost function around this expression (the
        whole module at its top level)."""
        import libcst as cst

        best = self._innermost_function() or self.module
        names: set[str] = set()

        class _Names(cst.CSTVisitor):
            def visit_Name(self, node: cst.Name) -> None:
                names.add(node.value)

        best.visit(_Names())
        return names

    def find(self, predicate) -> list:
        """The nodes inside this expression (itself included) that ``predicate`` accepts, outermost first."""
        out = []
        inner = self.positions[self.node]
        for node, r in self.positions.items():
            if (
                (inner.start.line, inner.start.column) <= (r.start.line, r.start.column)
                and (r.end.line, r.end.column) <= (inner.end.line, inner.end.column)
                and predicate(node)
            ):
                out.append((r.start.line, r.start.column, -r.end.line, -r.end.column, node))
        return [item[-1] for item in sorted(out, key=lambda item: item[:4])]

    # --- calls

    @property
    def is_call(self) -> bool:
        import libcst as cst

        return isinstance(self.node, cst.Call)

    def callee(self) -> str | None:
        """``torch.randn`` for ``torch.randn(...)``, ``randn`` for ``randn(...)``,
        ``.view`` for a method call ``h.view(...)`` (None: not a call of a name)."""
        if not self.is_call:
            return None
        return dotted_name(self.node.func)

    def receiver(self):
        """The object a method is called on (``h`` in ``h.view(...)``), as a libcst node."""
        import libcst as cst

        if self.is_call and isinstance(self.node.func, cst.Attribute):
            return self.node.func.value
        return None

    def positional(self) -> list:
        return [a.value for a in self.node.args if a.keyword is None and not a.star] if self.is_call else []

    def keyword(self, name: str):
        if not self.is_call:
            return None
        return next((a.value for a in self.node.args if a.keyword is not None and a.keyword.value == name), None)

    def operands(self) -> list:
        """The operands in the order a graph node takes its arguments: ``a * b`` ->
        [a, b]; ``a.mul(b)`` -> [a, b]; ``torch.mul(a, b)`` -> [a, b]."""
        import libcst as cst

        node = self.node
        if isinstance(node, cst.BinaryOperation):
            return [node.left, node.right]
        if isinstance(node, cst.Call):
            args = self.positional()
            if isinstance(node.func, cst.Attribute) and not _is_module_path(node.func.value):
                return [node.func.value, *args]
            return args
        return []


def dotted_name(node) -> str | None:
    import libcst as cst

    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        inner = dotted_name(node.value)
        return f"{inner}.{node.attr.value}" if inner is not None else f".{node.attr.value}"
    return None


# the modules a call's dotted name starts with when it is a function, not a method
_MODULES = ("torch", "F", "nn", "functional", "np")


def _is_module_path(node) -> bool:
    dotted = dotted_name(node)
    return dotted is not None and not dotted.startswith(".") and dotted.split(".")[0] in _MODULES


def module_prefix(callee: str | None) -> str:
    """``torch.`` for ``torch.randn``; empty for a bare ``randn``."""
    if not callee or "." not in callee or callee.startswith("."):
        return ""
    return callee.rsplit(".", 1)[0] + "."


def expr_at(loc) -> Expr | None:
    """The expression a finding's location spans exactly (None: no such one, a
    notebook, or a location without its end)."""
    if loc is None or loc.end_line is None or loc.end_column is None:
        return None
    text = _text_of(loc.path)
    if text is None:
        return None
    parsed = _parsed(loc.path, text)
    if parsed is None:
        return None
    module, positions = parsed
    start = (loc.line, _char_column(text, loc.line, loc.column - 1))
    end = (loc.end_line, _char_column(text, loc.end_line, loc.end_column - 1))
    found = None
    for node, r in positions.items():
        if (r.start.line, r.start.column) == start and (r.end.line, r.end.column) == end:
            # the outermost node of that span (a Call, not the Arg that wraps it)
            if found is None or _is_expression(node) and not _is_expression(found):
                found = node
    if found is None or not _is_expression(found):
        return None
    return Expr(loc.path, found, module, positions)


def _is_expression(node) -> bool:
    """An expression, or an augmented assignment (Python places ``x /= n``'s
    division at the whole statement)."""
    import libcst as cst

    return isinstance(node, (cst.BaseExpression, cst.AugAssign))


def is_plain_reference(expr: Expr, node) -> bool:
    """A name or an attribute chain (``std``, ``self.std``): cheap and safe to
    read twice, and in scope wherever its expression was."""
    return dotted_name(node) is not None and not (dotted_name(node) or "").startswith(".")


def operand_for(ctx, node, arg) -> tuple[Expr, object] | None:
    """The source expression of ``node`` and the operand of it that holds the graph
    argument ``arg`` (None when the source does not line up with the graph)."""
    from vaelint.facts.context import loc_of

    expr = expr_at(loc_of(node))
    if expr is None:
        return None
    operands = expr.operands()
    args = [a for a in node.args]
    if len(operands) != len(args):
        return None
    for i, a in enumerate(args):
        if a is arg:
            return expr, operands[i]
    return None
